"""Per-backend adjustments to Keras's own training step.

WeightedModel runs Keras's own `train_step`/`test_step` on every backend:
the weights enter through `compute_loss` and `compute_metrics`, which every
Keras step calls. What differs per backend: where the batches of a `tf.data`
source are checked (TensorFlow: graph ops in the step; JAX and PyTorch: on
the host as Keras hands the batch to the step), TensorFlow's workarounds
under `MultiWorkerMirroredStrategy`, and JAX's for the state an interrupted
`fit` or `evaluate` leaves behind.
"""

import keras


def step_class():
    """The mixin holding backend-specific step adjustments for the active backend."""
    if keras.backend.backend() == "tensorflow":
        from weighted_models.backends.tensorflow import TensorFlowSteps

        return TensorFlowSteps
    if keras.backend.backend() == "jax":
        from weighted_models.backends.jax import JaxSteps

        return JaxSteps
    from weighted_models.backends.host_checks import HostCheckedSteps

    return HostCheckedSteps
