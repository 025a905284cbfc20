"""Every name WeightedModel takes from Keras's private modules, in one place.

Keras 3 exports no public API for these; each entry says why the public API
does not do and what it is used for. Keeping them here means a Keras upgrade
has one file to check (`make test-compat` runs the suite on the oldest and
newest supported Keras).

- `compute_output_spec`: runs a function on symbolic shapes (no data, no
  FLOPs). Keras's own `_symbolic_build` uses it to build the compiled loss;
  WeightedModel uses it to route labels to losses before training.
  `keras.ops` has no public twin that takes an arbitrary function of several
  structures.
- `scale_loss_for_distribution`, `unscale_loss_for_distribution`: how every
  Keras loss scales its value under `tf.distribute` (1 / replicas); a
  weighted loss must scale exactly as the built-in one does.
- `Functional`, `functional_init_arguments`: `keras.Model(inputs, outputs)`
  returns a `Functional` through these; a subclass that is built the same
  way needs them (Keras's own injection would also turn the subclass's bases
  functional).
- `CompileLoss`: the class behind `compile(loss=...)`. It routes loss
  structures (one loss, lists, dicts, nested structures, `None` entries,
  partial labels, the "crossentropy" shortcut) to outputs and keeps
  per-output loss trackers. WeightedModel subclasses it so that its routing
  and errors are Keras's own.
- `Trainer`: Keras's base trainer, whose methods the backend mixins defer to.
- `get_keras_mask`: `keras.Layer` propagates masks with this accessor;
  reading the attribute directly finds nothing under `jax.jit`, where arrays
  take no attributes.

The TensorFlow mixin (`backends/tensorflow.py`) also overrides two private
methods of Keras's TensorFlow trainer, `_make_function` (to check a tf.data
batch ahead of an XLA-compiled step) and `_maybe_symbolic_build` (the
multi-worker mend); both exist in Keras 3.8 and 3.15.
"""

from keras.src.backend import compute_output_spec
from keras.src.losses.loss import scale_loss_for_distribution, unscale_loss_for_distribution
from keras.src.models.functional import Functional
from keras.src.models.model import functional_init_arguments
from keras.src.trainers.compile_utils import CompileLoss
from keras.src.trainers.trainer import Trainer

try:  # Keras >= 3.6 keeps masks beside tensors that take no attributes (JAX).
    from keras.src.backend import get_keras_mask
except ImportError:  # pragma: no cover - older Keras sets `_keras_mask`.

    def get_keras_mask(x):
        return getattr(x, "_keras_mask", None)


__all__ = [
    "CompileLoss",
    "Functional",
    "Trainer",
    "compute_output_spec",
    "functional_init_arguments",
    "get_keras_mask",
    "scale_loss_for_distribution",
    "unscale_loss_for_distribution",
]
