"""Per-backend adjustments to Keras's own training step.

WeightedModel runs Keras's own `train_step`/`test_step` on every backend:
the weights enter through `compute_loss` and `compute_metrics`, which every
Keras step calls. TensorFlow needs two workarounds for Keras's step under
`MultiWorkerMirroredStrategy`; JAX one for the state an interrupted `fit`
or `evaluate` leaves behind.
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
    return _KerasSteps


class _KerasSteps:
    """Keras's own steps, unchanged (PyTorch and any other backend)."""
