"""Per-step cost of weighting across model kinds, and how it grows.

For each scenario, these variants train the same model from the same initial
weights on the same data (one epoch of `fit`, traced beforehand), interleaved
round by round (A B C D E F, B C D E F A, ...) and repeated. A step's time is
the median time from one batch end to the next within a fit:

- `keras_unweighted`: `keras.Model.fit` without weights, the limit;
- `keras_unweighted_repeat`: the same again, a second identical model: its
  ratio to the first is the noise floor of the measurement (an A/A test);
- `keras_class_weight`: `keras.Model.fit(class_weight=...)`, where Keras can
  express it (one output, one label per sample);
- `keras_sample_weight`: `keras.Model.fit(sample_weight=...)` with the
  per-sample (or per-timestep) class weights precomputed by the user;
- `handwritten_loss`: the usual hand-written workaround, a `keras.Model` whose loss
  closes over the class-weight table and multiplies it in;
- `weighted_model`: `WeightedModel` with `class_weight` in `compile`.

Matrix scenarios: an MNIST-sized MLP (784-64-64-10), a Conv1D
4-class model, a temporal tagger (T = 100), two and eight output heads, and
1000 classes with one-hot labels. Scaling sweeps: outputs (1-16 heads),
classes (10-10000) and timesteps (1-1000), plotted as the median paired ratio
to the unweighted step.

Backend-neutral: run with `KERAS_BACKEND=jax` or `torch` on a GPU machine; the
device, backend and versions are recorded with each result.

Run: weighted-models bench throughput [--quick] [--part matrix|scaling|all] [--only NAMES]
"""

import dataclasses
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers, ops  # noqa: E402

from weighted_models import WeightedModel  # noqa: E402
from weighted_models._benchmarks.records import accelerator, benchmark_parser, save_results, summarize, versions  # noqa: E402

VARIANTS = (
    "keras_unweighted",
    "keras_unweighted_repeat",
    "keras_class_weight",
    "keras_sample_weight",
    "handwritten_loss",
    "weighted_model",
)
BASELINE = "keras_unweighted"


@dataclasses.dataclass
class Scenario:
    """A model graph and its data; `heads` outputs, each with `classes` classes."""

    name: str
    input_shape: tuple
    trunk: callable  # inputs -> features
    classes: int = 10
    heads: int = 1
    timesteps: int = 0  # 0: one label per sample
    one_hot: bool = False

    @property
    def table(self):
        """The class-weight table: weight 1 + c / classes for class c."""
        return (1.0 + np.arange(self.classes) / self.classes).astype("float32")

    def class_weight(self):
        """WeightedModel's `class_weight`: the table as a dict, per output."""
        table = dict(enumerate(self.table.tolist()))
        return table if self.heads == 1 else [table] * self.heads

    def expressible(self, variant):
        if variant == "keras_class_weight":  # Keras: one output, no timesteps
            return self.heads == 1 and not self.timesteps
        return True

    def data(self, n, seed=0):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(n, *self.input_shape)).astype("float32")
        shape = (n, self.timesteps) if self.timesteps else (n,)
        labels = [rng.integers(0, self.classes, size=shape) for _ in range(self.heads)]
        if self.one_hot:
            ys = [np.eye(self.classes, dtype="float32")[y] for y in labels]
        else:
            ys = [y.astype("int32") for y in labels]
        weights = [self.table[y] for y in labels]  # what the user precomputes for Keras
        single = self.heads == 1
        return x, ys[0] if single else ys, weights[0] if single else weights

    def build(self, variant):
        keras.utils.set_random_seed(0)
        inputs = keras.Input(self.input_shape)
        features = self.trunk(inputs)
        outputs = [layers.Dense(self.classes, activation="softmax", name=f"head{i}")(features) for i in range(self.heads)]
        cls = WeightedModel if variant == "weighted_model" else keras.Model
        model = cls(inputs, outputs[0] if self.heads == 1 else outputs)
        loss = "categorical_crossentropy" if self.one_hot else "sparse_categorical_crossentropy"
        if variant == "handwritten_loss":
            loss = weighted_crossentropy(self.table, self.one_hot)
        losses = loss if self.heads == 1 else [loss] * self.heads
        kwargs = {"class_weight": self.class_weight()} if variant == "weighted_model" else {}
        model.compile("rmsprop", losses, **kwargs)
        return model

    def fit_kwargs(self, variant, weights):
        if variant == "keras_class_weight":
            return {"class_weight": dict(enumerate(self.table.tolist()))}
        if variant == "keras_sample_weight":
            return {"sample_weight": weights}
        return {}


def weighted_crossentropy(table, one_hot):
    """The usual hand-written workaround: a loss closing over the class-weight table."""
    table = ops.convert_to_tensor(table)

    def loss(y_true, y_pred):
        if one_hot:
            weight = ops.sum(y_true * table, axis=-1)
            return weight * keras.losses.categorical_crossentropy(y_true, y_pred)
        y = ops.cast(y_true, "int32")
        if len(y.shape) == len(y_pred.shape):
            y = ops.squeeze(y, axis=-1)
        return ops.take(table, y) * keras.losses.sparse_categorical_crossentropy(y, y_pred)

    return loss


def _mlp(inputs):
    h = layers.Dense(64, activation="relu")(inputs)
    return layers.Dense(64, activation="relu")(h)


def _conv1d(inputs):
    h = layers.Conv1D(64, 5, activation="relu")(inputs)
    h = layers.BatchNormalization()(h)
    h = layers.Conv1D(64, 3, activation="relu")(h)
    h = layers.Dropout(0.5)(h)
    return layers.Flatten()(h)


def _tagger(inputs):
    return layers.Conv1D(32, 5, padding="same", activation="relu")(inputs)


def _trunk(inputs):
    return layers.Dense(64, activation="relu")(inputs)


def _wide(inputs):
    return layers.Dense(256, activation="relu")(inputs)


def matrix_scenarios():
    return [
        Scenario("mlp_784_64_64_10", (784,), _mlp),
        Scenario("conv1d_4_classes", (40, 3), _conv1d, classes=4),
        Scenario("tagger_T100", (100, 16), _tagger, timesteps=100),
        Scenario("heads_2", (128,), _trunk, heads=2),
        Scenario("heads_8", (128,), _trunk, heads=8),
        Scenario("one_hot_1000_classes", (256,), _wide, classes=1000, one_hot=True),
    ]


def scaling_scenarios(quick):
    heads = (1, 4, 16) if quick else (1, 2, 4, 8, 16)
    classes = (10, 1000) if quick else (10, 100, 1000, 10000)
    timesteps = (1, 100) if quick else (1, 10, 100, 1000)
    return (
        [("outputs", k, Scenario(f"outputs_{k}", (128,), _trunk, heads=k)) for k in heads]
        + [("classes", c, Scenario(f"classes_{c}", (128,), _trunk, classes=c)) for c in classes]
        + [("timesteps", t, Scenario(f"timesteps_{t}", (t, 8), _tagger, timesteps=t)) for t in timesteps]
    )


class StepTimer(keras.callbacks.Callback):
    """Times each step of a fit from one batch end to the next.

    The median over a fit's steps is the step time: a few slow steps (a busy
    neighbour on a shared machine) move it little, and the per-fit costs
    (data adapters, label checks; see `startup_memory.py`) stay out of it.
    """

    def on_train_begin(self, logs=None):
        self.ends = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())

    def median_ms(self):
        return 1e3 * float(np.median(np.diff(self.ends)))


def count_graph_ops(model, x, y, sample_weight, batch=8):
    """Operations in the traced `train_step` graph (TensorFlow only, else None).

    A noise-free complement to the timings: the work each variant adds to a
    step, before TensorFlow's graph optimisations.
    """
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    data = (x, y) if sample_weight is None else (x, y, sample_weight)
    data = keras.tree.map_structure(lambda a: a[:batch], data)
    graph = tf.function(model.train_step).get_concrete_function(data).graph.as_graph_def()
    return len(graph.node) + sum(len(f.node_def) for f in graph.library.function)


def measure(scenario, *, max_steps, batch, rounds, fit_seconds):
    """ms per step of each expressible variant, interleaved over `rounds` rounds.

    Each timed fit runs as many steps as take about `fit_seconds` on the
    unweighted model (at least 20, at most `max_steps`), so that small and
    large models get a comparable number of samples per round.
    """
    variants = [v for v in VARIANTS if scenario.expressible(v)]
    x, y, weights = scenario.data(max_steps * batch)
    models = {v: scenario.build(v) for v in variants}

    def run(variant, steps):
        timer = StepTimer()
        models[variant].fit(
            x,
            y,
            batch_size=batch,
            epochs=1,
            steps_per_epoch=steps,
            verbose=0,
            shuffle=False,
            callbacks=[timer],
            **scenario.fit_kwargs(variant, weights),
        )
        return timer.median_ms()

    warm = {v: run(v, 20) for v in variants}  # tracing and first-call costs
    graph_ops = {v: count_graph_ops(models[v], x, y, weights if v == "keras_sample_weight" else None) for v in variants}
    steps = int(np.clip(1e3 * fit_seconds / warm[BASELINE], 20, max_steps))
    times = {v: [] for v in variants}
    for r in range(rounds):
        order = variants[r % len(variants) :] + variants[: r % len(variants)]
        for variant in order:
            times[variant].append(run(variant, steps))
    return times, steps, graph_ops


def _table(rows, key_name):
    lines = [
        f"| {key_name} | variant | min ms/step | median ms/step | max ms/step | median paired ratio to unweighted | graph ops |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, summary, graph_ops in rows:
        for variant in VARIANTS:
            s = summary.get(variant)
            if s is None:
                lines.append(f"| {key} | {variant} | - | - | - | not expressible | - |")
                continue
            ops_count = "-" if graph_ops is None else graph_ops[variant]
            lines.append(
                f"| {key} | {variant} | {s['min']:.3f} | {s['median']:.3f} | "
                f"{s['max']:.3f} | {s['median_ratio']:.3f} | {ops_count} |"
            )
    return "\n".join(lines)


def main(argv=None):
    parser = benchmark_parser(__name__, __doc__, quick_help="fewer steps, rounds and sweep points", rounds=True)
    parser.add_argument("--part", choices=("matrix", "scaling", "all"), default="all")
    parser.add_argument("--only", default=None, help="comma-separated matrix scenarios or scaling axes to run")
    args = parser.parse_args(argv)
    only = None if args.only is None else set(args.only.split(","))
    max_steps, rounds, fit_seconds = (60, 4, 0.15) if args.quick else (300, 11, 0.4)
    rounds = args.rounds or rounds
    batch = 64
    settings = dict(
        max_steps_per_fit=max_steps,
        seconds_per_fit=fit_seconds,
        batch_size=batch,
        rounds=rounds,
        quick=args.quick,
        optimizer="rmsprop",
        jit_compile="Keras default (auto)",
        step_time="median time between batch ends within one fit",
    )
    how = dict(max_steps=max_steps, batch=batch, rounds=rounds, fit_seconds=fit_seconds)

    if args.part in ("matrix", "all"):
        results = {}
        for scenario in matrix_scenarios():
            if only is not None and scenario.name not in only:
                continue
            times, steps, graph_ops = measure(scenario, **how)
            results[scenario.name] = {
                "summary": summarize(times, BASELINE),
                "steps_per_fit": steps,
                "graph_ops_per_step": graph_ops,
                "ms_per_step": times,
            }
            print(
                f"{scenario.name}: "
                + ", ".join(
                    f"{v} {s['median']:.3f} ms ({s['median_ratio']:.3f})" for v, s in results[scenario.name]["summary"].items()
                ),
                flush=True,
            )
        table = _table([(k, r["summary"], r["graph_ops_per_step"]) for k, r in results.items()], "scenario")
        print(table)
        record = {"benchmark": "throughput", "settings": settings, "versions": versions(), "results": results}
        stem = save_results(
            record, table=table, out=args.out, quick=args.quick, title="Throughput: ms per training step by scenario"
        )
        print(f"wrote {stem}.json and {stem}.md")

    if args.part in ("scaling", "all"):
        results = []
        for axis, value, scenario in scaling_scenarios(args.quick):
            if only is not None and axis not in only:
                continue
            times, steps, graph_ops = measure(scenario, **how)
            summary = summarize(times, BASELINE)
            results.append(
                {
                    "axis": axis,
                    "value": value,
                    "summary": summary,
                    "steps_per_fit": steps,
                    "graph_ops_per_step": graph_ops,
                    "ms_per_step": times,
                }
            )
            print(f"{axis}={value}: " + ", ".join(f"{v} {s['median_ratio']:.3f}" for v, s in summary.items()), flush=True)
        table = _table([(f"{r['axis']}={r['value']}", r["summary"], r["graph_ops_per_step"]) for r in results], "point")
        print(table)
        record = {"benchmark": "scaling", "settings": settings, "versions": versions(), "results": results}
        stem = save_results(
            record,
            table=table,
            out=args.out,
            quick=args.quick,
            title="Scaling: weighting overhead as outputs, classes and timesteps grow",
        )
        _plot(results, stem + ".png", {**record, "machine_device": accelerator()})
        print(f"wrote {stem}.json, {stem}.md and {stem}.png")


def _plot(results, path, record):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes_names = ("outputs", "classes", "timesteps")
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
    for ax, axis in zip(axes, axes_names):
        points = [r for r in results if r["axis"] == axis]
        for variant in VARIANTS[1:]:
            xs = [r["value"] for r in points if variant in r["summary"]]
            ys = [r["summary"][variant]["median_ratio"] for r in points if variant in r["summary"]]
            if xs:
                style = (
                    dict(color="grey", linestyle=":") if variant.endswith("repeat") else dict(color=f"C{VARIANTS.index(variant)}")
                )
                ax.plot(xs, ys, marker="o", label=variant, **style)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.axhline(1.03, color="grey", linestyle="--", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_xlabel(axis)
        ax.set_title(f"step time / unweighted vs {axis}")
    axes[0].set_ylabel("median paired ratio")
    handles = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    if handles:
        fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=len(handles), fontsize=8)
    backend = record["versions"]["backend"]
    fig.suptitle(
        f"Weighting overhead ({backend}, {record['machine_device']}; dashed: +3%; "
        "dotted grey: a second unweighted run, the noise floor)"
    )
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
