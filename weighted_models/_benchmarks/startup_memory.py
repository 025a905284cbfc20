"""Start-up cost and peak memory of weighting, per variant, in fresh processes.

Start-up: the seconds `fit` takes to run its first step (one epoch of one
step, traced beforehand on a small slice) when the labels are many, so what
`fit` does with all of them before training (Keras's `class_weight` builds a
per-sample weight array; WeightedModel checks the labels, and with
`"balanced"` counts them) shows. The user's own work is counted too: for
`keras_sample_weight`, looking the weights up (`table[y]`).

Peak memory: how far the process's peak resident memory grows during the timed
fits (`ru_maxrss`, a high-water mark, so each variant runs in a
process of its own). Cases:

- `class_weights`: N labels of 10 classes (N = 1 M and 10 M), a 4-feature
  softmax regression; variants `keras_unweighted`, `keras_class_weight`,
  `keras_sample_weight`, `weighted_model` (a dict) and
  `weighted_model_balanced` (the `"balanced"` strategy, counted at `fit`).
- `temporal`: a tagger over T = 100 timesteps with per-timestep class
  weights; built-in Keras needs an (N, T) sample-weight array
  (`keras_sample_weight`); `weighted_model` needs none.

Run: weighted-models bench startup_memory [--quick]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

from weighted_models._benchmarks.records import benchmark_parser, save_results, versions

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CLASSES = 10
BATCH = 1024
CASE_VARIANTS = {
    "class_weights": (
        "keras_unweighted",
        "keras_class_weight",
        "keras_sample_weight",
        "weighted_model",
        "weighted_model_balanced",
    ),
    "temporal": ("keras_unweighted", "keras_sample_weight", "weighted_model"),
}


def _peak_rss_mb():
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes / KiB


def child(case, variant, n, timesteps, repeats):
    """Runs in its own process: builds the data, times `fit`, prints a JSON line."""
    import keras
    import numpy as np

    from weighted_models import WeightedModel

    rng = np.random.default_rng(0)
    label_shape = (n, timesteps) if case == "temporal" else (n,)
    x = rng.normal(size=(*label_shape, 4)).astype("float32")
    y = rng.integers(0, CLASSES, size=label_shape).astype("int32")
    table = (1.0 + np.arange(CLASSES) / CLASSES).astype("float32")
    class_weight = dict(enumerate(table.tolist()))

    keras.utils.set_random_seed(0)
    inputs = keras.Input(x.shape[1:])
    outputs = keras.layers.Dense(CLASSES, activation="softmax")(inputs)
    model = (WeightedModel if variant.startswith("weighted") else keras.Model)(inputs, outputs)
    model.compile("sgd", "sparse_categorical_crossentropy")

    def kwargs_for(labels):
        if variant == "keras_class_weight":
            return {"class_weight": class_weight}
        if variant == "keras_sample_weight":
            return {"sample_weight": table[labels]}  # the user's lookup, (N,) or (N, T)
        if variant == "weighted_model":
            return {"class_weight": class_weight}
        if variant == "weighted_model_balanced":
            return {"class_weight": "balanced"}
        return {}

    def fit(x_, y_):
        model.fit(x_, y_, batch_size=BATCH, epochs=1, steps_per_epoch=1, shuffle=False, verbose=0, **kwargs_for(y_))

    fit(x[:BATCH], y[:BATCH])  # tracing
    rss_before = _peak_rss_mb()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fit(x, y)
        seconds.append(time.perf_counter() - start)
    # The peak is a high-water mark: later repeats reuse what the first freed.
    peak_growth = _peak_rss_mb() - rss_before
    print(json.dumps({"seconds": seconds, "peak_rss_growth_mb": peak_growth, "data_mb": (x.nbytes + y.nbytes) / 2**20}))


def measure(case, variant, n, timesteps, repeats):
    command = [
        sys.executable,
        "-m",
        "weighted_models._benchmarks.startup_memory",
        "--child",
        case,
        variant,
        str(n),
        str(timesteps),
        str(repeats),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{case}/{variant} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = benchmark_parser(__name__, __doc__, quick_help="1 M labels only, fewer repeats")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        case, variant, n, timesteps, repeats = args.child
        return child(case, variant, int(n), int(timesteps), int(repeats))

    import numpy as np

    repeats = 2 if args.quick else 5
    runs = [("class_weights", n, 0) for n in ((1_000_000,) if args.quick else (1_000_000, 10_000_000))]
    runs.append(("temporal", 20_000 if args.quick else 100_000, 100))
    results, lines = (
        [],
        [
            "| case | labels | variant | start-up s (median) | vs unweighted | peak memory growth MiB |",
            "|---|---|---|---|---|---|",
        ],
    )
    for case, n, timesteps in runs:
        labels = n * max(timesteps, 1)
        rows = {}
        for variant in CASE_VARIANTS[case]:
            rows[variant] = measure(case, variant, n, timesteps, repeats)
        base = float(np.median(rows["keras_unweighted"]["seconds"]))
        for variant, row in rows.items():
            median = float(np.median(row["seconds"]))
            results.append(
                {
                    "case": case,
                    "samples": n,
                    "timesteps": timesteps,
                    "labels": labels,
                    "variant": variant,
                    "seconds_median": median,
                    "seconds_extra_over_unweighted": median - base,
                    **row,
                }
            )
            lines.append(
                f"| {case} | {labels:,} | {variant} | {median:.3f} | {median - base:+.3f} s | {row['peak_rss_growth_mb']:.0f} |"
            )
            print(lines[-1], flush=True)
    table = "\n".join(lines)
    settings = dict(
        batch_size=BATCH,
        classes=CLASSES,
        repeats=repeats,
        quick=args.quick,
        timed="fit(epochs=1, steps_per_epoch=1) after a traced warm-up fit",
    )
    record = {"benchmark": "startup_memory", "settings": settings, "versions": versions(), "results": results}
    stem = save_results(record, table=table, out=args.out, quick=args.quick, title="Start-up cost and peak memory growth of fit")
    print(f"wrote {stem}.json and {stem}.md")


if __name__ == "__main__":
    main()
