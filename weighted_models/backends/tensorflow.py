"""WeightedModel's `train_step` and `test_step` on the TensorFlow backend.

The step reads top to bottom: unpack -> predict -> weights -> loss -> apply.
It does what Keras's own TensorFlow step does (loss scaling for mixed
precision, a loss tracker weighted by the dynamic batch size, metrics through
`compute_metrics`) with the per-output weights computed once from `y` and
used for both the loss and the weighted metrics.
"""

import warnings

import keras
import tensorflow as tf
from keras.src.losses.loss import unscale_loss_for_distribution


def batch_size(x):
    """The dynamic batch size of a batch of inputs."""
    first = next(t for t in keras.tree.flatten(x) if t is not None)
    return tf.shape(first)[0]


class TensorFlowSteps:
    """`train_step` and `test_step` for `WeightedModel` on TensorFlow."""

    def _predict_in_step(self, x, training):
        if self._call_has_training_arg:
            return self(x, training=training)
        return self(x)

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = self._predict_in_step(x, training=True)
            weights = self.compute_sample_weight(y, y_pred, sample_weight, training=True)
            loss = self.compute_weighted_loss(y, y_pred, weights)
            self._loss_tracker.update_state(
                unscale_loss_for_distribution(loss), sample_weight=batch_size(x)
            )
            if self.optimizer is not None:
                loss = self.optimizer.scale_loss(loss)
        if self.trainable_weights:
            trainable_weights = self.trainable_weights
            gradients = tape.gradient(loss, trainable_weights)
            self.optimizer.apply_gradients(zip(gradients, trainable_weights))
        else:
            warnings.warn("The model does not have any trainable weights.")
        return self.compute_metrics(x, y, y_pred, sample_weight=self.metric_sample_weight(weights))

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        y_pred = self._predict_in_step(x, training=False)
        weights = self.compute_sample_weight(y, y_pred, sample_weight, training=False)
        loss = self.compute_weighted_loss(y, y_pred, weights)
        self._loss_tracker.update_state(
            unscale_loss_for_distribution(loss), sample_weight=batch_size(x)
        )
        return self.compute_metrics(x, y, y_pred, sample_weight=self.metric_sample_weight(weights))
