"""Class-weight tables and strategies against scikit-learn and NumPy."""

import numpy as np
import pytest
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight as sk_compute_class_weight

from weighted_models.outputs import OutputSpec
from weighted_models.strategies import (
    Balanced,
    EffectiveNumber,
    InversePower,
    LabelCounts,
    compute_class_weight,
    count_labels,
    get_strategy,
    table_from_weights,
)

RNG = np.random.default_rng(0)
Y = RNG.choice(5, size=400, p=[0.6, 0.2, 0.1, 0.07, 0.03])
Y[:5] = np.arange(5)


def spec(mode, n, pred_rank=2):
    return OutputSpec(name="out", label_mode=mode, num_classes=n, pred_rank=pred_rank)


@pytest.mark.parametrize("seed", range(3))
def test_balanced_equals_scikit_learn_from_uneven_batches(seed):
    y = np.random.default_rng(seed).permutation(Y)
    batches = [(None, chunk) for chunk in np.array_split(y, 7)]  # uneven batches of (x, y)
    table = compute_class_weight("balanced", batches, num_classes=5)
    expected = sk_compute_class_weight("balanced", classes=np.arange(5), y=y)
    np.testing.assert_allclose(table, expected, rtol=1e-6)
    np.testing.assert_allclose(np.dot(table, np.bincount(y)), len(y), rtol=1e-5)


def numpy_normalised(raw, counts):
    return raw * counts.sum() / np.sum(raw * counts)


@pytest.mark.parametrize("power", [0.0, 0.25, 0.5, 1.0])
def test_inverse_power_against_numpy(power):
    counts = np.bincount(Y).astype(float)
    table = InversePower(power)(counts)
    np.testing.assert_allclose(table, numpy_normalised(counts**-power, counts), rtol=1e-6)
    if power == 1.0:  # the balanced weights
        np.testing.assert_allclose(table, sk_compute_class_weight("balanced", classes=np.arange(5), y=Y), rtol=1e-6)
    if power == 0.0:
        np.testing.assert_allclose(table, np.ones(5))


def test_sqrt_is_power_one_half():
    np.testing.assert_allclose(compute_class_weight("sqrt", Y), InversePower(0.5)(np.bincount(Y)))


@pytest.mark.parametrize("beta", [0.0, 0.9, 0.99, 0.9999])
def test_effective_number_follows_cui_et_al(beta):
    counts = np.bincount(Y).astype(float)
    effective = (1 - beta**counts) / (1 - beta) if beta else np.ones_like(counts)
    table = EffectiveNumber(beta)(counts)
    np.testing.assert_allclose(table, numpy_normalised(1.0 / effective, counts), rtol=1e-5)
    np.testing.assert_allclose(np.dot(table, counts), counts.sum(), rtol=1e-5)


def test_effective_number_approaches_balanced_as_beta_goes_to_one():
    counts = np.bincount(Y).astype(float)
    np.testing.assert_allclose(EffectiveNumber(1 - 1e-9)(counts), Balanced()(counts), rtol=1e-4)


@pytest.mark.parametrize("strategy", ["balanced", "sqrt", "effective_number"])
def test_every_strategy_refuses_absent_classes_like_scikit_learn(strategy):
    y = np.array([0, 0, 1])
    with pytest.raises(ValueError):
        sk_compute_class_weight("balanced", classes=np.arange(3), y=y)
    with pytest.raises(ValueError, match=rf"class_weight='{strategy}' needs every class .* classes \[2\] do not occur"):
        compute_class_weight(strategy, y, num_classes=3)


def test_strategy_arguments_are_checked():
    with pytest.raises(ValueError, match=r"Expected `beta` in \[0, 1\). Received: beta=1.0"):
        EffectiveNumber(1.0)
    with pytest.raises(ValueError, match=r"Expected `power` >= 0"):
        InversePower(-1)
    with pytest.raises(ValueError, match=r"unknown class_weight strategy 'inverse'"):
        get_strategy("inverse")


def test_strategies_round_trip_through_config():
    import keras

    for strategy in (Balanced(), InversePower(0.3), EffectiveNumber(0.99)):
        restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(strategy))
        assert restored == strategy


def test_one_hot_counts_equal_sparse_counts():
    y = RNG.integers(0, 4, size=(30, 6))
    np.testing.assert_array_equal(count_labels(y, num_classes=4), np.bincount(y.ravel(), minlength=4))
    np.testing.assert_array_equal(count_labels(np.eye(4)[y], label_mode="categorical"), np.bincount(y.ravel(), minlength=4))


def test_soft_labels_count_fractionally():
    soft = np.array([[0.5, 0.5, 0.0], [0.2, 0.0, 0.8]])
    np.testing.assert_allclose(count_labels(soft, label_mode="categorical"), [0.7, 0.5, 0.8])


def test_temporal_counts_skip_zero_weight_padding():
    y = np.array([[0, 1, 1], [2, 0, 0]])
    sw = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(count_labels(y, num_classes=3, sample_weight=sw), [1, 1, 1])
    onehot = np.eye(3)[y]
    np.testing.assert_array_equal(count_labels(onehot, label_mode="categorical", sample_weight=sw), [1, 1, 1])
    # Per-sample weights (N,) mask whole sequences.
    np.testing.assert_array_equal(count_labels(y, num_classes=3, sample_weight=np.array([0.0, 1.0])), [2, 0, 1])


def test_counts_from_a_tf_dataset_with_sample_weights():
    y = RNG.integers(0, 3, size=50)
    sw = (RNG.random(50) > 0.3).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((50, 1)), y, sw)).batch(16)
    np.testing.assert_array_equal(count_labels(ds, num_classes=3), np.bincount(y[sw > 0], minlength=3))


def test_multilabel_counts_and_per_label_balance():
    y = np.array([[1, 0, 1], [0, 0, 1], [1, 1, 1], [0, 0, 0]], "float32")
    counts = count_labels(y, label_mode="multilabel")
    np.testing.assert_array_equal(counts, [[2, 3, 1], [2, 1, 3]])
    table = Balanced()(counts)
    for label in range(3):
        expected = sk_compute_class_weight("balanced", classes=np.arange(2), y=y[:, label])
        np.testing.assert_allclose(table[:, label], expected, rtol=1e-6)
    # Every strategy normalises each label on its own: sum_side w * n = N.
    sqrt = InversePower(0.5)(counts)
    np.testing.assert_allclose((sqrt * counts).sum(axis=0), counts.sum(axis=0), rtol=1e-6)


def test_binary_counts_with_a_trailing_axis():
    np.testing.assert_array_equal(count_labels(np.array([[0.0], [1.0], [1.0]]), label_mode="binary"), [1, 2])


def test_sparse_counts_check_their_range():
    counter = LabelCounts("sparse", 3, name="tags")
    with pytest.raises(ValueError, match=r"Output 'tags': labels must be class indices in \[0, 3\). Received 4"):
        counter.update(np.array([0, 4]))
    with pytest.raises(ValueError, match=r"class indices must be >= 0"):
        counter.update(np.array([-1]))


def test_tables_from_dicts_and_sequences():
    np.testing.assert_array_equal(table_from_weights({2: 4.0}, spec("sparse", 3)), [1, 1, 4])
    np.testing.assert_array_equal(table_from_weights(np.array([1, 2, 3]), spec("sparse", 3)), [1, 2, 3])
    ml = spec("multilabel", 2)
    np.testing.assert_array_equal(table_from_weights([5.0, 6.0], ml), [[1, 1], [5, 6]])
    np.testing.assert_array_equal(table_from_weights({1: (0.5, 2.0)}, ml), [[1, 0.5], [1, 2]])
    with pytest.raises(TypeError, match=r"Output 'out': class_weight keys must be integer class indices. Received key '1'"):
        table_from_weights({"1": 2.0}, spec("sparse", 3))
    with pytest.raises(ValueError, match=r"a multilabel class weight is w_pos or \(w_neg, w_pos\)"):
        table_from_weights({0: (1.0, 2.0, 3.0)}, ml)
