"""Imbalance metrics that are correct over the epoch.

Every metric here accumulates a weighted confusion matrix over all the
batches of the epoch and computes its figure from the totals, so a metric fed
in uneven batches equals scikit-learn on the whole set (the per-batch
`K.sum(K.round(...))` functions of the Keras 2 era average batch figures
instead, which is wrong whenever batches differ in size or class mix).

Labels may be class indices (`(B,)`, `(B, 1)`, `(B, T)`), one-hot or soft
(`(B, C)`, `(B, T, C)`: the argmax is the class) or binary with a one-unit
sigmoid output (predictions above `threshold` are class 1). Sample weights
of shape `(B,)` or `(B, T)` weigh each counted element. A class "takes part"
in a macro average when it occurs in the labels or in the predictions, which
is scikit-learn's default set of labels; undefined ratios count as 0, as
with scikit-learn's `zero_division=0`.
"""

import keras
import numpy as np  # noqa: F401 - used by the doctests
from keras import ops


def _class_ids(y_true, y_pred, threshold):
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.convert_to_tensor(y_true)
    if y_pred.shape[-1] == 1:
        predicted = ops.cast(ops.squeeze(y_pred, axis=-1) > threshold, "int32")
        if len(y_true.shape) == len(y_pred.shape):
            y_true = ops.squeeze(y_true, axis=-1)
        actual = ops.cast(ops.round(ops.cast(y_true, "float32")), "int32")
        return actual, predicted
    predicted = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
    if len(y_true.shape) == len(y_pred.shape):
        if y_true.shape[-1] == 1:
            y_true = ops.squeeze(y_true, axis=-1)
        else:
            return ops.cast(ops.argmax(y_true, axis=-1), "int32"), predicted
    return ops.cast(y_true, "int32"), predicted


def _safe_divide(a, b):
    return ops.divide_no_nan(ops.cast(a, "float32"), ops.cast(b, "float32"))


def per_class_scores(confusion):
    """Per-class precision, recall, F1, specificity and support.

    Args:
        confusion: a `(C, C)` confusion matrix, rows = true class, columns =
            predicted class (weighted counts).

    Returns:
        A dict of `(C,)` tensors: `precision`, `recall`, `f1`,
        `specificity`, `support` (weighted count of true elements), and
        `present` (1.0 for classes in the labels or predictions).
    """
    confusion = ops.cast(confusion, "float32")
    tp = ops.diagonal(confusion)
    actual = ops.sum(confusion, axis=1)
    predicted = ops.sum(confusion, axis=0)
    total = ops.sum(confusion)
    fp = predicted - tp
    fn = actual - tp
    tn = total - tp - fp - fn
    return {
        "precision": _safe_divide(tp, predicted),
        "recall": _safe_divide(tp, actual),
        "f1": _safe_divide(2.0 * tp, 2.0 * tp + fp + fn),
        "specificity": _safe_divide(tn, tn + fp),
        "support": actual,
        "present": ops.cast((actual + predicted) > 0, "float32"),
    }


def _macro(values, included):
    return _safe_divide(ops.sum(values * included), ops.sum(included))


@keras.saving.register_keras_serializable(package="weighted_models")
class ConfusionMatrix(keras.metrics.Metric):
    """A weighted confusion matrix accumulated over the epoch.

    Args:
        num_classes: number of classes; the default, 2, is a binary output
            (one sigmoid unit, or two softmax units).
        threshold: decision threshold of one-unit sigmoid outputs.
        name: as for any Keras metric.
        dtype: as for any Keras metric.

    Examples:
        >>> m = ConfusionMatrix(3)
        >>> m.update_state([0, 1, 2, 2], [[.9, .1, 0], [.2, .7, .1], [.1, .8, .1], [0, .1, .9]])
        >>> keras.ops.convert_to_numpy(m.result()).tolist()
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 1.0]]
    """

    def __init__(self, num_classes=2, *, threshold=0.5, name="confusion_matrix", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"Expected `num_classes` to be an int >= 2. Received: num_classes={num_classes!r}")
        self.num_classes = num_classes
        self.threshold = threshold
        self.confusion = self.add_variable(
            shape=(num_classes, num_classes), initializer="zeros", dtype="float32", name="confusion"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        shape = getattr(y_pred, "shape", None)
        units = shape[-1] if shape else None
        if units not in (None, 1, self.num_classes):
            raise ValueError(
                f"Metric '{self.name}' counts {self.num_classes} classes, but the output it is "
                f"given has {units} units. Pass num_classes={units}"
                + (" (the default, 2, is for binary outputs)." if self.num_classes == 2 else ".")
            )
        actual, predicted = _class_ids(y_true, y_pred, self.threshold)
        n = self.num_classes
        index = ops.reshape(actual * n + predicted, (-1,))
        if sample_weight is None:
            weights = ops.ones_like(index, dtype="float32")
        else:
            sample_weight = ops.cast(sample_weight, "float32")
            while len(sample_weight.shape) > len(actual.shape) and sample_weight.shape[-1] == 1:
                sample_weight = ops.squeeze(sample_weight, axis=-1)
            while len(sample_weight.shape) < len(actual.shape):
                sample_weight = ops.expand_dims(sample_weight, axis=-1)
            weights = ops.reshape(ops.broadcast_to(sample_weight, ops.shape(actual)), (-1,))
        # A scatter-add has a static output shape (XLA needs it; bincount's
        # length depends on the data) and costs O(elements), not O(C^2).
        counts = ops.scatter(ops.expand_dims(index, -1), weights, (n * n,))
        self.confusion.assign_add(ops.reshape(counts, (n, n)))

    def result(self):
        return ops.convert_to_tensor(self.confusion)

    def reset_state(self):
        self.confusion.assign(ops.zeros((self.num_classes, self.num_classes), dtype="float32"))

    def get_config(self):
        return {"num_classes": self.num_classes, "threshold": self.threshold, **super().get_config()}


@keras.saving.register_keras_serializable(package="weighted_models")
class BalancedAccuracy(ConfusionMatrix):
    """Mean recall over the classes that occur in the labels.

    Equal to scikit-learn's `balanced_accuracy_score` (with `sample_weight`).

    Examples:
        >>> m = BalancedAccuracy(2)
        >>> m.update_state([0, 0, 0, 1], [[.9, .1], [.8, .2], [.7, .3], [.6, .4]])
        >>> float(m.result())
        0.5
    """

    def __init__(self, num_classes=2, *, threshold=0.5, name="balanced_accuracy", dtype=None):
        super().__init__(num_classes, threshold=threshold, name=name, dtype=dtype)

    def result(self):
        scores = per_class_scores(self.confusion)
        return _macro(scores["recall"], ops.cast(scores["support"] > 0, "float32"))


class _ClassScore(ConfusionMatrix):
    """A per-class score, for one class (`class_id`) or macro-averaged."""

    score = None

    def __init__(self, num_classes=2, *, class_id=None, threshold=0.5, name=None, dtype=None):
        super().__init__(num_classes, threshold=threshold, name=name or self.default_name, dtype=dtype)
        if class_id is not None and not 0 <= class_id < num_classes:
            raise ValueError(f"Expected `class_id` in [0, {num_classes}). Received: class_id={class_id}")
        self.class_id = class_id

    def result(self):
        scores = per_class_scores(self.confusion)
        values = scores[self.score]
        if self.class_id is not None:
            return values[self.class_id]
        return _macro(values, scores["present"])

    def get_config(self):
        return {"class_id": self.class_id, **super().get_config()}


@keras.saving.register_keras_serializable(package="weighted_models")
class Sensitivity(_ClassScore):
    """Sensitivity (recall, true-positive rate) of one class, or its macro average.

    `Sensitivity(class_id=1)` on a one-unit sigmoid output is the
    sensitivity of the positive class (a rare event such as a fault or a
    fraud), counted over the epoch.

    Args:
        num_classes: number of classes; the default, 2, is a binary output.
        class_id: the class, or `None` for the macro average (scikit-learn's
            `recall_score(average="macro")`).
        threshold: decision threshold of one-unit sigmoid outputs.

    Examples:
        >>> m = Sensitivity(2, class_id=1)
        >>> m.update_state([[1], [1], [0]], [[.8], [.3], [.1]])
        >>> float(m.result())
        0.5
    """

    score = "recall"
    default_name = "sensitivity"


@keras.saving.register_keras_serializable(package="weighted_models")
class Specificity(_ClassScore):
    """Specificity (true-negative rate) of one class, or its macro average.

    For class `c`: `TN / (TN + FP)`, elements of other classes correctly not
    predicted as `c`. On a binary output, the specificity of class 1 is the
    recall of class 0.

    Examples:
        >>> m = Specificity(2, class_id=1)
        >>> m.update_state([[1], [0], [0]], [[.8], [.7], [.1]])
        >>> float(m.result())
        0.5
    """

    score = "specificity"
    default_name = "specificity"


@keras.saving.register_keras_serializable(package="weighted_models")
class MacroF1(_ClassScore):
    """Macro-averaged F1 over the epoch: scikit-learn's `f1_score(average="macro")`.

    Examples:
        >>> m = MacroF1(3)
        >>> m.update_state([0, 1, 2], [[1, 0, 0], [0, 1, 0], [0, 1, 0]])
        >>> round(float(m.result()), 4)
        0.5556
    """

    score = "f1"
    default_name = "macro_f1"


@keras.saving.register_keras_serializable(package="weighted_models")
class WeightedF1(ConfusionMatrix):
    """Support-weighted F1 over the epoch: scikit-learn's `f1_score(average="weighted")`.

    Examples:
        >>> m = WeightedF1(3)
        >>> m.update_state([0, 1, 2], [[1, 0, 0], [0, 1, 0], [0, 1, 0]])
        >>> round(float(m.result()), 4)
        0.5556
    """

    def __init__(self, num_classes=2, *, threshold=0.5, name="weighted_f1", dtype=None):
        super().__init__(num_classes, threshold=threshold, name=name, dtype=dtype)

    def result(self):
        scores = per_class_scores(self.confusion)
        return _safe_divide(ops.sum(scores["f1"] * scores["support"]), ops.sum(scores["support"]))


@keras.saving.register_keras_serializable(package="weighted_models")
class PerClassRecall(ConfusionMatrix):
    """Recall of every class over the epoch, logged as `<name>_<class>`.

    Examples:
        >>> m = PerClassRecall(2)
        >>> m.update_state([0, 0, 1], [[.9, .1], [.4, .6], [.2, .8]])
        >>> {k: float(v) for k, v in m.result().items()}
        {'recall_0': 0.5, 'recall_1': 1.0}
    """

    def __init__(self, num_classes=2, *, threshold=0.5, name="recall", dtype=None):
        super().__init__(num_classes, threshold=threshold, name=name, dtype=dtype)

    def result(self):
        recall = per_class_scores(self.confusion)["recall"]
        return {f"{self.name}_{c}": recall[c] for c in range(self.num_classes)}


@keras.saving.register_keras_serializable(package="weighted_models")
class PRAUC(keras.metrics.AUC):
    """Area under the precision-recall curve, over the epoch.

    Keras's `AUC(curve="PR")` on the positive class for binary outputs (one
    sigmoid unit, or two softmax units); for more classes, one-vs-rest per
    class from integer or one-hot labels, macro-averaged. Temporal outputs
    count every timestep.

    Args:
        num_classes: number of classes (2 for binary outputs).
        num_thresholds: thresholds of the curve's approximation.
        name: as for any Keras metric.
        dtype: as for any Keras metric.

    Examples:
        >>> m = PRAUC(2)
        >>> m.update_state(np.array([[0.0], [1.0], [1.0]]), np.array([[0.1], [0.9], [0.8]]))
        >>> round(float(m.result()), 2)
        1.0
    """

    def __init__(self, num_classes, *, num_thresholds=200, name="pr_auc", dtype=None):
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"Expected `num_classes` to be an int >= 2. Received: num_classes={num_classes!r}")
        self.num_classes = num_classes
        multi = num_classes > 2
        super().__init__(
            num_thresholds=num_thresholds,
            curve="PR",
            name=name,
            dtype=dtype,
            multi_label=multi,
            num_labels=num_classes if multi else None,
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.convert_to_tensor(y_true)
        units = y_pred.shape[-1]
        if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == 1 and units > 1:
            y_true = ops.squeeze(y_true, axis=-1)
        if units > 1 and len(y_true.shape) < len(y_pred.shape):
            y_true = ops.one_hot(ops.cast(y_true, "int32"), units)
        if units == 2:
            y_true, y_pred = y_true[..., 1:], y_pred[..., 1:]
        if len(y_pred.shape) > 2:
            if sample_weight is not None:
                sw = ops.cast(sample_weight, "float32")
                while len(sw.shape) < len(y_pred.shape) - 1:
                    sw = ops.expand_dims(sw, -1)
                sample_weight = ops.reshape(ops.broadcast_to(sw, ops.shape(y_pred)[:-1]), (-1,))
            y_true = ops.reshape(y_true, (-1, y_true.shape[-1]))
            y_pred = ops.reshape(y_pred, (-1, y_pred.shape[-1]))
        return super().update_state(y_true, y_pred, sample_weight)

    def get_config(self):
        return {"num_classes": self.num_classes, "num_thresholds": self.num_thresholds, "name": self.name, "dtype": self.dtype}
