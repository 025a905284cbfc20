"""What weighting buys: long-tailed digits, several seeds, every weighting variant.

scikit-learn's digits made long-tailed (imbalance ratios 10 and 100), a
balanced test set of 30 images per class, the same MLP from the same initial
weights per seed, trained with: no weights, "balanced", "sqrt",
effective number (beta 0.999), deferred re-weighting (balanced from 3/4 of
training on) and the logit-adjusted loss (tau 1). Reports balanced accuracy and
macro F1 as mean ± std over seeds; JSON, markdown and a PNG under
`benchmarks/results/`.

Run: weighted-models bench quality [--quick]
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import balanced_accuracy_score, f1_score  # noqa: E402

from weighted_models import (  # noqa: E402
    DeferredReweighting,
    EffectiveNumber,
    LogitAdjustedCrossentropy,
    WeightedModel,
    count_labels,
)
from weighted_models._benchmarks.records import benchmark_parser, save_results, versions  # noqa: E402
from weighted_models.demo import long_tailed_digits  # noqa: E402

VARIANTS = ["unweighted", "balanced", "sqrt", "effective_number", "deferred_balanced", "logit_adjusted"]


def run(variant, ratio, seed, epochs):
    x, y, x_test, y_test = long_tailed_digits(ratio=ratio, seed=seed)
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((64,))
    h = keras.layers.Dense(64, activation="relu")(inputs)
    logits = keras.layers.Dense(10)(h)
    model = WeightedModel(inputs, logits)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    class_weight, callbacks = None, []
    if variant == "logit_adjusted":
        loss = LogitAdjustedCrossentropy(count_labels(y, num_classes=10), tau=1.0)
    elif variant == "effective_number":
        class_weight = EffectiveNumber(0.999)
    elif variant == "deferred_balanced":
        class_weight, callbacks = "balanced", [DeferredReweighting(start_epoch=(3 * epochs) // 4)]
    elif variant != "unweighted":
        class_weight = variant
    model.compile(keras.optimizers.Adam(1e-3), loss)
    model.fit(x, y, batch_size=32, epochs=epochs, class_weight=class_weight, callbacks=callbacks, verbose=0)
    pred = model.predict(x_test, verbose=0).argmax(-1)
    return balanced_accuracy_score(y_test, pred), f1_score(y_test, pred, average="macro")


def main(argv=None):
    parser = benchmark_parser(__name__, __doc__, quick_help="2 seeds and fewer epochs")
    args = parser.parse_args(argv)
    seeds, epochs = (2, 20) if args.quick else (5, 40)
    results = {}
    for ratio in (10, 100):
        for variant in VARIANTS:
            scores = np.array([run(variant, ratio, seed, epochs) for seed in range(seeds)])
            results[f"{ratio}/{variant}"] = {
                "ratio": ratio,
                "variant": variant,
                "balanced_accuracy_mean": float(scores[:, 0].mean()),
                "balanced_accuracy_std": float(scores[:, 0].std()),
                "macro_f1_mean": float(scores[:, 1].mean()),
                "macro_f1_std": float(scores[:, 1].std()),
            }
            r = results[f"{ratio}/{variant}"]
            print(
                f"ratio {ratio:>3} {variant:>18}: balanced accuracy {r['balanced_accuracy_mean']:.3f} "
                f"± {r['balanced_accuracy_std']:.3f}, macro F1 {r['macro_f1_mean']:.3f} ± {r['macro_f1_std']:.3f}"
            )
    lines = ["| ratio | variant | balanced accuracy | macro F1 |", "|---|---|---|---|"] + [
        f"| {r['ratio']} | {r['variant']} | {r['balanced_accuracy_mean']:.3f} ± {r['balanced_accuracy_std']:.3f} "
        f"| {r['macro_f1_mean']:.3f} ± {r['macro_f1_std']:.3f} |"
        for r in results.values()
    ]
    record = {
        "benchmark": "quality",
        "settings": {"seeds": seeds, "epochs": epochs, "quick": args.quick, "test_per_class": 30},
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
    _plot(results, stem + ".png")
    print(f"wrote {stem}.json, {stem}.md and {stem}.png")


def _plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, ratio in zip(axes, (10, 100)):
        rows = [results[f"{ratio}/{v}"] for v in VARIANTS]
        ax.bar(
            range(len(rows)),
            [r["balanced_accuracy_mean"] for r in rows],
            yerr=[r["balanced_accuracy_std"] for r in rows],
            capsize=3,
        )
        ax.set_xticks(range(len(rows)), VARIANTS, rotation=35, ha="right", fontsize=8)
        ax.set_title(f"imbalance ratio {ratio}")
        ax.set_ylim(0.5, 1.0)
    axes[0].set_ylabel("balanced accuracy (balanced test set)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
