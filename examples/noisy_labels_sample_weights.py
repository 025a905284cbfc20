"""Unequally trusted data: down-weight the untrusted half.

The first half of the training set is trusted; in the second half 70% of
the labels are re-drawn at random (about half end up wrong). Sample weights
of 1.0 (trusted) and 0.1 (untrusted)
make the noisy half count less; the test accuracy and per-class recall are
compared with uniform weights.

Run: python examples/noisy_labels_sample_weights.py
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from weighted_models import PerClassRecall, WeightedModel  # noqa: E402


def make_data(n, seed):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=2.0, size=(4, 8))
    y = rng.integers(0, 4, size=n)
    x = (centers[y] + rng.normal(scale=2.0, size=(n, 8))).astype("float32")
    return x, y


def main():
    x, y = make_data(6000, seed=0)
    x_test, y_test = make_data(4000, seed=0)
    rng = np.random.default_rng(1)
    noisy = y.copy()
    untrusted = np.arange(len(y)) >= len(y) // 2
    flip = untrusted & (rng.random(len(y)) < 0.7)
    noisy[flip] = rng.integers(0, 4, size=flip.sum())
    print(f"wrong labels in the untrusted half: {np.mean(noisy[untrusted] != y[untrusted]):.0%}")
    for label, weights in (("uniform weights", np.ones(len(y))), ("untrusted half at 0.1", np.where(untrusted, 0.1, 1.0))):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((8,))
        h = keras.layers.Dense(32, activation="relu")(inputs)
        model = WeightedModel(inputs, keras.layers.Dense(4, activation="softmax")(h))
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy", PerClassRecall(4)])
        model.fit(x, noisy, sample_weight=weights.astype("float32"), batch_size=64, epochs=10, verbose=0)
        logs = model.evaluate(x_test, y_test, return_dict=True, verbose=0)
        recall = ", ".join(f"{logs[f'recall_{c}']:.2f}" for c in range(4))
        print(f"{label:>22}: test accuracy {logs['accuracy']:.3f}, per-class recall {recall}")


if __name__ == "__main__":
    main()
