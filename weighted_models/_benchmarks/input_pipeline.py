"""Input pipelines: what WeightedModel's batch checks cost on tf.data and PyDataset.

Two parts, each interleaving its variants round by round and repeating them:

**Pipeline alone** (batches per second, no model): MNIST-shaped data (60 000 x
784 float32, 10 classes, per-sample weights) as a batched `(x, y, w)`
`tf.data.Dataset`, iterated

- `plain`: as the user built it. This is also the pipeline `fit` iterates
  on TensorFlow without XLA (the check runs as graph ops in the step) and on
  JAX and PyTorch (the check runs on the NumPy batch Keras converts anyway);
- `checked_map`: with the check as graph ops in a map, the pipeline `fit`
  iterates on TensorFlow with `jit_compile=True` (XLA drops failures inside
  the step; the exact function `fit` uses);
- `identity_map`: a map computing `y + 0`, for reference: the cost of any
  map stage in tf.data on this machine, the floor for a check in the pipeline;
- `host_check`: the previous check, a `tf.numpy_function` running the NumPy
  checker per batch (what the graph check replaced).

It is iterated twice: from Python (`for batch in dataset`, as Keras's JAX and
PyTorch trainers read `tf.data`) and inside a `tf.function` (as Keras's
TensorFlow trainer does, no Python per batch).

**End to end** (seconds per epoch of `fit`): an MNIST-sized MLP (784-64-64-10),
batch 64, one epoch per fit after a traced warm-up, `keras.Model.fit` vs
`WeightedModel.fit` on the same data:

- `tf_data`: a `(x, y)` dataset, unweighted;
- `tf_data_sample_weight`: a `(x, y, w)` dataset (3-tuples, as when sample weights travel with the data:
  `shuffle(1024).batch(64)`, as every tf.data source here);
- `tf_data_sample_weight_unchecked`: the same, WeightedModel compiled with
  `batch_checks=False` (the per-batch check's cost, by difference);
- `tf_data_sample_weight_xla` (TensorFlow only): the same with
  `jit_compile=True` for both models, where the check runs just ahead of the
  XLA-compiled step;
- `tf_data_class_weight`: a `(x, y)` dataset with `class_weight=` (Keras adds
  a map to the pipeline; WeightedModel looks the weights up in the step);
- `pydataset`: a `keras.utils.PyDataset` of `(x, y, w)` batches.

An epoch's time runs from `on_epoch_begin` to `on_epoch_end`; per-fit set-up
(adapters, the symbolic probe) is measured by `startup_memory.py`, not here.
The figure per pair is the median over rounds of the paired ratio
WeightedModel / Keras (or checked / plain); `keras_repeat`, a second identical
`keras.Model`, gives the A/A ratio: what noise alone does.

Backend-neutral for the end-to-end part: run with `KERAS_BACKEND=jax` or
`torch`; the pipeline-alone part always uses TensorFlow's tf.data.

Run: weighted-models bench input_pipeline [--quick] [--part alone|end_to_end|all]
"""

import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from weighted_models import WeightedModel  # noqa: E402
from weighted_models._benchmarks.records import benchmark_parser, save_results, summarize, versions  # noqa: E402
from weighted_models.compile_loss import Route  # noqa: E402
from weighted_models.data import LabelChecker, checked_dataset  # noqa: E402
from weighted_models.outputs import OutputSpec  # noqa: E402

BATCH = 64
CLASSES = 10


def mnist_like_data(n, seed=0):
    """MNIST-shaped data: x (n, 784) float32, labels 0-9, per-sample weights."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 784)).astype("float32")
    y = rng.integers(0, CLASSES, size=n).astype("int64")
    w = (0.5 + rng.random(n)).astype("float32")
    return x, y, w


def checker():
    """The checker `fit` builds for a one-output sparse 10-class model."""
    return LabelChecker([OutputSpec("out", "sparse", CLASSES, 2, None)], [Route(0, 0, 0)])


def host_checked(dataset, check):
    """The previous check: the NumPy checker per batch via `tf.numpy_function`."""

    def run(y, w):
        check(y, w)
        return True

    @tf.autograph.experimental.do_not_convert
    def mapped(x, y, w):
        ok = tf.numpy_function(run, [y, w], tf.bool)
        with tf.control_dependencies([ok]):
            return x, tf.identity(y), w

    return dataset.map(mapped)


@tf.autograph.experimental.do_not_convert
def _plus_zero(x, y, w):
    return x, y + 0, w


def iterate_in_python(dataset):
    start, count = time.perf_counter(), 0
    for _ in dataset:
        count += 1
    return count / (time.perf_counter() - start)


@tf.function
def _count(dataset):
    return dataset.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1)


def iterate_in_graph(dataset):
    start = time.perf_counter()
    count = int(_count(dataset))
    return count / (time.perf_counter() - start)


def pipeline_alone(n, rounds):
    """Batches per second of each pipeline variant, by consumer."""
    x, y, w = mnist_like_data(n)
    plain = tf.data.Dataset.from_tensor_slices((x, y, w)).batch(BATCH)
    variants = {
        "plain": plain,
        "checked_map": checked_dataset(plain, checker()),
        "identity_map": plain.map(_plus_zero),
        "host_check": host_checked(plain, checker()),
    }
    results = {}
    for consumer in (iterate_in_python, iterate_in_graph):
        for dataset in variants.values():
            consumer(dataset)  # warm-up: tracing, first allocation
        rates = {name: [] for name in variants}
        names = list(variants)
        for r in range(rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                rates[name].append(consumer(variants[name]))
        results[consumer.__name__] = summarize(rates, "plain") | {"batches_per_second": rates}
        print(
            f"{consumer.__name__}: "
            + ", ".join(
                f"{v} {statistics.median(rates[v]):.0f}/s ({results[consumer.__name__][v]['median_ratio']:.3f})" for v in variants
            ),
            flush=True,
        )
    return results


def build(cls, jit_compile="auto", **weighting):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((784,))
    h = keras.layers.Dense(64, activation="relu")(inputs)
    h = keras.layers.Dense(64, activation="relu")(h)
    model = cls(inputs, keras.layers.Dense(CLASSES, activation="softmax")(h))
    model.compile("rmsprop", "sparse_categorical_crossentropy", jit_compile=jit_compile, **weighting)
    return model


class _Batches(keras.utils.PyDataset):
    def __init__(self, x, y, w):
        super().__init__()
        self.x, self.y, self.w = x, y, w

    def __len__(self):
        return -(-len(self.x) // BATCH)

    def __getitem__(self, i):
        s = slice(i * BATCH, (i + 1) * BATCH)
        return self.x[s], self.y[s], self.w[s]


class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


def end_to_end(n, rounds):
    """Seconds per epoch of keras.Model.fit and WeightedModel.fit per data source."""
    x, y, w = mnist_like_data(n)
    xy = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1024, seed=0).batch(BATCH)
    xyw = tf.data.Dataset.from_tensor_slices((x, y, w)).shuffle(1024, seed=0).batch(BATCH)
    class_weight = {c: 1.0 + c / CLASSES for c in range(CLASSES)}
    sources = {
        "tf_data": (xy, {}, "auto", {}),
        "tf_data_sample_weight": (xyw, {}, "auto", {}),
        # compile(batch_checks=False): what the per-batch check costs, by difference.
        "tf_data_sample_weight_unchecked": (xyw, {}, "auto", {"batch_checks": False}),
        "tf_data_class_weight": (xy, {"class_weight": class_weight}, "auto", {}),
        "pydataset": (_Batches(x, y, w), {}, "auto", {}),
    }
    if keras.backend.backend() == "tensorflow":
        sources["tf_data_sample_weight_xla"] = (xyw, {}, True, {})
    results = {}
    for source, (data, kwargs, jit_compile, weighting) in sources.items():
        models = {
            "keras": build(keras.Model, jit_compile),
            "keras_repeat": build(keras.Model, jit_compile),  # A/A: the noise floor
            "weighted_model": build(WeightedModel, jit_compile, **weighting),
        }

        def run(kind, models=models, data=data, kwargs=kwargs):
            timer = EpochTimer()
            models[kind].fit(data, epochs=1, verbose=0, shuffle=False, callbacks=[timer], **kwargs)
            return timer.seconds

        for kind in models:
            run(kind)  # warm-up: tracing
        seconds = {kind: [] for kind in models}
        kinds = list(models)
        for r in range(rounds):
            for kind in kinds[r % len(kinds) :] + kinds[: r % len(kinds)]:
                seconds[kind].append(run(kind))
        results[source] = summarize(seconds, "keras") | {"seconds_per_epoch": seconds}
        print(
            f"{source}: keras {statistics.median(seconds['keras']):.3f} s, weighted_model "
            f"{statistics.median(seconds['weighted_model']):.3f} s, paired ratio "
            f"{results[source]['weighted_model']['median_ratio']:.3f} (A/A "
            f"{results[source]['keras_repeat']['median_ratio']:.3f})",
            flush=True,
        )
    return results


def _tables(alone, e2e):
    lines = []
    if alone:
        lines += [
            "## Pipeline alone (batches per second; ratio to plain)",
            "",
            "| consumer | variant | median batches/s | median paired ratio to plain |",
            "|---|---|---|---|",
        ]
        for consumer, summary in alone.items():
            for variant in ("plain", "checked_map", "identity_map", "host_check"):
                rate = statistics.median(summary["batches_per_second"][variant])
                lines.append(f"| {consumer} | {variant} | {rate:.0f} | {summary[variant]['median_ratio']:.3f} |")
        lines.append("")
    if e2e:
        lines += [
            "## End to end (seconds per epoch; WeightedModel / keras.Model)",
            "",
            "| source | keras.Model s/epoch | WeightedModel s/epoch | median paired ratio | A/A: a second keras.Model (noise) |",
            "|---|---|---|---|---|",
        ]
        for source, summary in e2e.items():
            lines.append(
                f"| {source} | {summary['keras']['median']:.3f} | "
                f"{summary['weighted_model']['median']:.3f} | "
                f"{summary['weighted_model']['median_ratio']:.3f} | "
                f"{summary['keras_repeat']['median_ratio']:.3f} |"
            )
    return "\n".join(lines)


def main(argv=None):
    parser = benchmark_parser(__name__, __doc__, quick_help="fewer samples and rounds", rounds=True)
    parser.add_argument("--part", choices=("alone", "end_to_end", "all"), default="all")
    args = parser.parse_args(argv)
    n, rounds = (12_800, 3) if args.quick else (60_000, 7)
    rounds = args.rounds or rounds
    alone = pipeline_alone(n, rounds) if args.part in ("alone", "all") else None
    e2e = end_to_end(n, rounds) if args.part in ("end_to_end", "all") else None
    table = _tables(alone, e2e)
    print(table)
    backend = keras.backend.backend()
    record = {
        "benchmark": f"input_pipeline_{backend}",
        "settings": dict(
            samples=n, batch_size=BATCH, rounds=rounds, quick=args.quick, part=args.part, model="784-64-64-10 MLP, rmsprop"
        ),
        "versions": versions(),
        "results": {"pipeline_alone": alone, "end_to_end": e2e},
    }
    stem = save_results(
        record,
        table=table,
        out=args.out,
        quick=args.quick,
        title=f"Input pipelines ({backend}): checked vs plain, WeightedModel vs keras.Model",
    )
    print(f"wrote {stem}.json and {stem}.md")


if __name__ == "__main__":
    main()
