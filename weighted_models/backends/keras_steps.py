"""WeightedModel's steps on JAX and PyTorch: Keras's own gradient loops, weighted.

Keras's JAX step is stateless and jit-compiled, its PyTorch step eager with
autograd; both already do what a correct step does (loss scaling, the loss
tracker, metrics). They call two hooks that WeightedModel fills in:
`compute_loss` (class x sample weights -> weighted loss and per-output
trackers) and `compute_metrics`, overridden here to give the weighted
metrics the same per-output weights. The class-weight tables are metric
variables, so JAX threads them through its stateless step like any state.
"""


class KerasLoopSteps:
    """Weighted metrics for the steps Keras runs on JAX and PyTorch."""

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        weights = self.compute_sample_weight(
            y, y_pred, sample_weight, training=self._weighting.step_training
        )
        return super().compute_metrics(x, y, y_pred, sample_weight=self.metric_sample_weight(weights))
