"""Losses beyond reweighting, usable with WeightedModel and with class weights.

- `SparseCategoricalFocalCrossentropy`: focal loss (Lin et al., ICCV 2017)
  for integer labels; Keras has only the binary and categorical versions.
- `LogitAdjustedCrossentropy`: the logit-adjusted loss of Menon et al.,
  "Long-tail learning via logit adjustment", ICLR 2021: cross-entropy of
  `logits + tau * log(prior)`.
- `LogitAdjustment` / `adjust_logits`: Menon et al.'s post-hoc adjustment
  at prediction, `logits - tau * log(prior)`, for a model trained without it.
- `BalancedSoftmaxCrossentropy`: Balanced Softmax (Ren et al., NeurIPS 2020),
  cross-entropy of `logits + log(counts)`.
- `LDAMLoss`: the label-distribution-aware margin loss (Cao et al., NeurIPS
  2019): a per-class margin `C / n_c ** (1/4)` taken off the true class's
  logit, before a scaled cross-entropy.

Each loss declares its `label_mode`, so WeightedModel knows how class
weights map onto its labels.
"""

import keras
import numpy as np
from keras import ops


def _prior(prior):
    prior = np.asarray(prior, dtype="float64")
    if prior.ndim != 1 or prior.size < 2 or np.any(~np.isfinite(prior)) or np.any(prior <= 0):
        raise ValueError(
            "Expected `prior` to be class counts or probabilities: a 1-D "
            f"sequence of at least 2 positive, finite values. Received: prior={prior.tolist()}"
        )
    return prior / prior.sum()


def _log_probs_or_logits(y_pred, from_logits):
    if from_logits:
        return y_pred
    # log p is a logit up to a per-sample constant, which softmax ignores.
    return ops.log(ops.clip(y_pred, keras.config.epsilon(), 1.0))


@keras.saving.register_keras_serializable(package="weighted_models")
class SparseCategoricalFocalCrossentropy(keras.losses.Loss):
    """Focal loss for integer class labels: `-alpha_y (1 - p_y)^gamma log p_y`.

    Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017. Equal to
    Keras's `CategoricalFocalCrossentropy` on the one-hot labels.

    Args:
        alpha: a scalar, or one weight per class (`alpha_y` of the label), or
            `None` for 1.
        gamma: focusing parameter, >= 0 (0 gives the cross-entropy).
        from_logits: whether predictions are logits.
        reduction: as for any Keras loss.
        name: as for any Keras loss.
        dtype: as for any Keras loss.

    Examples:
        >>> loss = SparseCategoricalFocalCrossentropy(gamma=2.0)
        >>> round(float(loss(np.array([1]), np.array([[0.2, 0.8]]))), 5)  # 0.2**2 * -log(0.8)
        0.00893
    """

    label_mode = "sparse"

    def __init__(
        self,
        alpha=None,
        gamma=2.0,
        from_logits=False,
        reduction="sum_over_batch_size",
        name="sparse_categorical_focal_crossentropy",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if gamma < 0:
            raise ValueError(f"Expected `gamma` >= 0. Received: gamma={gamma}")
        if alpha is not None and np.any(np.asarray(alpha) < 0):
            raise ValueError(f"Expected `alpha` >= 0. Received: alpha={alpha}")
        self.alpha = alpha if alpha is None or np.isscalar(alpha) else [float(a) for a in alpha]
        self.gamma = float(gamma)
        self.from_logits = from_logits

    def call(self, y_true, y_pred):
        y_true = ops.convert_to_tensor(y_true)
        if len(y_true.shape) == len(y_pred.shape):
            y_true = ops.squeeze(y_true, axis=-1)
        labels = ops.cast(y_true, "int32")
        if self.from_logits:
            log_p = ops.log_softmax(y_pred, axis=-1)
        else:
            probs = y_pred / ops.sum(y_pred, axis=-1, keepdims=True)
            log_p = ops.log(ops.clip(probs, keras.config.epsilon(), 1.0 - keras.config.epsilon()))
        one_hot = ops.one_hot(labels, y_pred.shape[-1], dtype=log_p.dtype)
        log_p_true = ops.sum(one_hot * log_p, axis=-1)
        focal = ops.power(1.0 - ops.exp(log_p_true), self.gamma)
        loss = -focal * log_p_true
        if self.alpha is None:
            return loss
        if np.isscalar(self.alpha):
            return self.alpha * loss
        alpha = ops.convert_to_tensor(np.asarray(self.alpha, "float32"), dtype=loss.dtype)
        return ops.take(alpha, labels) * loss

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "gamma": self.gamma, "from_logits": self.from_logits}


@keras.saving.register_keras_serializable(package="weighted_models")
class LogitAdjustedCrossentropy(keras.losses.Loss):
    """Logit-adjusted cross-entropy (Menon et al., ICLR 2021).

    The loss is the cross-entropy of `softmax(logits + tau * log(prior))`:
    frequent classes get a head start during training, so the model's own
    logits learn the balanced (prior-free) scores. Predict with the raw
    logits; no adjustment is needed afterwards.

    Args:
        prior: class counts or class probabilities (normalised here), e.g.
            `count_labels(y_train, num_classes=C)`.
        tau: adjustment strength; 1.0 is Menon et al.'s default.
        sparse: integer labels (`True`) or one-hot/soft labels (`False`).
        from_logits: whether predictions are logits (else probabilities,
            whose log is used as logits).
        reduction: as for any Keras loss.
        name: as for any Keras loss.
        dtype: as for any Keras loss.

    Examples:
        >>> loss = LogitAdjustedCrossentropy(prior=[0.9, 0.1], tau=1.0)
        >>> round(float(loss(np.array([1]), np.array([[0.0, 0.0]]))), 5)  # -log(0.1 / (0.9 + 0.1))
        2.30259
    """

    def __init__(
        self,
        prior,
        tau=1.0,
        sparse=True,
        from_logits=True,
        reduction="sum_over_batch_size",
        name="logit_adjusted_crossentropy",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.prior = _prior(prior).tolist()
        if not np.isfinite(tau):
            raise ValueError(f"Expected a finite `tau`. Received: tau={tau}")
        self.tau = float(tau)
        self.sparse = sparse
        self.from_logits = from_logits
        self.label_mode = "sparse" if sparse else "categorical"

    def call(self, y_true, y_pred):
        if y_pred.shape[-1] != len(self.prior):
            raise ValueError(
                f"`prior` has {len(self.prior)} classes but the predictions have "
                f"{y_pred.shape[-1]}. Received predictions of shape {tuple(y_pred.shape)}."
            )
        log_prior = ops.convert_to_tensor(np.log(self.prior).astype("float32"), dtype=y_pred.dtype)
        logits = _log_probs_or_logits(y_pred, self.from_logits) + self.tau * log_prior
        if self.sparse:
            return keras.losses.sparse_categorical_crossentropy(y_true, logits, from_logits=True)
        return keras.losses.categorical_crossentropy(y_true, logits, from_logits=True)

    def get_config(self):
        return {
            **super().get_config(),
            "prior": self.prior,
            "tau": self.tau,
            "sparse": self.sparse,
            "from_logits": self.from_logits,
        }


@keras.saving.register_keras_serializable(package="weighted_models")
class BalancedSoftmaxCrossentropy(LogitAdjustedCrossentropy):
    """Balanced Softmax cross-entropy (Ren et al., NeurIPS 2020).

    The cross-entropy of `softmax(logits + log(counts))`: the softmax is
    corrected for the label distribution of the training set, so the logits
    learn scores for a balanced one. It is the logit-adjusted loss with
    `tau = 1` (Menon et al. and Ren et al. arrive at the same loss), kept
    under its own name because that is how the papers compare it. Predict with
    the raw logits.

    Args:
        counts: training counts (or probabilities) of the classes, e.g.
            `count_labels(y_train, num_classes=C)`.
        sparse: integer labels (`True`) or one-hot/soft labels (`False`).
        from_logits: whether predictions are logits (else probabilities,
            whose log is used as logits).
        reduction: as for any Keras loss.
        name: as for any Keras loss.
        dtype: as for any Keras loss.

    Raises:
        ValueError: `counts` are not at least 2 positive, finite values.

    Examples:
        >>> loss = BalancedSoftmaxCrossentropy(counts=[90, 10])
        >>> round(float(loss(np.array([1]), np.array([[0.0, 0.0]]))), 5)  # -log(10 / 100)
        2.30259
    """

    def __init__(
        self,
        counts,
        sparse=True,
        from_logits=True,
        reduction="sum_over_batch_size",
        name="balanced_softmax_crossentropy",
        dtype=None,
    ):
        super().__init__(counts, tau=1.0, sparse=sparse, from_logits=from_logits, reduction=reduction, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        config["counts"] = config.pop("prior")
        del config["tau"]
        return config


@keras.saving.register_keras_serializable(package="weighted_models")
class LDAMLoss(keras.losses.Loss):
    """The label-distribution-aware margin loss (Cao et al., NeurIPS 2019).

    Each class `c` gets a margin `m_c = C / n_c ** (1/4)`, with `C` set so that
    the largest margin (the rarest class's) is `max_margin`. The margin is
    taken off the logit of the true class and the result is scaled before the
    softmax cross-entropy:

        loss = cross_entropy(y, scale * (logits - sum_c y_c m_c e_c))

    (for one-hot labels, `m_y` off the true logit). Cao et al. use it on
    cosine logits (a normalised last layer, hence `scale = 30` in their code)
    and combine it with deferred re-weighting (LDAM-DRW): train with it, then
    add class weights for the last epochs with `DeferredReweighting`. For an
    ordinary `Dense` layer's logits, use `scale=1`.

    Args:
        counts: training counts of the classes, e.g.
            `count_labels(y_train, num_classes=C)`.
        max_margin: the margin of the rarest class (0.5 in the paper).
        scale: the factor on the margin-adjusted logits (`s`, 30 in the
            paper's code for cosine logits).
        sparse: integer labels (`True`) or one-hot/soft labels (`False`).
        reduction: as for any Keras loss.
        name: as for any Keras loss.
        dtype: as for any Keras loss.

    Raises:
        ValueError: `counts` are not at least 2 positive, finite values, or
            `max_margin` or `scale` is not positive and finite.

    Examples:
        >>> loss = LDAMLoss(counts=[10000, 1], max_margin=0.5, scale=1.0)
        >>> [round(m, 3) for m in loss.margins]
        [0.05, 0.5]
        >>> round(float(loss(np.array([1]), np.array([[0.0, 0.0]]))), 5)  # -log softmax([0, -0.5])[1]
        0.97408
    """

    def __init__(
        self,
        counts,
        max_margin=0.5,
        scale=30.0,
        sparse=True,
        reduction="sum_over_batch_size",
        name="ldam_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        share = _prior(counts)  # validated; the margins depend on the ratios only
        for key, value in (("max_margin", max_margin), ("scale", scale)):
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"Expected `{key}` > 0 and finite. Received: {key}={value}")
        raw = share**-0.25
        self.margins = (raw * (max_margin / raw.max())).tolist()
        self.counts = [float(c) for c in np.asarray(counts, "float64")]
        self.max_margin = float(max_margin)
        self.scale = float(scale)
        self.sparse = sparse
        self.label_mode = "sparse" if sparse else "categorical"

    def call(self, y_true, y_pred):
        classes = len(self.margins)
        if y_pred.shape[-1] != classes:
            raise ValueError(
                f"`counts` has {classes} classes but the predictions have "
                f"{y_pred.shape[-1]}. Received predictions of shape {tuple(y_pred.shape)}."
            )
        y_true = ops.convert_to_tensor(y_true)
        if self.sparse:
            if len(y_true.shape) == len(y_pred.shape):
                y_true = ops.squeeze(y_true, axis=-1)
            y_true = ops.one_hot(ops.cast(y_true, "int32"), classes, dtype=y_pred.dtype)
        else:
            y_true = ops.cast(y_true, y_pred.dtype)
        margins = ops.convert_to_tensor(np.asarray(self.margins, "float32"), dtype=y_pred.dtype)
        logits = self.scale * (y_pred - y_true * margins)
        return keras.losses.categorical_crossentropy(y_true, logits, from_logits=True)

    def get_config(self):
        return {
            **super().get_config(),
            "counts": self.counts,
            "max_margin": self.max_margin,
            "scale": self.scale,
            "sparse": self.sparse,
        }


def adjust_logits(y_pred, prior, *, tau=1.0, from_logits=True):
    """Post-hoc logit adjustment (Menon et al., ICLR 2021): `logits - tau * log(prior)`.

    Args:
        y_pred: logits (or probabilities with `from_logits=False`).
        prior: class counts or probabilities of the training labels.
        tau: adjustment strength.
        from_logits: whether `y_pred` are logits.

    Returns:
        Adjusted logits; their argmax is the balanced prediction.

    Examples:
        >>> adjusted = adjust_logits(np.array([[2.0, 0.0]]), [0.9, 0.1])
        >>> int(keras.ops.argmax(adjusted, axis=-1)[0])
        1
    """
    log_prior = np.log(_prior(prior)).astype("float32")
    return _log_probs_or_logits(ops.convert_to_tensor(y_pred), from_logits) - tau * log_prior


@keras.saving.register_keras_serializable(package="weighted_models")
class LogitAdjustment(keras.layers.Layer):
    """A layer applying post-hoc logit adjustment, to put on top of a trained model.

    Outputs adjusted logits, or probabilities (`softmax` of them) with
    `output_probabilities=True`.

    Args:
        prior: class counts or probabilities of the training labels.
        tau: adjustment strength.
        from_logits: whether the inputs are logits (else probabilities).
        output_probabilities: return probabilities instead of logits.

    Examples:
        >>> layer = LogitAdjustment([0.9, 0.1], output_probabilities=True)
        >>> [round(float(p), 3) for p in layer(np.array([[0.0, 0.0]]))[0]]
        [0.1, 0.9]
    """

    def __init__(self, prior, tau=1.0, from_logits=True, output_probabilities=False, **kwargs):
        super().__init__(**kwargs)
        self.prior = _prior(prior).tolist()
        self.tau = float(tau)
        self.from_logits = from_logits
        self.output_probabilities = output_probabilities

    def call(self, inputs):
        adjusted = adjust_logits(inputs, self.prior, tau=self.tau, from_logits=self.from_logits)
        return ops.softmax(adjusted, axis=-1) if self.output_probabilities else adjusted

    def get_config(self):
        return {
            **super().get_config(),
            "prior": self.prior,
            "tau": self.tau,
            "from_logits": self.from_logits,
            "output_probabilities": self.output_probabilities,
        }
