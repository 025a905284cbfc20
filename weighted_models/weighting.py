"""In-graph weighting math: labels + class-weight tables + sample weights -> losses.

Everything here is written in `keras.ops`, so it runs unchanged inside the
training step of any backend, under `jit_compile`, and under distribution.
The functions work on one output at a time; `WeightedModel` routes outputs.

Semantics (per output, with `E` the shape of the per-element losses: the
prediction shape without its class axis, or the full prediction shape for
`multilabel` outputs, whose per-label losses are weighted before the label
axis is averaged):

- class weights: `sparse` labels gather `table[y]`; `categorical` labels
  (one-hot or soft) take the expected weight `sum_c y_c * table[c]`;
  `binary` and `multilabel` labels take `(1 - y) * w_neg + y * w_pos`.
- sample weights of shape `(B,)` (or `(B, T)` on a `(B, T, ...)` grid) are
  expanded explicitly over the remaining axes of `E`, never by an accidental
  broadcast, and multiply the class weights.
- reductions: `"sum_over_batch_size"` is Keras's `sum(w * l) / size(l)`
  (masked elements excluded the way Keras excludes them); `"sum"` is
  `sum(w * l)`; `"weighted_mean"` is `sum(w * l) / sum(w)` with `w`
  broadcast to the shape of `l` before it is summed, and `sum(w)` summed
  over all replicas under `tf.distribute`.
"""

import keras
from keras import ops

from weighted_models.keras_internals import get_keras_mask, scale_loss_for_distribution

REDUCTIONS = ("auto", "sum_over_batch_size", "sum", "weighted_mean")


def _squeeze_class_axis(y_true, pred_rank):
    """Drops a trailing size-1 axis of labels that carry one (sparse, binary)."""
    if len(y_true.shape) == pred_rank:
        return ops.squeeze(y_true, axis=-1)
    return y_true


def lookup_class_weights(y_true, table, *, label_mode, pred_rank, dtype="float32", ignore_class=None):
    """Per-element class weights of one output.

    Args:
        y_true: labels of the output.
        table: the class-weight table: `(C,)` for `sparse` and `categorical`,
            `(2,)` = `[w_neg, w_pos]` for `binary`, `(2, L)` for `multilabel`.
        label_mode: one of `"sparse"`, `"categorical"`, `"binary"`,
            `"multilabel"`.
        pred_rank: rank of the output's predictions.
        dtype: dtype of the returned weights.
        ignore_class: a `sparse` label that the loss masks out (Keras's
            `ignore_class`); it weighs 0 here and is never looked up.

    Returns:
        A tensor of weights with the shape of the output's per-element losses.

    Examples:
        >>> import numpy as np
        >>> w = lookup_class_weights(np.array([0, 2, 1]), np.array([1.0, 5.0, 9.0]),
        ...                          label_mode="sparse", pred_rank=2)
        >>> keras.ops.convert_to_numpy(w).tolist()
        [1.0, 9.0, 5.0]
    """
    table = ops.cast(table, dtype)
    if label_mode == "sparse":
        # Labels were checked to lie in [0, C) before they entered the step, so
        # the gather can never read outside the table (on GPU or under XLA an
        # out-of-range gather silently returns 0 or clamps instead of raising).
        labels = ops.cast(_squeeze_class_axis(y_true, pred_rank), "int32")
        if ignore_class is None:
            return _gather(table, labels)
        keep = ops.not_equal(labels, ignore_class)
        weights = _gather(table, ops.where(keep, labels, ops.zeros_like(labels)))
        return ops.where(keep, weights, ops.zeros_like(weights))
    y = ops.cast(y_true, dtype)
    if label_mode == "categorical":
        return ops.sum(y * table, axis=-1)
    if label_mode == "binary":
        y = _squeeze_class_axis(y, pred_rank)
        return (1.0 - y) * table[0] + y * table[1]
    if label_mode == "multilabel":
        return (1.0 - y) * table[0] + y * table[1]
    raise ValueError(f"Unknown label_mode {label_mode!r}.")


def _gather(table, labels):
    """`table[labels]` for labels known to lie in `[0, len(table))`.

    `ops.take` on TensorFlow first maps negative indices (4 more graph ops per
    output and step); the labels were checked on the host, so TensorFlow
    gathers directly. On JAX and PyTorch `ops.take` compiles to a plain gather.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.gather(table, labels)
    return ops.take(table, labels, axis=0)


def expand_sample_weight(sample_weight, *, weight_shape, name="output"):
    """Expands `(B,)` / `(B, T)` sample weights explicitly to the loss rank.

    Args:
        sample_weight: sample weights of one output.
        weight_shape: static shape of the output's per-element losses.
        name: the output name, for error messages.

    Returns:
        The weights with size-1 axes appended up to `weight_rank`, ready to
        broadcast against the per-element losses along the batch (and time)
        axes only.

    Raises:
        ValueError: weights of a higher rank than the losses.
    """
    sample_weight = ops.convert_to_tensor(sample_weight)
    weight_shape = tuple(weight_shape)
    weight_rank = len(weight_shape)
    rank = len(sample_weight.shape)
    # Keras's own convention: a trailing size-1 axis, as in `(B, 1)`.
    if rank > 1 and rank == weight_rank + 1 and sample_weight.shape[-1] == 1:
        sample_weight = ops.squeeze(sample_weight, axis=-1)
        rank -= 1
    fits = all(a is None or b is None or a == b or a == 1 for a, b in zip(tuple(sample_weight.shape)[1:], weight_shape[1:rank]))
    if rank == 0 or rank > weight_rank or not fits:
        raise ValueError(
            f"Output '{name}': sample weights must have shape (batch,) or "
            f"(batch, ...) matching the leading axes of the per-element "
            f"losses, {weight_shape}. Received sample weights of shape "
            f"{tuple(sample_weight.shape)}."
        )
    for _ in range(weight_rank - rank):
        sample_weight = ops.expand_dims(sample_weight, axis=-1)
    return sample_weight


def element_weights(
    y_true,
    *,
    table=None,
    sample_weight=None,
    label_mode=None,
    pred_rank,
    weight_shape,
    name="output",
    dtype="float32",
    ignore_class=None,
):
    """Class weights times sample weights for one output, or `None`.

    Args:
        y_true: labels of the output.
        table: the output's class-weight table, or `None`.
        sample_weight: the output's sample weights, or `None`.
        label_mode: the output's label mode (needed when `table` is given).
        pred_rank: rank of the output's predictions.
        weight_shape: static shape of the output's per-element losses.
        name: the output name, for error messages.
        dtype: dtype of the weights.
        ignore_class: a `sparse` label the loss masks out, or `None`.

    Returns:
        `None` when neither class nor sample weights apply; otherwise the
        weights, broadcast to the shape of the per-element losses.
    """
    weights = None
    if table is not None:
        weights = lookup_class_weights(
            y_true,
            table,
            label_mode=label_mode,
            pred_rank=pred_rank,
            dtype=dtype,
            ignore_class=ignore_class,
        )
        if len(weights.shape) != len(weight_shape):
            raise ValueError(
                f"Output '{name}': class weights of shape {tuple(weights.shape)} "
                f"(one per label) do not fit the loss's per-element values of "
                f"shape {tuple(weight_shape)}: the loss must reduce only the "
                f"class axis."
            )
    if sample_weight is not None:
        sample_weight = ops.cast(
            expand_sample_weight(sample_weight, weight_shape=weight_shape, name=name),
            dtype,
        )
        if weights is None:
            weights = ops.broadcast_to(sample_weight, _dynamic_shape(weight_shape, y_true))
        else:
            weights = weights * sample_weight
    return weights


def _dynamic_shape(weight_shape, y_true):
    """`weight_shape` with its unknown (batch) axes read from the labels."""
    dynamic = ops.shape(y_true)
    return tuple(dynamic[i] if d is None else d for i, d in enumerate(weight_shape))


def per_element_loss(loss, y_true, y_pred, *, label_mode=None):
    """Unreduced losses of one output, one value per weighted element.

    `multilabel` outputs are evaluated label by label (the loss is applied to
    `y[..., None]`), so a per-label weight multiplies each label's loss
    before the label axis is averaged. This relies on the loss reducing only
    its last axis, as every Keras binary loss does.

    Args:
        loss: a `keras.losses.Loss`.
        y_true: labels.
        y_pred: predictions.
        label_mode: the output's label mode.

    Returns:
        `(values, mask)`: the per-element losses in the loss's dtype and the
        Keras mask that applies to them (or `None`).
    """
    mask = get_keras_mask(y_pred)
    y_pred = ops.convert_to_tensor(y_pred, dtype=loss.dtype)
    y_true = ops.convert_to_tensor(y_true, dtype=loss.dtype)
    if label_mode == "multilabel":
        y_true = ops.expand_dims(y_true, axis=-1)
        y_pred = ops.expand_dims(y_pred, axis=-1)
    values = loss.call(y_true, y_pred)
    out_mask = get_keras_mask(values)
    if mask is not None and out_mask is not None:
        mask = ops.logical_and(mask, out_mask)
    elif out_mask is not None:
        mask = out_mask
    return ops.cast(values, loss.dtype), mask


def reduce_weighted_loss(values, weights=None, mask=None, *, reduction="sum_over_batch_size"):
    """Reduces per-element losses with per-element weights to a scalar.

    Args:
        values: per-element losses.
        weights: weights of the same shape as `values` (or broadcastable along
            trailing axes), or `None`.
        mask: a Keras mask over the leading axes of `values`, or `None`.
        reduction: `"sum_over_batch_size"` (Keras's default: `sum(w*l)` over
            the number of (unmasked) elements), `"sum"`, or
            `"weighted_mean"` (`sum(w*l) / sum(w)`, `w` broadcast first).

    Returns:
        A scalar loss, scaled for distribution as Keras scales its losses.

    Examples:
        >>> import numpy as np
        >>> l = np.array([[1.0, 2.0], [3.0, 4.0]], "float32")
        >>> w = np.array([[1.0], [3.0]], "float32")  # one weight per sample
        >>> float(reduce_weighted_loss(l, w, reduction="weighted_mean"))
        3.0
    """
    values = ops.convert_to_tensor(values)
    dtype = values.dtype
    if len(values.shape) == 0:
        raise ValueError(
            "Per-element losses are needed to apply weights, but the loss "
            "returned a scalar. Use a loss that reduces only the class axis."
        )
    w = None if weights is None else ops.cast(weights, dtype)
    if w is not None and len(w.shape) != len(values.shape):
        raise ValueError(
            f"Weights of rank {len(w.shape)} do not fit per-element losses of "
            f"shape {tuple(values.shape)}: the loss must reduce only the "
            f"class axis."
        )
    if mask is not None:
        m = ops.cast(mask, dtype)
        while len(m.shape) < len(values.shape):
            m = ops.expand_dims(m, axis=-1)
        if reduction == "sum_over_batch_size":
            # As Keras: masked-out elements drop out of the element count too.
            total = ops.cast(ops.size(m), dtype)
            m = m * (total / (ops.sum(m) + keras.config.epsilon()))
        w = m if w is None else w * m
    weighted = values if w is None else values * w
    total_loss = ops.sum(weighted)
    if reduction == "sum":
        return total_loss
    if reduction == "sum_over_batch_size":
        divisor = ops.cast(ops.size(values), dtype)
    elif reduction == "weighted_mean":
        if w is None:
            divisor = ops.cast(ops.size(values), dtype)
        else:
            divisor = ops.sum(ops.broadcast_to(w, ops.shape(values)))
        # The mean over the global batch: every replica divides its sum by the
        # weight of *all* replicas and the replicas' gradients add up, so no
        # further 1/replicas scaling. Weights carry no gradient.
        return ops.divide_no_nan(total_loss, sum_across_replicas(ops.stop_gradient(divisor)))
    else:
        raise ValueError(f"Unknown reduction {reduction!r}. Expected one of {REDUCTIONS}.")
    return scale_loss_for_distribution(ops.divide_no_nan(total_loss, divisor))


def sum_across_replicas(value):
    """Sums a per-replica value over the replicas of a `tf.distribute` strategy.

    One device, and JAX or PyTorch (whose distributed arrays are global
    already), return the value as it is.
    """
    if keras.backend.backend() != "tensorflow":
        return value
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value

    def reduce(strategy, per_replica):
        # A merge call, not a replica-context all-reduce: the latter's
        # collective can interleave with the gradients' and deadlock on CPU.
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    return context.merge_call(reduce, args=(value,))


def loss_reduction(loss, reduction):
    """The reduction applied to `loss` under the model's `reduction` option."""
    if reduction != "auto":
        return reduction
    own = getattr(loss, "reduction", "sum_over_batch_size")
    if own in (None, "none"):
        raise ValueError(
            f"Loss '{loss.name}' has reduction={own!r}: a training loss must reduce to a scalar. Use the default reduction."
        )
    if own == "mean":
        return "sum_over_batch_size"
    if own == "mean_with_sample_weight":
        # Keras divides by sum(w) before broadcasting w; this is the true mean.
        return "weighted_mean"
    return own
