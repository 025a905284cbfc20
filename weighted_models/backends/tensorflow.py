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
        return self._logs_for_strategy(
            self.compute_metrics(x, y, y_pred, sample_weight=self.metric_sample_weight(weights))
        )

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        y_pred = self._predict_in_step(x, training=False)
        weights = self.compute_sample_weight(y, y_pred, sample_weight, training=False)
        loss = self.compute_weighted_loss(y, y_pred, weights)
        self._loss_tracker.update_state(
            unscale_loss_for_distribution(loss), sample_weight=batch_size(x)
        )
        return self._logs_for_strategy(
            self.compute_metrics(x, y, y_pred, sample_weight=self.metric_sample_weight(weights))
        )

    def _logs_for_strategy(self, logs):
        # Keras 3.15 reduces step logs across workers with
        # `strategy.reduce("MEAN", v, axis=0)`, which needs an axis: give the
        # scalars one under MultiWorkerMirroredStrategy only.
        if not _is_multi_worker(self.distribute_strategy):
            return logs
        return keras.tree.map_structure(lambda v: tf.reshape(v, (1,)), logs)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras 3.15 reads shapes from the first distributed batch after a
        # cross-replica MEAN, which fails under MultiWorkerMirroredStrategy (for
        # a plain keras.Model too). One replica's batch has the same shapes.
        if not _is_multi_worker(self.distribute_strategy) or iterator is None:
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        for _, _, batches in iterator:
            data_batch = next(batches)
            break
        strategy = self.distribute_strategy

        def local(value):
            if isinstance(value, tf.distribute.DistributedValues):
                return strategy.experimental_local_results(value)[0]
            return value

        with strategy.scope():
            self._symbolic_build(data_batch=keras.tree.map_structure(local, data_batch))


def _is_multi_worker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and (
        strategy.extended._in_multi_worker_mode()
    )
