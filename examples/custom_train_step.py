"""A subclass that writes its own train_step, the Keras way, and keeps the weighting.

Here the custom step adds gradient-norm clipping and logs the mean weight a
batch carried. Class weights, sample weights and per-output losses enter
through the same hooks Keras's own step calls, so nothing else changes:

    loss = self.compute_loss(x, y, y_pred, sample_weight, training=True)
    weights = self.compute_sample_weight(y, y_pred, sample_weight)  # to look at them
    logs = self.compute_metrics(x, y, y_pred, sample_weight)

Run: python examples/custom_train_step.py
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from weighted_models import WeightedModel  # noqa: E402


class ClippedWeightedModel(WeightedModel):
    def __init__(self, *args, clip_norm=1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.clip_norm = clip_norm
        self.mean_weight = keras.metrics.Mean(name="mean_weight")

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred, sample_weight, training=True)
            self._loss_tracker.update_state(loss, sample_weight=tf.shape(x)[0])
            scaled = self.optimizer.scale_loss(loss)  # correct under mixed precision
        weights = self.compute_sample_weight(y, y_pred, sample_weight)
        gradients = tape.gradient(scaled, self.trainable_weights)
        gradients, _ = tf.clip_by_global_norm(gradients, self.clip_norm)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        if weights is not None:
            self.mean_weight.update_state(weights)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)


def main():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 16)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 1.8).astype("int64")  # about 5% positives
    print(f"positives: {y.mean():.1%}")

    inputs = keras.Input((16,))
    hidden = keras.layers.Dense(32, activation="relu")(inputs)
    outputs = keras.layers.Dense(2, activation="softmax")(hidden)
    model = ClippedWeightedModel(inputs, outputs, clip_norm=0.5)
    model.compile(
        "adam",
        "sparse_categorical_crossentropy",
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="weighted_acc")],
    )
    model.fit(x, y, batch_size=64, epochs=5, class_weight="balanced", verbose=2)
    recall = (model.predict(x, verbose=0).argmax(-1)[y == 1] == 1).mean()
    print(f"recall on the rare class: {recall:.2f}")


if __name__ == "__main__":
    main()
