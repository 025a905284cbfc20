"""How fast class-weight strategies count labels: one vectorised streaming pass.

Counts 10 million sparse labels (one array, and a stream of 100 batches),
1 million one-hot labels of 10 classes, 10 million multi-hot entries
(1 million samples x 10 labels), and a tf.data pipeline of 10 million labels,
then computes the balanced table. Reports min/median/max seconds over repeats.

Run: weighted-models bench label_counting [--quick]
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from weighted_models import compute_class_weight  # noqa: E402
from weighted_models._benchmarks.records import benchmark_parser, save_results, versions  # noqa: E402


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"min_s": min(times), "median_s": float(np.median(times)), "max_s": max(times)}


def main(argv=None):
    parser = benchmark_parser(__name__, __doc__, quick_help="one million labels, fewer repeats")
    args = parser.parse_args(argv)
    n = 1_000_000 if args.quick else 10_000_000
    repeats = 3 if args.quick else 5
    rng = np.random.default_rng(0)
    sparse = rng.integers(0, 100, size=n).astype("int32")
    onehot = np.eye(10, dtype="float32")[rng.integers(0, 10, size=n // 10)]
    multihot = (rng.random((n // 10, 10)) < 0.2).astype("float32")
    batches = np.array_split(sparse, 100)

    import tensorflow as tf

    # Batched rows: `from_tensor_slices(labels).batch(...)` would time tf.data's
    # per-element slicing (about 1 s per million elements), not the counting.
    dataset = tf.data.Dataset.from_tensor_slices(sparse.reshape(100, -1))
    cases = {
        f"sparse array, {n:,} labels, 100 classes": lambda: compute_class_weight("balanced", sparse),
        f"sparse stream, {n:,} labels in 100 batches": lambda: compute_class_weight("balanced", iter(batches)),
        f"one-hot array, {n // 10:,} x 10": lambda: compute_class_weight("balanced", onehot, label_mode="categorical"),
        f"multi-hot array, {n // 10:,} x 10 labels": lambda: compute_class_weight("balanced", multihot, label_mode="multilabel"),
        f"tf.data, {n:,} labels in 100 batches": lambda: compute_class_weight("balanced", dataset),
    }
    results = {name: timed(fn, repeats) for name, fn in cases.items()}
    lines = ["| case | min s | median s | max s |", "|---|---|---|---|"] + [
        f"| {name} | {r['min_s']:.3f} | {r['median_s']:.3f} | {r['max_s']:.3f} |" for name, r in results.items()
    ]
    table = "\n".join(lines)
    print(table)
    record = {
        "benchmark": "label_counting",
        "settings": {"labels": n, "repeats": repeats, "quick": args.quick},
        "versions": {**versions(), "tensorflow": tf.__version__},  # tf.data is timed too
        "results": results,
    }
    stem = save_results(record, table=table, title="Label counting for class-weight strategies", out=args.out, quick=args.quick)
    print(f"wrote {stem}.json and {stem}.md")


if __name__ == "__main__":
    main()
