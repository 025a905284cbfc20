"""Host-side class-weight tables: from user dicts/lists or computed from labels.

A table holds one weight per class of an output: `(C,)` for `sparse` and
`categorical` outputs, `(2,)` = `[w_neg, w_pos]` for `binary` outputs and
`(2, L)` (rows: negative, positive) for `multilabel` outputs with `L` labels.

Strategies computed from the training labels:

- `"balanced"`: scikit-learn's `compute_class_weight("balanced")`,
  `w_c = n / (C * n_c)`, so that `sum_c w_c * n_c = n`: the weighted number
  of samples equals the unweighted one and the learning rate keeps its
  meaning. Every class must occur in the labels (scikit-learn raises too).
  Multilabel outputs are balanced label by label as binary problems.
"""

import numbers

import numpy as np

STRATEGIES = ("balanced",)


class LabelCounts:
    """Accumulates per-class counts of one output over batches of labels.

    Elements whose sample weight is 0 (padding) are not counted.

    Args:
        spec: the output's `OutputSpec`.
    """

    def __init__(self, spec):
        self.spec = spec
        self.counts = np.zeros(spec.table_shape, dtype="float64")

    def update(self, y_true, sample_weight=None):
        """Adds one batch of labels (and optional sample weights)."""
        spec = self.spec
        y = np.asarray(y_true)
        if spec.label_mode in ("sparse", "binary") and y.ndim == spec.pred_rank:
            y = y[..., 0]
        keep = None
        if sample_weight is not None:
            sw = np.asarray(sample_weight, dtype="float64")
            if sw.ndim > 1 and sw.shape[-1] == 1 and sw.ndim == spec.weight_rank + 1:
                sw = sw[..., 0]
            grid = y.shape if spec.label_mode != "categorical" else y.shape[:-1]
            sw = sw.reshape(sw.shape + (1,) * (len(grid) - sw.ndim))
            keep = np.broadcast_to(sw > 0, grid)
        if spec.label_mode == "sparse":
            labels = y.astype("int64")
            if keep is not None:
                labels = labels[keep]
            self.counts += np.bincount(labels.ravel(), minlength=spec.num_classes)
        elif spec.label_mode == "categorical":
            y = y.astype("float64")
            if keep is not None:
                y = y[keep]
            self.counts += y.reshape(-1, spec.num_classes).sum(axis=0)
        else:
            y = y.astype("float64")
            k = np.ones_like(y, dtype=bool) if keep is None else keep
            pos = np.where(k, y, 0.0)
            neg = np.where(k, 1.0 - y, 0.0)
            if spec.label_mode == "binary":
                self.counts += [neg.sum(), pos.sum()]
            else:
                axes = tuple(range(y.ndim - 1))
                self.counts += np.stack([neg.sum(axis=axes), pos.sum(axis=axes)])


def balanced_table(counts, *, name="output"):
    """scikit-learn's "balanced" weights `n / (C * n_c)` from class counts.

    Args:
        counts: `(C,)` class counts, or `(2, L)` negative/positive counts per
            label (each label is balanced as its own binary problem).
        name: the output name, for error messages.

    Returns:
        The class-weight table, float32.

    Raises:
        ValueError: a class (or label side) that never occurs.

    Example:

    >>> balanced_table(np.array([6.0, 2.0])).tolist()
    [0.6666666865348816, 2.0]
    """
    counts = np.asarray(counts, dtype="float64")
    missing = np.argwhere(counts == 0)
    if missing.size:
        if counts.ndim == 1:
            what = f"classes {missing[:, 0].tolist()} do not occur"
        else:
            sides = {0: "negative", 1: "positive"}
            what = ", ".join(f"label {l} has no {sides[s]} example" for s, l in missing.tolist())
        raise ValueError(
            f"Output '{name}': class_weight='balanced' needs every class in "
            f"the training labels, but {what}. Give explicit weights instead."
        )
    n_classes = counts.shape[0]
    total = counts.sum(axis=0)
    return (total / (n_classes * counts)).astype("float32")


def _check_weight_values(values, name, key=None):
    values = np.asarray(values, dtype="float64")
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        where = "" if key is None else f" for class {key}"
        raise ValueError(
            f"Output '{name}': class weights must be finite and >= 0. "
            f"Received {values[bad].ravel()[:5].tolist()}{where}."
        )


def table_from_weights(class_weight, spec):
    """Builds an output's table from a dict or a list/array of weights.

    Args:
        class_weight: for `sparse`/`categorical`/`binary` outputs a dict
            `{class_index: weight}` (missing classes weigh 1.0, as in Keras)
            or a sequence of one weight per class. For `multilabel` outputs a
            dict `{label: w_pos}` or `{label: (w_neg, w_pos)}`, a sequence of
            `L` positive weights, or an array of shape `(2, L)`.
        spec: the output's `OutputSpec`.

    Returns:
        The table as a float32 NumPy array of shape `spec.table_shape`.

    Raises:
        ValueError: keys outside the output's classes, tables of the wrong
            length, negative/NaN/inf weights.
        TypeError: keys that are not integers.
    """
    name, n = spec.name, spec.num_classes
    multilabel = spec.label_mode == "multilabel"
    table = np.ones(spec.table_shape, dtype="float64")
    if isinstance(class_weight, dict):
        for key, value in class_weight.items():
            if isinstance(key, bool) or not isinstance(key, numbers.Integral):
                raise TypeError(
                    f"Output '{name}': class_weight keys must be integer class "
                    f"indices. Received key {key!r} of type {type(key).__name__}."
                )
            if not 0 <= key < n:
                raise ValueError(
                    f"Output '{name}': class_weight key {key} is outside the "
                    f"output's classes [0, {n}) ({n} classes)."
                )
            _check_weight_values(value, name, key)
            if multilabel:
                value = np.asarray(value, dtype="float64")
                if value.ndim == 0:
                    table[1, key] = value
                elif value.shape == (2,):
                    table[:, key] = value
                else:
                    raise ValueError(
                        f"Output '{name}': a multilabel class weight is w_pos or "
                        f"(w_neg, w_pos). Received {value.tolist()} for label {key}."
                    )
            else:
                table[key] = float(value)
        return table.astype("float32")
    values = np.asarray(class_weight, dtype="float64")
    if multilabel and values.shape == (n,):
        table[1] = values
    elif values.shape == spec.table_shape:
        table = values
    else:
        expected = f"({n},) or (2, {n})" if multilabel else f"({n},)"
        raise ValueError(
            f"Output '{name}': class_weight as a sequence must have shape "
            f"{expected}, one weight per class. Received shape {values.shape}."
        )
    _check_weight_values(table, name)
    return table.astype("float32")


def is_strategy(value):
    """Whether `value` names a strategy computed from the labels."""
    return isinstance(value, str)


def check_strategy(value, name):
    """Raises a `ValueError` for unknown strategy names."""
    if value not in STRATEGIES:
        raise ValueError(
            f"Output '{name}': unknown class_weight strategy {value!r}. "
            f"Expected one of {STRATEGIES}, a dict or a list of weights."
        )


def table_from_strategy(strategy, counts, spec):
    """Builds an output's table from a strategy and its label counts."""
    check_strategy(strategy, spec.name)
    return balanced_table(counts, name=spec.name)
