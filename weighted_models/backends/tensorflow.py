"""Keras's TensorFlow step: tf.data batches checked in it; multi-worker mends.

WeightedModel runs Keras's own TensorFlow `train_step`/`test_step` (the
weights enter through `compute_loss`/`compute_metrics`). The labels and
sample weights of a `tf.data` batch are checked at the start of the step,
by graph ops; when the step is XLA-compiled, just ahead of it. Keras 3.15 fails
under `MultiWorkerMirroredStrategy`, for a plain `keras.Model` too: it reads
batch shapes after a cross-replica MEAN of the first batch, and reduces the
scalar step logs with `axis=0`. Both are mended here, and only there.
"""

import keras
import tensorflow as tf

from weighted_models.data import checked_batch


class TensorFlowSteps:
    """Keras's TensorFlow steps: batches checked in the step, multi-worker mends."""

    def train_step(self, data):
        return self._logs_for_strategy(super().train_step(self._checked_step_data(data)))

    def test_step(self, data):
        return self._logs_for_strategy(super().test_step(self._checked_step_data(data)))

    def _checked_step_data(self, data):
        # A tf.data batch is checked here, by graph ops ahead of everything the
        # step computes from it: no stage added to the pipeline, so no cost
        # measurable (`weighted-models bench input_pipeline`). An XLA-compiled
        # step would drop a failing check: there `_make_function` checks the
        # batch around the compiled step instead.
        if self._checks_around_step():
            return data
        return self._checked_batch(data)

    def _checked_batch(self, data):
        checker = getattr(self, "_step_checker", None)
        if checker is None:
            return data
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if y is None:
            return data
        x, y = checked_batch(checker, x, y, sample_weight, guard_inputs=_forward_writes_state(self))
        return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)

    def _checks_around_step(self):
        return bool(self.jit_compile) and not self.run_eagerly and getattr(self, "_step_checker", None) is not None

    def _make_function(self, step_function):
        # Keras compiles its per-batch function whole with XLA, which drops
        # failures. With a tf.data batch to check, the step alone is compiled
        # (the same XLA computation as Keras's, minus the cross-replica
        # reduction of its logs) and the check runs ahead of it in the
        # TensorFlow function Keras builds around it.
        if not self._checks_around_step():
            return super()._make_function(step_function)
        compiled = tf.function(step_function, jit_compile=True, reduce_retracing=True)

        def checked_step(data):
            return compiled(self._checked_batch(data))

        jit_compile, self._jit_compile = self._jit_compile, False
        try:
            return super()._make_function(checked_step)
        finally:
            self._jit_compile = jit_compile

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


def _forward_writes_state(model):
    """Whether a training forward pass can write state (batch-norm statistics).

    Non-trainable variables other than random-seed states (dropout's) are
    what a forward pass may update; the step then also makes the inputs wait
    for the batch check.
    """
    return any("seed_generator" not in v.path for v in model.non_trainable_variables)


def _is_multi_worker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and (strategy.extended._in_multi_worker_mode())
