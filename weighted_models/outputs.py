"""Per-output configuration: which label mode and classes each output has.

Keras's `CompileLoss` decides which loss meets which output; for each such
pair this module decides the label mode (how labels map to classes, and so how
class weights are looked up) from the loss and the static shapes, and splits
the per-output arguments WeightedModel takes (`class_weight`, `label_mode`)
into one entry per output, with errors that name the output or key at fault.
"""

import dataclasses
import numbers

import keras
import numpy as np

LABEL_MODES = ("sparse", "categorical", "binary", "multilabel")

_SPARSE_LOSSES = (
    keras.losses.SparseCategoricalCrossentropy,
    keras.losses.sparse_categorical_crossentropy,
)
_CATEGORICAL_LOSSES = (
    keras.losses.CategoricalCrossentropy,
    keras.losses.categorical_crossentropy,
    keras.losses.CategoricalFocalCrossentropy,
    keras.losses.categorical_focal_crossentropy,
)
_BINARY_LOSSES = (
    keras.losses.BinaryCrossentropy,
    keras.losses.binary_crossentropy,
    keras.losses.BinaryFocalCrossentropy,
    keras.losses.binary_focal_crossentropy,
)


@dataclasses.dataclass(frozen=True)
class OutputSpec:
    """What WeightedModel knows about one output.

    Attributes:
        name: the output's name (as Keras names its loss: `<name>_loss`).
        label_mode: one of `LABEL_MODES`, or `None` when the loss does not
            say how labels map to classes (regression, custom losses).
        num_classes: classes of a `sparse`/`categorical` output, 2 for
            `binary`, the number of labels for `multilabel`, else `None`.
        pred_rank: rank of the predictions, batch axis included. Ranks of 3
            and more carry time (or other) axes between batch and classes.
        ignore_class: the label the loss masks out (Keras's `ignore_class`
            of sparse cross-entropy), or `None`.
    """

    name: str
    label_mode: object
    num_classes: object
    pred_rank: int
    ignore_class: object = None

    @property
    def temporal(self):
        """Whether predictions carry axes between the batch and class axes."""
        return self.pred_rank >= 3

    @property
    def table_shape(self):
        """Shape of this output's class-weight table."""
        if self.label_mode == "multilabel":
            return (2, self.num_classes)
        return (self.num_classes,)

    def weight_shape(self, pred_shape):
        """Static shape of the per-element weights for predictions of `pred_shape`."""
        pred_shape = tuple(pred_shape)
        if self.label_mode == "multilabel" or len(pred_shape) < 2:
            return pred_shape
        return pred_shape[:-1]


def check_output_keys(value, names, *, what):
    """Raises `ValueError` if `value` is a dict with keys that are not in `names`."""
    if isinstance(value, dict):
        unknown = [k for k in value if k not in names]
        if unknown:
            raise ValueError(
                f"`{what}` has keys {unknown} that are not output names of this "
                f"model. Expected keys among {list(names)}. Received: {what} "
                f"keys={list(value)}"
            )


def _loss_kind(loss):
    """Which label convention a loss implies, or `None`.

    Keras's cross-entropy and focal losses are known; any other loss may
    declare it with a `label_mode` attribute, as the losses of
    `weighted_models.losses` do.
    """
    declared = getattr(loss, "label_mode", None)
    if declared is not None:
        return declared
    candidates = [loss, getattr(loss, "fn", None)]
    for obj in candidates:
        for kind, known in (
            ("sparse", _SPARSE_LOSSES),
            ("categorical", _CATEGORICAL_LOSSES),
            ("binary", _BINARY_LOSSES),
        ):
            classes = tuple(k for k in known if isinstance(k, type))
            functions = [k for k in known if not isinstance(k, type)]
            if (classes and isinstance(obj, classes)) or any(obj is f for f in functions):
                return kind
    return None


def _shape_str(shape):
    return "(" + ", ".join("batch" if i == 0 else str(d) for i, d in enumerate(shape)) + ")"


def _same_dims(a, b):
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


def detect_label_mode(name, loss, y_true_shape, y_pred_shape, override=None):
    """Decides an output's label mode from its loss and static shapes.

    Args:
        name: the output name, for error messages.
        loss: the output's `keras.losses.Loss` (or `None`).
        y_true_shape: static shape of the labels (batch axis included).
        y_pred_shape: static shape of the predictions.
        override: an explicit label mode, or `None` to detect it.

    Returns:
        `(label_mode, num_classes)`; `(None, None)` when the loss does not
        define classes (regression, custom losses without an override).

    Raises:
        ValueError: an unknown label mode, or labels whose shape does not fit
            the label mode and predictions.
    """
    y_true_shape = tuple(y_true_shape)
    y_pred_shape = tuple(y_pred_shape)
    if override is not None and override not in LABEL_MODES:
        raise ValueError(
            f"Output '{name}': unknown label_mode {override!r}. Expected one "
            f"of {LABEL_MODES} or None (detect from the loss and shapes)."
        )
    last = y_pred_shape[-1] if len(y_pred_shape) >= 2 else None
    mode = override
    if mode is None:
        kind = _loss_kind(loss)
        if kind == "binary":
            mode = "binary" if last == 1 else "multilabel"
        else:
            mode = kind
    if mode is None:
        return None, None
    if len(y_pred_shape) < 2 or last is None:
        raise ValueError(
            f"Output '{name}': label_mode '{mode}' needs predictions with a "
            f"known class axis last, shape (batch, ..., classes). Received "
            f"predictions of shape {_shape_str(y_pred_shape)}."
        )
    element = y_pred_shape[:-1]
    if mode == "sparse":
        ok = _same_dims(y_true_shape, element) or _same_dims(y_true_shape, element + (1,))
        expected = f"{_shape_str(element)} or {_shape_str(element + (1,))} (integer class indices)"
        num_classes = last
    elif mode == "binary":
        ok = last == 1 and (_same_dims(y_true_shape, y_pred_shape) or _same_dims(y_true_shape, element))
        expected = f"{_shape_str(y_pred_shape)} with one unit of prediction"
        num_classes = 2
    else:
        ok = _same_dims(y_true_shape, y_pred_shape)
        expected = f"{_shape_str(y_pred_shape)}, the shape of the predictions"
        num_classes = last
    if not ok:
        hint = ""
        if mode == "sparse" and _same_dims(y_true_shape, y_pred_shape):
            hint = " One-hot labels need label_mode='categorical' (or a categorical loss)."
        raise ValueError(
            f"Output '{name}': label_mode '{mode}' expects labels of shape "
            f"{expected} for predictions of shape {_shape_str(y_pred_shape)}. "
            f"Received labels of shape {_shape_str(y_true_shape)}.{hint}"
        )
    return mode, int(num_classes)


def _ignore_class(loss):
    """The label a loss masks out, or `None` (Keras's sparse cross-entropy)."""
    value = getattr(loss, "ignore_class", None)
    if value is None:
        value = (getattr(loss, "_fn_kwargs", None) or {}).get("ignore_class")
    return None if value is None else int(value)


def loss_spec(name, loss, y_true_shape, y_pred_shape, override=None):
    """The `OutputSpec` of one loss applied to one output.

    Args:
        name: the output name.
        loss: the `keras.losses.Loss` applied to it.
        y_true_shape: static shape of its labels.
        y_pred_shape: static shape of its predictions.
        override: an explicit label mode, or `None` to detect it.

    Returns:
        An `OutputSpec`.

    Raises:
        ValueError: as `detect_label_mode`.
    """
    mode, num_classes = detect_label_mode(name, loss, y_true_shape, y_pred_shape, override)
    return OutputSpec(
        name=name,
        label_mode=mode,
        num_classes=num_classes,
        pred_rank=len(tuple(y_pred_shape)),
        ignore_class=_ignore_class(loss) if mode == "sparse" else None,
    )


def class_index(key):
    """A `class_weight` key as an int class index, or `None` if it is not one.

    Integers and integral floats (`1.0`, what `dict(zip(np.unique(y), w))`
    gives for float labels, which Keras accepts) are class indices; booleans,
    fractions and strings are not.
    """
    if isinstance(key, (bool, np.bool_)):
        return None
    if isinstance(key, numbers.Integral):
        return int(key)
    if isinstance(key, numbers.Real) and float(key).is_integer():
        return int(key)
    return None


def _is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def split_class_weight(class_weight, output_names):
    """Splits a `class_weight` argument into one entry per output.

    Accepted forms: `None`; a strategy name (every output); for a
    single-output model a dict `{class: weight}` or a sequence of weights;
    for any model a dict keyed by output name or a list in output order
    whose entries are any of the per-output forms (or `None`).

    Args:
        class_weight: the `class_weight` argument.
        output_names: the model's output names.

    Returns:
        A list with one per-output class-weight specification per output.

    Raises:
        ValueError: keys that are neither class indices nor output names,
            per-class weights given for a multi-output model, lists of the
            wrong length.
    """
    names = list(output_names)
    n = len(names)
    from weighted_models.strategies import is_strategy

    if class_weight is None or is_strategy(class_weight):
        return [class_weight] * n
    if isinstance(class_weight, dict):
        keys = list(class_weight)
        if keys and all(isinstance(k, str) and k in names for k in keys):
            return [class_weight.get(name) for name in names]
        integer_keys = all(class_index(k) is not None for k in keys)
        if integer_keys and n == 1:
            return [class_weight]
        if integer_keys:
            raise ValueError(
                f"This model has {n} outputs {names}: key `class_weight` by "
                f"output name, e.g. {{'{names[0]}': {{0: 1.0, 1: 5.0}}}}. "
                f"Received per-class keys {keys}."
            )
        bad = [k for k in keys if not (isinstance(k, str) and k in names)]
        raise ValueError(
            "`class_weight` keys must be integer class indices (single-output "
            f"models) or output names {names}. Received keys {bad} that are "
            "neither."
        )
    values = class_weight.tolist() if isinstance(class_weight, np.ndarray) else class_weight
    if not isinstance(values, (list, tuple)):
        raise TypeError(
            "Expected `class_weight` to be None, a strategy name, a dict or a "
            f"list. Received: class_weight={class_weight!r} of type "
            f"{type(class_weight).__name__}"
        )
    per_class = len(values) > 0 and all(
        _is_number(v) or (isinstance(v, (list, tuple)) and all(_is_number(u) for u in v)) for v in values
    )
    if per_class and n == 1:
        return [class_weight]
    if per_class:
        raise ValueError(
            f"This model has {n} outputs {names}: give `class_weight` one "
            f"entry per output (a list of {n} dicts, lists, strategy names or "
            f"None), or a dict keyed by output name. Received a flat list of "
            f"{len(values)} numbers."
        )
    if len(values) != n:
        raise ValueError(
            f"`class_weight` given as a list must have one entry per output ({n}: {names}). Received {len(values)} entries."
        )
    return list(class_weight)
