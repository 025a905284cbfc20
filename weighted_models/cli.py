"""The `weighted-models` command."""

import argparse
import os


def main(argv=None):
    parser = argparse.ArgumentParser(prog="weighted-models", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="long-tailed digits: plain Keras vs WeightedModel with balanced class weights"
    )
    demo.add_argument("--ratio", type=float, default=100, help="imbalance ratio (default 100)")
    demo.add_argument("--seeds", type=int, default=3, help="seeds to average over (default 3)")
    demo.add_argument("--epochs", type=int, default=60, help="training epochs (default 60)")
    demo.add_argument("--out", default="demo_output", help="folder for the PNG and JSON")
    demo.add_argument("--verbose", type=int, default=2, help="Keras verbosity for seed 0 (0, 1, 2)")
    bench = commands.add_parser(
        "bench",
        help="benchmarks: throughput and scaling, start-up and memory, label counting, quality "
             "(quick unless --full)",
    )
    bench.add_argument("--full", action="store_true", help="the full runs (much longer)")
    bench.add_argument("--out", default=None, help="folder for the results (default benchmarks/results)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.command == "bench":
        return run_benchmarks(full=args.full, out=args.out)
    if args.command == "demo":
        from weighted_models.demo import run_demo

        run_demo(ratio=args.ratio, seeds=args.seeds, epochs=args.epochs,
                 out_dir=args.out, verbose=args.verbose)
    return 0


BENCHMARKS = ("throughput", "startup_memory", "label_counting", "quality")


def run_benchmarks(*, full=False, out=None):
    """Runs the scripts under benchmarks/ (a source checkout is needed)."""
    import importlib.util
    import pathlib

    folder = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
    if not folder.is_dir():
        raise SystemExit(f"The benchmarks live in a source checkout; {folder} does not exist.")
    for name in BENCHMARKS:
        print(f"\n== {name} ==")
        spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        argv = ([] if full else ["--quick"]) + ([] if out is None else ["--out", out])
        module.main(argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
