"""Class weights on a multi-output model, where built-in `fit` refuses them.

Long-tailed digits with two heads: `digit` (10 classes, softmax) and `big`
(is the digit >= 5? one sigmoid unit). Each output gets its own class
weights by name: computed "balanced" for `digit`, explicit for `big`.
Built-in Keras raises "class_weight is only supported for Models with a
single output"; the seed article's workaround is a hand-written weighted loss
per output.

Run: python examples/multi_output_class_weights.py
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from weighted_models import BalancedAccuracy, WeightedModel  # noqa: E402
from weighted_models.demo import long_tailed_digits  # noqa: E402


def build():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((64,))
    h = keras.layers.Dense(64, activation="relu")(inputs)
    digit = keras.layers.Dense(10, activation="softmax", name="digit")(h)
    big = keras.layers.Dense(1, activation="sigmoid", name="big")(h)
    model = WeightedModel(inputs, {"digit": digit, "big": big})
    model.compile(
        "adam",
        loss={"digit": "sparse_categorical_crossentropy", "big": "binary_crossentropy"},
        metrics={"digit": [BalancedAccuracy(10)], "big": [BalancedAccuracy(2)]},
    )
    return model


def main():
    x, y, x_test, y_test = long_tailed_digits(ratio=50, seed=0)
    labels = {"digit": y, "big": (y >= 5).astype("float32")[:, None]}
    test = {"digit": y_test, "big": (y_test >= 5).astype("float32")[:, None]}
    print(f"share of 'big' digits in training: {labels['big'].mean():.1%}")
    for label, class_weight in (
        ("no class weights", None),
        ("per-output class weights", {"digit": "balanced", "big": {0: 1.0, 1: 4.0}}),
    ):
        model = build()
        model.fit(x, labels, batch_size=32, epochs=40, class_weight=class_weight, verbose=0)
        logs = model.evaluate(x_test, test, return_dict=True, verbose=0)
        recall_big = np.mean(model.predict(x_test, verbose=0)["big"][y_test >= 5] > 0.5)
        print(
            f"{label:>25}: digit balanced accuracy {logs['digit_balanced_accuracy']:.3f}, "
            f"big balanced accuracy {logs['big_balanced_accuracy']:.3f}, recall of 'big' {recall_big:.3f}"
        )


if __name__ == "__main__":
    main()
