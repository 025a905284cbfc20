"""The in-graph weighting math against NumPy and Keras's own loss reduction."""

import keras
import numpy as np
import pytest

from weighted_models.weighting import (
    element_weights,
    expand_sample_weight,
    lookup_class_weights,
    loss_reduction,
    per_element_loss,
    reduce_weighted_loss,
)

RNG = np.random.default_rng(7)
TABLE = np.array([0.5, 2.0, 7.0, 1.0], "float32")


def np_(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize(
    "shape", [(6,), (6, 1), (6, 5), (6, 5, 1)], ids=["flat", "trailing_axis", "temporal", "temporal_trailing_axis"]
)
def test_sparse_lookup_is_a_gather(shape):
    y = RNG.integers(0, 4, size=shape)
    pred_rank = 2 if len(shape) <= 1 or shape[-1] == 1 and len(shape) == 2 else 3
    w = lookup_class_weights(y, TABLE, label_mode="sparse", pred_rank=pred_rank)
    expected = TABLE[y[..., 0] if len(shape) == pred_rank else y]
    np.testing.assert_array_equal(np_(w), expected)


def test_categorical_one_hot_equals_the_gather_and_soft_is_the_expectation():
    y = RNG.integers(0, 4, size=(6, 3))
    onehot = np.eye(4, dtype="float32")[y]
    w = lookup_class_weights(onehot, TABLE, label_mode="categorical", pred_rank=3)
    np.testing.assert_array_equal(np_(w), TABLE[y])
    soft = RNG.dirichlet(np.ones(4), size=(6,)).astype("float32")
    w = lookup_class_weights(soft, TABLE, label_mode="categorical", pred_rank=2)
    np.testing.assert_allclose(np_(w), soft @ TABLE, rtol=1e-6)


def test_binary_and_multilabel_take_negative_and_positive_weights():
    y = np.array([[0.0], [1.0], [0.25]], "float32")
    w = lookup_class_weights(y, np.array([2.0, 10.0]), label_mode="binary", pred_rank=2)
    np.testing.assert_allclose(np_(w), [2.0, 10.0, 0.75 * 2.0 + 0.25 * 10.0])
    table = np.array([[1.0, 2.0], [3.0, 4.0]], "float32")
    y = np.array([[0.0, 1.0], [1.0, 0.0]], "float32")
    w = lookup_class_weights(y, table, label_mode="multilabel", pred_rank=2)
    np.testing.assert_allclose(np_(w), [[1.0, 4.0], [3.0, 2.0]])


def test_sample_weights_are_expanded_over_time_not_broadcast_along_it():
    # B == T is where an accidental broadcast would weight the time axis.
    sw = np.array([1.0, 2.0, 3.0], "float32")
    w = element_weights(
        np.zeros((3, 3), int), table=TABLE, sample_weight=sw, label_mode="sparse", pred_rank=3, weight_shape=(3, 3)
    )
    np.testing.assert_allclose(np_(w), TABLE[0] * np.repeat(sw[:, None], 3, axis=1))


def test_sample_weight_alone_is_broadcast_to_the_element_shape():
    w = element_weights(
        np.zeros((2, 4), int), sample_weight=np.array([[1.0], [2.0]]), label_mode=None, pred_rank=3, weight_shape=(2, 4)
    )
    np.testing.assert_allclose(np_(w), [[1.0] * 4, [2.0] * 4])


def test_expand_sample_weight_rejects_shapes_that_do_not_fit():
    with pytest.raises(ValueError, match=r"Output 'tags': sample weights must have shape"):
        expand_sample_weight(np.ones((2, 6)), weight_shape=(2, 5), name="tags")
    with pytest.raises(ValueError, match=r"Output 'o'"):
        expand_sample_weight(np.ones((2, 5, 3)), weight_shape=(2, 5), name="o")


@pytest.mark.parametrize("weights", [None, "per_sample", "per_element"])
@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
def test_default_reduction_equals_keras_loss_reduction(weights, masked):
    """`sum_over_batch_size` is Keras's reduction, masks included."""
    y = RNG.integers(0, 4, size=(5, 6))
    logits = RNG.normal(size=(5, 6, 4)).astype("float32")
    pred = keras.ops.softmax(logits)
    mask = RNG.random((5, 6)) < 0.7
    if masked:
        pred._keras_mask = keras.ops.convert_to_tensor(mask)
    w = {None: None, "per_sample": RNG.random((5, 1)).astype("float32"), "per_element": RNG.random((5, 6)).astype("float32")}[
        weights
    ]
    loss = keras.losses.SparseCategoricalCrossentropy()
    expected = loss(y, pred, sample_weight=w)
    values, found_mask = per_element_loss(loss, y, pred, label_mode="sparse")
    got = reduce_weighted_loss(
        values, None if w is None else np.broadcast_to(w, (5, 6)), found_mask, reduction="sum_over_batch_size"
    )
    np.testing.assert_allclose(np_(got), np_(expected), rtol=1e-6)


def test_weighted_mean_with_a_mask_against_numpy():
    values = RNG.random((4, 3)).astype("float32")
    w = RNG.random((4, 1)).astype("float32")
    mask = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1], [0, 0, 0]], bool)
    got = reduce_weighted_loss(values, np.broadcast_to(w, (4, 3)), mask, reduction="weighted_mean")
    wm = np.broadcast_to(w, (4, 3)) * mask
    np.testing.assert_allclose(np_(got), np.sum(values * wm) / np.sum(wm), rtol=1e-6)


def test_weighted_mean_of_all_zero_weights_is_zero_not_nan():
    got = reduce_weighted_loss(np.ones((3,), "float32"), np.zeros((3,), "float32"), reduction="weighted_mean")
    assert float(np_(got)) == 0.0


def test_sum_reduction_and_reduction_errors():
    values = np.array([1.0, 2.0], "float32")
    w = np.array([3.0, 0.5], "float32")
    np.testing.assert_allclose(np_(reduce_weighted_loss(values, w, reduction="sum")), 4.0)
    with pytest.raises(ValueError, match="Unknown reduction 'median'"):
        reduce_weighted_loss(values, w, reduction="median")
    with pytest.raises(ValueError, match="Weights of rank 2 do not fit per-element losses"):
        reduce_weighted_loss(values, w[None], reduction="sum")


def test_loss_reduction_follows_the_loss_under_auto():
    assert loss_reduction(keras.losses.MeanSquaredError(reduction="sum"), "auto") == "sum"
    assert loss_reduction(keras.losses.MeanSquaredError(), "weighted_mean") == "weighted_mean"
    mws = keras.losses.MeanSquaredError(reduction="mean_with_sample_weight")
    assert loss_reduction(mws, "auto") == "weighted_mean"
    with pytest.raises(ValueError, match="reduction=None: a training loss must reduce to a scalar"):
        loss_reduction(keras.losses.MeanSquaredError(reduction=None), "auto")
