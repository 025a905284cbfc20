"""Deferred re-weighting (Cao et al., NeurIPS 2019) on long-tailed digits.

Train unweighted first so the features learn from all the data, then switch
to class-balanced weights for the last epochs: one callback,
`DeferredReweighting(start_epoch=...)`. Compared with no weights and with
weights from the first epoch; balanced accuracy over 3 seeds.

Run: python examples/deferred_reweighting.py
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from weighted_models import (  # noqa: E402
    BalancedAccuracy,
    DeferredReweighting,
    EffectiveNumber,
    PerClassRecall,
    WeightedModel,
)
from weighted_models.demo import long_tailed_digits  # noqa: E402

EPOCHS = 30


def run(seed, class_weight, callbacks):
    x, y, x_test, y_test = long_tailed_digits(ratio=100, seed=seed)
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((64,))
    h = keras.layers.Dense(64, activation="relu")(inputs)
    model = WeightedModel(inputs, keras.layers.Dense(10, activation="softmax")(h))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=[BalancedAccuracy(10), PerClassRecall(10)])
    model.fit(x, y, batch_size=32, epochs=EPOCHS, class_weight=class_weight, callbacks=callbacks, verbose=0)
    return model.evaluate(x_test, y_test, return_dict=True, verbose=0)


def main():
    variants = {
        "no weights": (None, lambda: []),
        "weights from epoch 1": (EffectiveNumber(0.999), lambda: []),
        "deferred, from epoch 23": (EffectiveNumber(0.999), lambda: [DeferredReweighting(start_epoch=22)]),
    }
    for name, (class_weight, callbacks) in variants.items():
        logs = [run(seed, class_weight, callbacks()) for seed in range(3)]
        scores = [log["balanced_accuracy"] for log in logs]
        rare = np.mean([[log[f"recall_{c}"] for c in (7, 8, 9)] for log in logs])
        print(
            f"{name:>24}: balanced accuracy {np.mean(scores):.3f} ± {np.std(scores):.3f}, "
            f"mean recall of the 3 rarest classes {rare:.3f}"
        )


if __name__ == "__main__":
    main()
