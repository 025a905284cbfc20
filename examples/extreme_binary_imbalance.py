"""Extreme binary imbalance: 1% positives, sensitivity and specificity.

Accuracy hides the failure (always predicting "negative" scores 99%), so the
model is tracked with epoch-correct sensitivity and specificity of the
positive class. Plain training is compared with class weights computed from
the labels ("balanced": weight n / (2 n_c) per class).

Run: python examples/extreme_binary_imbalance.py
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from weighted_models import Sensitivity, Specificity, WeightedModel  # noqa: E402


def make_data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 10)).astype("float32")
    score = x[:, 0] + 0.8 * x[:, 1] - 0.5 * x[:, 2]
    y = (score > np.quantile(score, 0.99)).astype("float32")[:, None]  # 1% positives
    x += rng.normal(scale=0.6, size=x.shape).astype("float32")  # noisy features
    return x, y


def build():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((10,))
    h = keras.layers.Dense(16, activation="relu")(inputs)
    model = WeightedModel(inputs, keras.layers.Dense(1, activation="sigmoid")(h))
    model.compile(
        keras.optimizers.RMSprop(1e-3),
        "binary_crossentropy",
        metrics=["accuracy", Sensitivity(2, class_id=1), Specificity(2, class_id=1)],
    )
    return model


def main():
    x, y = make_data(20000, seed=0)
    x_test, y_test = make_data(20000, seed=1)
    print(f"positives in training: {int(y.sum())} of {len(y)}")
    for label, class_weight in (("plain", None), ("class weights 'balanced'", "balanced")):
        model = build()
        model.fit(x, y, batch_size=256, epochs=8, class_weight=class_weight, verbose=0)
        logs = model.evaluate(x_test, y_test, batch_size=1024, return_dict=True, verbose=0)
        print(
            f"{label:>26}: accuracy {logs['accuracy']:.3f}, "
            f"sensitivity (recall of positives) {logs['sensitivity']:.3f}, "
            f"specificity {logs['specificity']:.3f}"
        )


if __name__ == "__main__":
    main()
