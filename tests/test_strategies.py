"""Class-weight tables against scikit-learn and NumPy."""

import numpy as np
import pytest
from sklearn.utils.class_weight import compute_class_weight

from weighted_models.outputs import OutputSpec
from weighted_models.strategies import LabelCounts, balanced_table, table_from_weights


def spec(mode, n, pred_rank=2):
    return OutputSpec(name="out", loss=None, loss_weight=None, label_mode=mode,
                      num_classes=n, pred_rank=pred_rank)


@pytest.mark.parametrize("seed", range(4))
def test_balanced_equals_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    y = rng.choice(5, size=200, p=[0.6, 0.2, 0.1, 0.07, 0.03])
    y[:5] = np.arange(5)
    counts = LabelCounts(spec("sparse", 5))
    for chunk in np.array_split(y, 7):  # uneven batches
        counts.update(chunk)
    table = balanced_table(counts.counts)
    expected = compute_class_weight("balanced", classes=np.arange(5), y=y)
    np.testing.assert_allclose(table, expected, rtol=1e-6)
    # scikit-learn's invariant: the weighted count equals the sample count.
    np.testing.assert_allclose(np.dot(table, np.bincount(y)), len(y), rtol=1e-5)


def test_balanced_raises_like_scikit_learn_for_absent_classes():
    y = np.array([0, 0, 1])
    with pytest.raises(ValueError):
        compute_class_weight("balanced", classes=np.arange(3), y=y)
    counts = LabelCounts(spec("sparse", 3))
    counts.update(y)
    with pytest.raises(ValueError, match=r"classes \[2\] do not occur"):
        balanced_table(counts.counts)


def test_one_hot_counts_equal_sparse_counts():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, size=(30, 6))
    sparse, onehot = LabelCounts(spec("sparse", 4, 3)), LabelCounts(spec("categorical", 4, 3))
    sparse.update(y)
    onehot.update(np.eye(4)[y])
    np.testing.assert_array_equal(sparse.counts, np.bincount(y.ravel(), minlength=4))
    np.testing.assert_array_equal(onehot.counts, sparse.counts)


def test_temporal_counts_skip_zero_weight_padding():
    y = np.array([[0, 1, 1], [2, 0, 0]])
    sw = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    counts = LabelCounts(spec("sparse", 3, 3))
    counts.update(y, sw)
    np.testing.assert_array_equal(counts.counts, [1, 1, 1])


def test_multilabel_counts_and_per_label_balance():
    y = np.array([[1, 0, 1], [0, 0, 1], [1, 1, 1], [0, 0, 0]], "float32")
    counts = LabelCounts(spec("multilabel", 3))
    counts.update(y)
    np.testing.assert_array_equal(counts.counts, [[2, 3, 1], [2, 1, 3]])
    table = balanced_table(counts.counts)
    for label in range(3):
        expected = compute_class_weight("balanced", classes=np.arange(2), y=y[:, label])
        np.testing.assert_allclose(table[:, label], expected, rtol=1e-6)


def test_binary_counts_with_a_trailing_axis():
    counts = LabelCounts(spec("binary", 2))
    counts.update(np.array([[0.0], [1.0], [1.0]]))
    np.testing.assert_array_equal(counts.counts, [1, 2])


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
