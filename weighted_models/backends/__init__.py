"""The per-backend gradient loop of WeightedModel.

The weighting math is backend-neutral (`weighted_models.weighting`); only the
step that takes gradients and applies them differs per backend, as in Keras.
"""

import keras


def step_class():
    """The class holding `train_step`/`test_step` for the active backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        from weighted_models.backends.tensorflow import TensorFlowSteps

        return TensorFlowSteps
    if backend in ("jax", "torch"):
        from weighted_models.backends.keras_steps import KerasLoopSteps

        return KerasLoopSteps
    from weighted_models.backends.unsupported import UnsupportedBackendSteps

    return UnsupportedBackendSteps
