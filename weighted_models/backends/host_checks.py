"""tf.data batches checked on the host where Keras's JAX and PyTorch trainers read them.

On JAX and PyTorch, Keras converts every `tf.data` batch to NumPy (or CPU
tensors) in Python before the step. `WeightedModel` checks those arrays
right there (vectorised NumPy, before the step function runs) instead of
adding a stage to the pipeline: a map stage costs tf.data more per batch
than the check itself (`weighted-models bench input_pipeline`).
"""

from weighted_models.data import host_checked_step_input


def _checking(model, function):
    if function is None or getattr(function, "_checks_batches", False):
        return function

    def checked(*args):
        checker = getattr(model, "_host_checker", None)
        if checker is not None:
            args = (*args[:-1], host_checked_step_input(args[-1], checker))
        return function(*args)

    checked._checks_batches = True
    return checked


class HostCheckedSteps:
    """Wraps Keras's step functions: batches of a tf.data source are checked first."""

    def make_train_function(self, force=False):
        super().make_train_function(force)
        self.train_function = _checking(self, self.train_function)
        return self.train_function

    def make_test_function(self, force=False):
        super().make_test_function(force)
        self.test_function = _checking(self, self.test_function)
        return self.test_function
