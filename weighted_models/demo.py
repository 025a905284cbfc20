"""The main job: long-tailed handwritten digits, plain Keras vs WeightedModel.

scikit-learn's digits (shipped with scikit-learn, no download) are split into
a balanced held-out test set and a training set made long-tailed: class `c`
keeps `n_max * ratio ** (-c / 9)` images, so the rarest class has `ratio`
times fewer than the most frequent. The same network, from the same initial
weights, is trained by plain `keras.Model.fit` and by `WeightedModel` with
`class_weight="balanced"`; per-class recall, balanced accuracy and macro F1
are reported for both, averaged over seeds.
"""

import json
import os

import keras
import numpy as np

from weighted_models.datasets import long_tailed_counts

MATPLOTLIB_NEEDED = "the plots need matplotlib: pip install 'weighted_models[plot]'"


def long_tailed_digits(*, ratio=100, n_max=150, test_per_class=30, seed=0):
    """Returns `(x_train, y_train, x_test, y_test)` from scikit-learn's digits.

    Args:
        ratio: imbalance ratio, largest over smallest class count.
        n_max: training images of the most frequent class (class 0).
        test_per_class: images per class in the balanced test set.
        seed: which images go where.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target.astype("int64")
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for c, keep in enumerate(long_tailed_counts(10, ratio, n_max)):
        idx = rng.permutation(np.flatnonzero(y == c))
        test_idx.extend(idx[:test_per_class])
        train_idx.extend(idx[test_per_class : test_per_class + keep])
    train_idx = rng.permutation(train_idx)
    return x[train_idx], y[train_idx], x[test_idx], y[test_idx]


def _network(cls, seed):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((64,), name="pixels")
    h = keras.layers.Dense(64, activation="relu")(inputs)
    h = keras.layers.Dense(64, activation="relu")(h)
    outputs = keras.layers.Dense(10, activation="softmax", name="digit")(h)
    return cls(inputs, outputs)


def _scores(y_true, y_pred):
    from sklearn.metrics import balanced_accuracy_score, f1_score, recall_score

    return {
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro")),
        "recall": recall_score(y_true, y_pred, average=None, labels=range(10)).tolist(),
    }


def run_demo(*, ratio=100, seeds=3, epochs=60, out_dir="demo_output", verbose=1):
    """Trains both models over `seeds` seeds, prints the report, writes a PNG and JSON.

    Args:
        ratio: imbalance ratio of the training set.
        seeds: how many seeds (data split and initial weights) to average over.
        epochs: training epochs per run.
        out_dir: folder for `results.json` and `per_class_recall.png`.
        verbose: 0 prints only the report; 1 one progress bar over all runs;
            2 Keras's per-epoch logs for the runs of seed 0.

    Returns:
        The results as a dict (also written to `out_dir/results.json`).
    """
    from weighted_models import WeightedModel

    results = {"plain Keras": [], "WeightedModel balanced": []}
    counts = None
    progress = None
    if verbose == 1:
        progress = _RunProgress(keras.utils.Progbar(seeds * len(results) * epochs, unit_name="epoch"))
    for seed in range(seeds):
        x_train, y_train, x_test, y_test = long_tailed_digits(ratio=ratio, seed=seed)
        counts = np.bincount(y_train, minlength=10)
        plain = _network(keras.Model, seed)
        weighted = _network(WeightedModel, seed)
        weighted.set_weights(plain.get_weights())
        show = 2 if verbose == 2 and seed == 0 else 0
        for name, model, extra in (
            ("plain Keras", plain, {}),
            ("WeightedModel balanced", weighted, {"class_weight": "balanced"}),
        ):
            if show:
                print(f"\n== seed {seed}: {name} ==")
            model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
            model.fit(
                x_train, y_train, batch_size=32, epochs=epochs, verbose=show, callbacks=[progress] if progress else [], **extra
            )
            y_pred = model.predict(x_test, verbose=0).argmax(axis=-1)
            results[name].append(_scores(y_test, y_pred))

    summary = {
        "ratio": ratio,
        "seeds": seeds,
        "epochs": epochs,
        "train_counts": counts.tolist(),
        "models": {
            name: {
                "balanced_accuracy": float(np.mean([r["balanced_accuracy"] for r in runs])),
                "balanced_accuracy_std": float(np.std([r["balanced_accuracy"] for r in runs])),
                "macro_f1": float(np.mean([r["macro_f1"] for r in runs])),
                "macro_f1_std": float(np.std([r["macro_f1"] for r in runs])),
                "recall": np.mean([r["recall"] for r in runs], axis=0).tolist(),
            }
            for name, runs in results.items()
        },
    }
    _print_report(summary)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(summary, f, indent=2)
    written = os.path.join(out_dir, "results.json")
    try:
        written += " and " + _plot_recall(summary, os.path.join(out_dir, "per_class_recall.png"))
    except ModuleNotFoundError as error:
        if error.name != "matplotlib":
            raise
        print(f"\nNo PNG: {MATPLOTLIB_NEEDED}")
    print(f"\nWrote {written}")
    return summary


class _RunProgress(keras.callbacks.Callback):
    """Advances one progress bar by an epoch, across every `fit` it is given to."""

    def __init__(self, bar):
        super().__init__()
        self.bar = bar

    def on_epoch_end(self, epoch, logs=None):
        self.bar.add(1)


def _print_report(summary):
    models = summary["models"]
    names = list(models)
    print(
        f"\nLong-tailed digits, imbalance ratio {summary['ratio']}, {summary['seeds']} seeds, balanced test set of 30 per class"
    )
    print(f"training images per class: {summary['train_counts']}\n")
    print(f"{'class':>5} {'train n':>8} " + " ".join(f"{n:>24}" for n in names))
    for c in range(10):
        row = " ".join(f"{models[n]['recall'][c]:>24.3f}" for n in names)
        print(f"{c:>5} {summary['train_counts'][c]:>8} {row}")
    for metric in ("balanced_accuracy", "macro_f1"):
        row = " ".join(f"{models[n][metric]:>17.3f} ± {models[n][metric + '_std']:.3f}" for n in names)
        print(f"{metric:>14} {row}")


def _plot_recall(summary, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = summary["models"]
    classes = np.arange(10)
    fig, ax = plt.subplots(figsize=(8, 4.8))
    width = 0.4
    for i, (name, scores) in enumerate(models.items()):
        label = f"{name} (bal. acc {scores['balanced_accuracy']:.2f}, macro F1 {scores['macro_f1']:.2f})"
        ax.bar(classes + (i - 0.5) * width, scores["recall"], width, label=label)
    ax.set_xticks(classes, [f"{c}\nn={n}" for c, n in zip(classes, summary["train_counts"])])
    ax.set_xlabel("digit class (training images)")
    ax.set_ylabel("test recall")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Per-class recall, long-tailed digits (ratio {summary['ratio']})")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=1, fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
