"""The `weighted-models` command: `demo` and `bench`."""

import argparse
import importlib
import importlib.util
import os
import sys

BENCHMARKS = ("throughput", "input_pipeline", "startup_memory", "label_counting", "quality")
PLOTTING = ("throughput", "quality")  # these draw PNGs with matplotlib


def main(argv=None):
    """Runs `weighted-models demo|bench`; returns the exit status."""
    parser = argparse.ArgumentParser(prog="weighted-models", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="long-tailed digits: plain Keras vs WeightedModel with balanced class weights")
    demo.add_argument("--ratio", type=float, default=100, help="imbalance ratio (default 100)")
    demo.add_argument("--seeds", type=int, default=3, help="seeds to average over (default 3)")
    demo.add_argument("--epochs", type=int, default=60, help="training epochs (default 60)")
    demo.add_argument("--out", default="demo_output", help="folder for the PNG and JSON")
    demo.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help="0: the report only; 1: one progress bar (default); 2: Keras's logs for seed 0",
    )
    bench = commands.add_parser(
        "bench",
        help="benchmarks (quick unless --full); `bench NAME --help` lists one benchmark's options",
        description="Runs the benchmarks, quick unless --full. With one NAME, the options after it "
        "go to that benchmark (see `weighted-models bench NAME --help`).",
    )
    bench.add_argument("name", nargs="?", choices=BENCHMARKS, help="one benchmark (default: all)")
    bench.add_argument("--full", action="store_true", help="the full runs (much longer)")
    argv = list(sys.argv[1:] if argv is None else argv)
    # What follows a benchmark's name is that benchmark's own options.
    split = next((i + 1 for i, arg in enumerate(argv) if arg in BENCHMARKS), len(argv))
    args = parser.parse_args(argv[:split])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.command == "bench":
        names = [args.name] if args.name else BENCHMARKS
        return run_benchmarks(names, full=args.full, options=argv[split:])
    from weighted_models.demo import run_demo

    run_demo(ratio=args.ratio, seeds=args.seeds, epochs=args.epochs, out_dir=args.out, verbose=args.verbose)
    return 0


def run_benchmarks(names, *, full=False, options=()):
    """Runs the named benchmarks (shipped in the package), quick unless `full`.

    Args:
        names: benchmark names from `BENCHMARKS`.
        full: the full runs instead of `--quick`.
        options: more command-line options for the benchmark (one name only).

    Returns:
        0, the exit status.
    """
    plotting = [name for name in names if name in PLOTTING]
    if plotting and importlib.util.find_spec("matplotlib") is None:
        from weighted_models.demo import MATPLOTLIB_NEEDED

        raise SystemExit(f"weighted-models bench {' and '.join(plotting)}: {MATPLOTLIB_NEEDED}")
    for name in names:
        print(f"\n== {name} ==")
        module = importlib.import_module(f"weighted_models._benchmarks.{name}")
        module.main(([] if full else ["--quick"]) + list(options))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
