"""Host-side class-weight tables: from user weights or computed from labels.

A table holds the weights of one output: `(C,)` for `sparse` and
`categorical` outputs, `(2,)` = `[w_neg, w_pos]` for `binary` outputs and
`(2, L)` (rows: negative, positive) for `multilabel` outputs with `L` labels
(each label is its own binary problem).

Strategies compute a table from the class counts `n_c` of the training
labels (elements whose sample weight is 0, such as padded timesteps, are not
counted):

- `Balanced()` / `"balanced"`: scikit-learn's `compute_class_weight`,
  `w_c = N / (C * n_c)`.
- `InversePower(power)` / `"sqrt"` (`power=0.5`): `w_c ∝ n_c ** -power`.
- `EffectiveNumber(beta)` / `"effective_number"`: Cui et al., "Class-Balanced
  Loss Based on Effective Number of Samples", CVPR 2019:
  `w_c ∝ (1 - beta) / (1 - beta ** n_c)`.

Normalisation: every table satisfies `sum_c w_c * n_c = N` (per label for
multilabel outputs), as scikit-learn's "balanced" does. The weighted number
of samples then equals the unweighted one, so the mean weight is 1 and the
learning rate keeps its meaning. (Cui et al. instead normalise to
`sum_c w_c = C`, which changes the effective learning rate with the
imbalance.) A class that never occurs has no finite weight: every strategy
raises, as scikit-learn does.
"""

import keras
import numpy as np

from weighted_models.outputs import class_index

STRATEGIES = ("balanced", "sqrt", "effective_number")


class LabelCounts:
    """Accumulates the class counts of one output over batches of labels.

    One vectorised pass per batch (`np.bincount` for class indices, sums for
    one-hot, binary and multi-hot labels); elements whose sample weight is 0
    are not counted.

    Args:
        label_mode: `"sparse"`, `"categorical"`, `"binary"` or `"multilabel"`.
        num_classes: number of classes (labels for `multilabel`); for
            `sparse` labels `None` grows the counts to the largest label seen.
        name: the output name, for error messages.
        ignore_class: a `sparse` label the loss masks out; not counted.
    """

    def __init__(self, label_mode, num_classes=None, *, name="output", ignore_class=None):
        self.label_mode = label_mode
        self.ignore_class = ignore_class
        self.num_classes = 2 if label_mode == "binary" else num_classes
        self.name = name
        if label_mode == "multilabel":
            self.counts = None if num_classes is None else np.zeros((2, num_classes))
        else:
            self.counts = np.zeros(self.num_classes or 0)

    def _keep(self, grid, sample_weight):
        if sample_weight is None:
            return None
        sw = np.asarray(sample_weight, dtype="float64")
        while sw.ndim > len(grid) and sw.shape[-1] == 1:
            sw = sw[..., 0]
        sw = sw.reshape(sw.shape + (1,) * (len(grid) - sw.ndim))
        return np.broadcast_to(sw > 0, grid)

    def update(self, y_true, sample_weight=None):
        """Adds one batch of labels (and optional sample weights)."""
        y = np.asarray(y_true)
        if self.label_mode == "sparse":
            labels = y.astype("int64")
            keep = self._keep(labels.shape, sample_weight)
            labels = labels.ravel() if keep is None else labels[keep]
            if self.ignore_class is not None:
                labels = labels[labels != self.ignore_class]
            if labels.size and labels.min() < 0:
                raise ValueError(f"Output '{self.name}': class indices must be >= 0. Received {labels.min()}.")
            found = np.bincount(labels, minlength=len(self.counts))
            if self.num_classes is not None and len(found) > self.num_classes:
                raise ValueError(
                    f"Output '{self.name}': labels must be class indices in [0, {self.num_classes}). Received {len(found) - 1}."
                )
            if len(found) > len(self.counts):
                self.counts = np.pad(self.counts, (0, len(found) - len(self.counts)))
            self.counts += found
            return self
        y = y.astype("float64")
        if self.label_mode == "categorical":
            keep = self._keep(y.shape[:-1], sample_weight)
            y = y.reshape(-1, y.shape[-1]) if keep is None else y[keep]
            if self.counts.size == 0:
                self.counts = np.zeros(y.shape[-1])
            self.counts += y.sum(axis=0)
            return self
        keep = self._keep(y.shape, sample_weight)
        pos = y if keep is None else np.where(keep, y, 0.0)
        neg = (1.0 - y) if keep is None else np.where(keep, 1.0 - y, 0.0)
        if self.label_mode == "binary":
            self.counts += [neg.sum(), pos.sum()]
        else:
            axes = tuple(range(y.ndim - 1))
            found = np.stack([neg.sum(axis=axes), pos.sum(axis=axes)])
            self.counts = found if self.counts is None else self.counts + found
        return self


def _check_counts(counts, name, strategy):
    missing = np.argwhere(counts == 0)
    if not missing.size:
        return
    if counts.ndim == 1:
        what = f"classes {missing[:, 0].tolist()} do not occur"
    else:
        sides = {0: "negative", 1: "positive"}
        what = ", ".join(f"label {c} has no {sides[s]} example" for s, c in missing.tolist())
    raise ValueError(
        f"Output '{name}': class_weight='{strategy}' needs every class in the "
        f"training labels, but {what}. Give explicit weights instead."
    )


class Strategy:
    """A rule that turns class counts into a class-weight table.

    Subclasses implement `raw_weights(counts)`: weights up to a positive
    factor per table column; `__call__` normalises them so that
    `sum_c w_c * n_c = N`.
    """

    name = "strategy"

    def raw_weights(self, counts):
        raise NotImplementedError

    def __call__(self, counts, *, name="output"):
        """The normalised table for `counts` (`(C,)` or `(2, L)`), float32.

        Raises:
            ValueError: a class (or label side) that never occurs.
        """
        counts = np.asarray(counts, dtype="float64")
        _check_counts(counts, name, self.name)
        raw = self.raw_weights(counts)
        table = raw * counts.sum(axis=0) / (raw * counts).sum(axis=0)
        return table.astype("float32")

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


@keras.saving.register_keras_serializable(package="weighted_models")
class Balanced(Strategy):
    """scikit-learn's "balanced" weights, `w_c = N / (C * n_c)`.

    Examples:
        >>> Balanced()(np.array([6.0, 2.0])).tolist()
        [0.6666666865348816, 2.0]
    """

    name = "balanced"

    def __call__(self, counts, *, name="output"):
        counts = np.asarray(counts, dtype="float64")
        _check_counts(counts, name, self.name)
        # scikit-learn's own expression, for identical rounding.
        return (counts.sum(axis=0) / (counts.shape[0] * counts)).astype("float32")

    def raw_weights(self, counts):
        return 1.0 / counts


@keras.saving.register_keras_serializable(package="weighted_models")
class InversePower(Strategy):
    """Inverse-power weights `w_c ∝ n_c ** -power` (`"sqrt"`: power 0.5).

    `power=1` gives the balanced weights, `power=0` uniform weights.

    Args:
        power: the exponent, >= 0.

    Examples:
        >>> InversePower(0.5)(np.array([9.0, 1.0])).tolist()
        [0.8333333134651184, 2.5]
    """

    def __init__(self, power=0.5):
        if not np.isfinite(power) or power < 0:
            raise ValueError(f"Expected `power` >= 0. Received: power={power}")
        self.power = float(power)
        self.name = "sqrt" if self.power == 0.5 else f"inverse_power({self.power:g})"

    def raw_weights(self, counts):
        return counts**-self.power

    def get_config(self):
        return {"power": self.power}


@keras.saving.register_keras_serializable(package="weighted_models")
class EffectiveNumber(Strategy):
    """Class-balanced weights from the effective number of samples.

    Cui et al., "Class-Balanced Loss Based on Effective Number of Samples",
    CVPR 2019: `w_c ∝ (1 - beta) / (1 - beta ** n_c)`. `beta = 0` gives
    uniform weights; `beta -> 1` approaches the balanced weights.

    Args:
        beta: in `[0, 1)`; Cui et al. use 0.9 to 0.9999.

    Examples:
        >>> [round(float(w), 3) for w in EffectiveNumber(0.9)(np.array([100.0, 1.0]))]
        [0.918, 9.182]
    """

    name = "effective_number"

    def __init__(self, beta=0.999):
        if not 0 <= beta < 1:
            raise ValueError(f"Expected `beta` in [0, 1). Received: beta={beta}")
        self.beta = float(beta)

    def raw_weights(self, counts):
        if self.beta == 0:
            return np.ones_like(counts)
        # 1 - beta**n computed as -expm1(n log beta): exact for beta near 1.
        return (1.0 - self.beta) / -np.expm1(counts * np.log(self.beta))

    def get_config(self):
        return {"beta": self.beta}


def get_strategy(identifier, *, name="output"):
    """Returns the `Strategy` for a name, a config dict or a `Strategy`.

    Raises:
        ValueError: an unknown strategy name.
    """
    if isinstance(identifier, Strategy):
        return identifier
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    known = {"balanced": Balanced, "sqrt": InversePower, "effective_number": EffectiveNumber}
    if identifier not in known:
        raise ValueError(
            f"Output '{name}': unknown class_weight strategy {identifier!r}. "
            f"Expected one of {STRATEGIES}, a Strategy such as "
            f"EffectiveNumber(beta=0.99), a dict or a list of weights."
        )
    return known[identifier]()


def is_strategy(value):
    """Whether `value` is a strategy (computed from the labels)."""
    return isinstance(value, (str, Strategy))


def check_strategy(value, name):
    """Raises a `ValueError` for unknown strategy names."""
    get_strategy(value, name=name)


def _batches_of(labels, sample_weight):
    if hasattr(labels, "shape") or isinstance(labels, (list, tuple)) and labels and np.isscalar(labels[0]):
        yield labels, sample_weight
        return
    if sample_weight is not None:
        raise ValueError("Pass sample weights inside the batches when counting a stream.")
    for batch in labels:
        if isinstance(batch, (tuple, list)):
            _, y, sw = keras.utils.unpack_x_y_sample_weight(tuple(batch))
            yield y, sw
        else:
            yield batch, None


def count_labels(labels, *, label_mode="sparse", num_classes=None, sample_weight=None):
    """Class counts of labels, from an array or a stream of batches, in one pass.

    Args:
        labels: an array of labels, or an iterable of batches (a
            `tf.data.Dataset`, a generator, a list): each batch is a labels
            array or an `(x, y)` / `(x, y, sample_weight)` tuple.
        label_mode: `"sparse"`, `"categorical"`, `"binary"` or `"multilabel"`.
        num_classes: number of classes (see `LabelCounts`).
        sample_weight: sample weights of an array of labels; elements with
            weight 0 are not counted.

    Returns:
        `(C,)` counts, or `(2, L)` negative/positive counts for multilabel.

    Examples:
        >>> count_labels(np.array([[0, 2], [2, 2]]), num_classes=4).tolist()
        [1.0, 0.0, 3.0, 0.0]
    """
    counter = LabelCounts(label_mode, num_classes)
    for y, sw in _batches_of(labels, sample_weight):
        counter.update(keras.tree.map_structure(np.asarray, y), sw)
    return counter.counts


def compute_class_weight(strategy, labels, *, label_mode="sparse", num_classes=None, sample_weight=None):
    """A class-weight table computed from labels with a strategy.

    Args:
        strategy: `"balanced"`, `"sqrt"`, `"effective_number"` or a `Strategy`.
        labels: as in `count_labels`.
        label_mode: as in `count_labels`.
        num_classes: as in `count_labels`.
        sample_weight: as in `count_labels`.

    Returns:
        The table as a float32 NumPy array, usable as `class_weight`.

    Raises:
        ValueError: an unknown strategy, or a class that never occurs.

    Examples:
        >>> compute_class_weight("balanced", np.array([0, 0, 0, 1])).tolist()
        [0.6666666865348816, 2.0]
    """
    counts = count_labels(labels, label_mode=label_mode, num_classes=num_classes, sample_weight=sample_weight)
    return get_strategy(strategy)(counts, name="labels")


def _check_weight_values(values, name, key=None):
    values = np.asarray(values, dtype="float64")
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        where = "" if key is None else f" for class {key}"
        raise ValueError(
            f"Output '{name}': class weights must be finite and >= 0. Received {values[bad].ravel()[:5].tolist()}{where}."
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
            index = class_index(key)
            if index is None:
                raise TypeError(
                    f"Output '{name}': class_weight keys must be integer class "
                    f"indices. Received key {key!r} of type {type(key).__name__}."
                )
            key = index
            if not 0 <= key < n:
                raise ValueError(
                    f"Output '{name}': class_weight key {key} is outside the output's classes [0, {n}) ({n} classes)."
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


def table_from_strategy(strategy, counts, spec):
    """Builds an output's table from a strategy and its label counts."""
    return get_strategy(strategy, name=spec.name)(counts, name=spec.name)
