"""Per-step cost of weighting: WeightedModel vs plain Keras `fit`.

Variants, interleaved (A B C A B C ...) and repeated, on the seed 004 MLP
(784-64-64-10) with random data:

- `keras_unweighted`: `keras.Model.fit` with no weights (the limit);
- `keras_sample_weight`: `keras.Model.fit(sample_weight=...)` with the
  per-sample class weights precomputed by the user;
- `keras_class_weight`: `keras.Model.fit(class_weight=...)`;
- `weighted_class_weight`: `WeightedModel.fit(class_weight=...)`.

Each repeat times `epochs` epochs of `fit` after a warm-up fit (so tracing is
excluded) and reports ms per step; the summary gives min/median/max and the
median ratio to the unweighted step. Results: JSON and markdown under
`benchmarks/results/`.

Run: python benchmarks/step_overhead.py [--quick]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import weighted_models  # noqa: E402
from weighted_models import WeightedModel  # noqa: E402
from weighted_models.benchmarking import save_results  # noqa: E402

VARIANTS = ["keras_unweighted", "keras_sample_weight", "keras_class_weight", "weighted_class_weight"]


def build(cls):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((784,))
    h = keras.layers.Dense(64, activation="relu")(inputs)
    h = keras.layers.Dense(64, activation="relu")(h)
    model = cls(inputs, keras.layers.Dense(10, activation="softmax")(h))
    model.compile("rmsprop", "sparse_categorical_crossentropy", jit_compile=False)
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples and repeats")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = parser.parse_args(argv)
    n, repeats, epochs, batch = (8192, 3, 1, 64) if args.quick else (32768, 7, 2, 64)

    rng = np.random.default_rng(0)
    x = rng.random((n, 784), dtype="float32")
    y = rng.integers(0, 10, size=n)
    class_weight = {c: 1.0 + c for c in range(10)}
    table = np.array([class_weight[c] for c in range(10)], "float32")
    models = {
        v: build(WeightedModel if v.startswith("weighted") else keras.Model) for v in VARIANTS
    }

    def run(variant):
        model = models[variant]
        kwargs = dict(batch_size=batch, epochs=epochs, verbose=0, shuffle=False)
        if variant == "keras_sample_weight":
            kwargs["sample_weight"] = table[y]
        elif variant.endswith("class_weight"):
            kwargs["class_weight"] = class_weight
        start = time.perf_counter()
        model.fit(x, y, **kwargs)
        return time.perf_counter() - start

    for variant in VARIANTS:  # warm-up: tracing and first-epoch costs
        run(variant)
    steps = epochs * int(np.ceil(n / batch))
    times = {v: [] for v in VARIANTS}
    for _ in range(repeats):
        for variant in VARIANTS:
            times[variant].append(1e3 * run(variant) / steps)

    base = np.median(times["keras_unweighted"])
    summary = {
        v: {
            "ms_per_step_min": float(np.min(t)),
            "ms_per_step_median": float(np.median(t)),
            "ms_per_step_max": float(np.max(t)),
            "median_ratio_to_unweighted": float(np.median(t) / base),
        }
        for v, t in times.items()
    }
    record = {
        "benchmark": "step_overhead",
        "settings": dict(samples=n, batch_size=batch, epochs=epochs, repeats=repeats, quick=args.quick),
        "versions": dict(keras=keras.__version__, tensorflow=tf.__version__,
                         numpy=np.__version__, weighted_models=weighted_models.__version__,
                         backend=keras.backend.backend()),
        "results": summary,
        "raw_ms_per_step": times,
    }
    lines = [
        "| variant | min ms/step | median ms/step | max ms/step | median / unweighted |",
        "|---|---|---|---|---|",
    ] + [
        f"| {v} | {s['ms_per_step_min']:.3f} | {s['ms_per_step_median']:.3f} | "
        f"{s['ms_per_step_max']:.3f} | {s['median_ratio_to_unweighted']:.3f} |"
        for v, s in summary.items()
    ]
    table_md = "\n".join(lines)
    print(table_md)
    stem = save_results(record, table=table_md, title="Step overhead, seed 004 MLP", out=args.out,
                        quick=args.quick)
    print(f"wrote {stem}.json and {stem}.md")


if __name__ == "__main__":
    main()
