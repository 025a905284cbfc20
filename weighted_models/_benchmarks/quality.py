"""What each imbalance method buys: long-tailed digits, several seeds, every method and its peers.

scikit-learn's digits made long-tailed (imbalance ratios 10 and 100, the
exponential profile of `weighted_models.datasets`), a balanced test set of 30
images per class, and one network and training recipe for every method: the
same MLP from the same initial weights per seed (64 -> 256 ReLU -> 10 logits,
L2 3e-3 on the kernels, Adam 1e-3, batch 32, 80 epochs). Methods:

- peers: plain `keras.Model.fit`; imbalanced-learn's `RandomOverSampler`
  (arrays resampled once, then plain `fit`) and its Keras
  `BalancedBatchGenerator` (its default random under-sampling; at ratio 100
  that keeps 10 images, so its batch is 10) — these two need the optional
  extra `pip install 'weighted_models[bench]'` and are left out without it;
- re-weighting: `class_weight` "balanced", "sqrt", effective number (beta
  0.999), deferred re-weighting ("balanced" from 3/4 of the epochs on);
- class-balanced sampling (`ClassBalancedSampler`) with power 0 and 0.5;
- losses: LDAM with deferred re-weighting (LDAM-DRW, margins up to 0.5 on
  the Dense logits, scale 1), Balanced Softmax, logit adjustment (tau 1),
  and logit adjustment + deferred re-weighting;
- upper reference: plain Keras trained on a *balanced* subset of the same
  size (and the same test set).

Reports balanced accuracy and macro F1 as mean ± std over seeds; JSON,
markdown and a PNG with error bars under `benchmarks/results/`.

Run: weighted-models bench quality [--quick]
"""

import os
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import balanced_accuracy_score, f1_score  # noqa: E402

from weighted_models import (  # noqa: E402
    BalancedSoftmaxCrossentropy,
    ClassBalancedSampler,
    DeferredReweighting,
    EffectiveNumber,
    LDAMLoss,
    LogitAdjustedCrossentropy,
    WeightedModel,
    count_labels,
)
from weighted_models._benchmarks.records import benchmark_parser, save_results, versions  # noqa: E402
from weighted_models.demo import long_tailed_digits  # noqa: E402

PEERS = ["plain_keras", "imblearn_oversampling", "imblearn_balanced_batches"]
REWEIGHTING = ["balanced", "sqrt", "effective_number", "deferred_balanced"]
SAMPLING = ["sampling_q0", "sampling_q0.5"]
LOSSES = ["ldam_drw", "balanced_softmax", "logit_adjusted", "logit_adjusted_drw"]
REFERENCE = ["balanced_subset"]
VARIANTS = PEERS + REWEIGHTING + SAMPLING + LOSSES + REFERENCE
IMBLEARN = ("imblearn_oversampling", "imblearn_balanced_batches")
IMBLEARN_NEEDED = "needs imbalanced-learn: pip install 'weighted_models[bench]'"
BATCH_SIZE = 32


def network(cls, seed, *, hidden=256, l2=3e-3):
    """The benchmark's MLP (logits out), from seed `seed`'s initial weights."""
    keras.utils.set_random_seed(seed)
    reg = keras.regularizers.L2(l2)
    inputs = keras.Input((64,))
    h = keras.layers.Dense(hidden, activation="relu", kernel_regularizer=reg)(inputs)
    return cls(inputs, keras.layers.Dense(10, kernel_regularizer=reg)(h))


def training_data(variant, ratio, seed):
    """`(fit_inputs, counts, x_test, y_test)` for one run.

    `fit_inputs` is a dict of `fit`'s data arguments (`x`, `y`, `batch_size`,
    or `x` alone for a PyDataset); `counts` are the long-tailed training
    counts the methods may use.
    """
    x, y, x_test, y_test = long_tailed_digits(ratio=ratio, seed=seed)
    counts = count_labels(y, num_classes=10)
    data = {"x": x, "y": y, "batch_size": BATCH_SIZE}
    if variant == "balanced_subset":
        xb, yb, xb_test, yb_test = long_tailed_digits(ratio=1, n_max=len(y) // 10, seed=seed)
        if not (np.array_equal(xb_test, x_test) and np.array_equal(yb_test, y_test)):
            raise RuntimeError("The balanced subset must be scored on the long-tailed runs' test set.")
        data = {"x": xb, "y": yb, "batch_size": BATCH_SIZE}
    elif variant.startswith("sampling_q"):
        data = {"x": ClassBalancedSampler(x, y, batch_size=BATCH_SIZE, power=float(variant[len("sampling_q") :]), seed=seed)}
    elif variant == "imblearn_oversampling":
        from imblearn.over_sampling import RandomOverSampler

        xo, yo = RandomOverSampler(random_state=seed).fit_resample(x, y)
        data = {"x": xo, "y": yo, "batch_size": BATCH_SIZE}
    elif variant == "imblearn_balanced_batches":
        from imblearn.keras import BalancedBatchGenerator

        kept = 10 * int(counts.min())  # its default RandomUnderSampler keeps the rarest count per class
        data = {"x": BalancedBatchGenerator(x, y, batch_size=min(BATCH_SIZE, kept), random_state=seed)}
    return data, counts, x_test, y_test


def run(variant, ratio, seed, epochs):
    """Trains one variant; returns `(balanced accuracy, macro F1)` on the balanced test set."""
    data, counts, x_test, y_test = training_data(variant, ratio, seed)
    plain = variant in PEERS or variant == "balanced_subset"
    model = network(keras.Model if plain else WeightedModel, seed)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    class_weight, callbacks = None, []
    deferred = [DeferredReweighting(start_epoch=(3 * epochs) // 4)]
    if variant in ("logit_adjusted", "logit_adjusted_drw"):
        loss = LogitAdjustedCrossentropy(counts, tau=1.0)
    elif variant == "balanced_softmax":
        loss = BalancedSoftmaxCrossentropy(counts)
    elif variant == "ldam_drw":
        loss = LDAMLoss(counts, max_margin=0.5, scale=1.0)
    if variant in ("deferred_balanced", "ldam_drw", "logit_adjusted_drw"):
        class_weight, callbacks = "balanced", deferred
    elif variant == "effective_number":
        class_weight = EffectiveNumber(0.999)
    elif variant in ("balanced", "sqrt"):
        class_weight = variant
    model.compile(keras.optimizers.Adam(1e-3), loss)
    extra = {"class_weight": class_weight, "callbacks": callbacks} if not plain else {}
    with warnings.catch_warnings():
        # imbalanced-learn's BalancedBatchGenerator skips PyDataset.__init__, which Keras warns about.
        warnings.filterwarnings("ignore", message=".*should call `super\\(\\).__init__")
        model.fit(**data, epochs=epochs, verbose=0, **extra)
    pred = model.predict(x_test, verbose=0).argmax(-1)
    return balanced_accuracy_score(y_test, pred), f1_score(y_test, pred, average="macro")


def _imblearn_missing():
    try:
        import imblearn  # noqa: F401
    except ModuleNotFoundError:
        return True
    return False


def main(argv=None):
    parser = benchmark_parser(__name__, __doc__, quick_help="2 seeds and 20 epochs")
    args = parser.parse_args(argv)
    seeds, epochs = (2, 20) if args.quick else (5, 80)
    variants = list(VARIANTS)
    left_out = {}
    if _imblearn_missing():
        left_out = {name: IMBLEARN_NEEDED for name in IMBLEARN}
        variants = [v for v in variants if v not in IMBLEARN]
        print(f"left out {', '.join(IMBLEARN)}: {IMBLEARN_NEEDED}")
    results = {}
    for ratio in (10, 100):
        for variant in variants:
            scores = np.array([run(variant, ratio, seed, epochs) for seed in range(seeds)])
            r = results[f"{ratio}/{variant}"] = {
                "ratio": ratio,
                "variant": variant,
                "balanced_accuracy_mean": float(scores[:, 0].mean()),
                "balanced_accuracy_std": float(scores[:, 0].std()),
                "macro_f1_mean": float(scores[:, 1].mean()),
                "macro_f1_std": float(scores[:, 1].std()),
                "balanced_accuracy_per_seed": scores[:, 0].round(4).tolist(),
            }
            print(
                f"ratio {ratio:>3} {variant:>26}: balanced accuracy {r['balanced_accuracy_mean']:.3f} "
                f"± {r['balanced_accuracy_std']:.3f}, macro F1 {r['macro_f1_mean']:.3f} ± {r['macro_f1_std']:.3f}",
                flush=True,
            )
    lines = ["| ratio | method | balanced accuracy | macro F1 |", "|---|---|---|---|"] + [
        f"| {r['ratio']} | {r['variant']} | {r['balanced_accuracy_mean']:.3f} ± {r['balanced_accuracy_std']:.3f} "
        f"| {r['macro_f1_mean']:.3f} ± {r['macro_f1_std']:.3f} |"
        for r in results.values()
    ]
    record = {
        "benchmark": "quality",
        "settings": {
            "seeds": seeds,
            "epochs": epochs,
            "quick": args.quick,
            "test_per_class": 30,
            "network": "64 -> Dense(256, relu) -> Dense(10) logits, L2 3e-3 on kernels",
            "optimizer": "Adam(1e-3)",
            "batch_size": BATCH_SIZE,
            "deferred_reweighting_start": (3 * epochs) // 4,
            "left_out": left_out,
        },
        "versions": versions(),
        "results": results,
    }
    stem = save_results(
        record,
        table="\n".join(lines),
        out=args.out,
        quick=args.quick,
        title=f"Quality on long-tailed digits ({seeds} seeds, {epochs} epochs)",
    )
    _plot(results, variants, stem + ".png")
    print(f"wrote {stem}.json, {stem}.md and {stem}.png")


def _plot(results, variants, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, ratio in zip(axes, (10, 100)):
        rows = [results[f"{ratio}/{v}"] for v in variants]
        colors = ["tab:gray" if v in PEERS else "tab:green" if v in REFERENCE else "tab:blue" for v in variants]
        ax.bar(
            range(len(rows)),
            [r["balanced_accuracy_mean"] for r in rows],
            yerr=[r["balanced_accuracy_std"] for r in rows],
            capsize=3,
            color=colors,
        )
        ax.set_xticks(range(len(rows)), variants, rotation=45, ha="right", fontsize=7)
        ax.set_title(f"imbalance ratio {ratio} (grey: peers, green: balanced-data reference)", fontsize=9)
        ax.set_ylim(0.4, 1.0)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("balanced accuracy (balanced test set)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
