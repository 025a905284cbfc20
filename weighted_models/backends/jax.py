"""Keras's JAX steps, with the model's state kept when a batch is refused.

Keras's JAX `fit`/`evaluate` take the variables' values out of the model
("purge") before the first step of an epoch and put them back at its end.
When an error stops the loop before a step has finished (our label check
refusing the first batch of a `tf.data` pipeline, or any pipeline error),
Keras 3.15 has nothing to put back: the model is left without values and
every later call fails with `'NoneType' object is not callable`. `evaluate`
also puts nothing back after an error in a later step.

Here the state handed to the steps is recorded where Keras records the state
after each step, so an error leaves the model as it was after the last step
that finished (as on TensorFlow).
"""

from weighted_models.backends.host_checks import HostCheckedSteps

_STATE_KEYS = ("trainable_variables", "non_trainable_variables", "optimizer_variables", "metrics_variables")


class JaxSteps(HostCheckedSteps):
    """Keras's JAX steps: tf.data batches checked on the host; an interrupted
    `fit`/`evaluate` leaves the model whole."""

    def _get_jax_state(self, **kwargs):
        state = super()._get_jax_state(**kwargs)
        if kwargs.get("purge_model_variables"):
            # Keras overwrites this after every step and syncs from it at the
            # end of `fit` (also when an error ends it).
            self._jax_state = dict(zip([k for k in _STATE_KEYS if kwargs.get(k)], state))
        return state

    def evaluate(self, *args, **kwargs):
        return self._state_kept(super().evaluate, *args, **kwargs)

    def predict(self, *args, **kwargs):
        return self._state_kept(super().predict, *args, **kwargs)

    def _state_kept(self, run, *args, **kwargs):
        # Keras's evaluate/predict have no `finally` putting the state back.
        try:
            return run(*args, **kwargs)
        except BaseException:
            self.jax_state_sync()
            self._jax_state = None
            raise
