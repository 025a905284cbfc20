"""Steps for backends WeightedModel does not run on yet: a clear error."""

import keras


class UnsupportedBackendSteps:
    """Raises on training and evaluation under a backend not yet supported."""

    def _unsupported(self):
        raise NotImplementedError(
            "WeightedModel's training step is implemented for the TensorFlow "
            f"backend. Received KERAS_BACKEND={keras.backend.backend()!r}; "
            "set KERAS_BACKEND=tensorflow."
        )

    def train_step(self, data):
        self._unsupported()

    def test_step(self, data):
        self._unsupported()
