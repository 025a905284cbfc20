"""Routing per-output arguments and detecting label modes."""

import keras
import numpy as np
import pytest

from weighted_models.outputs import class_index, detect_label_mode, loss_spec, split_class_weight

NAMES = ["a", "b"]


@pytest.mark.parametrize(
    "loss,y_shape,pred_shape,expected",
    [
        ("sparse_categorical_crossentropy", (None,), (None, 5), ("sparse", 5)),
        (keras.losses.SparseCategoricalCrossentropy(), (None, 7, 1), (None, 7, 5), ("sparse", 5)),
        ("categorical_crossentropy", (None, 5), (None, 5), ("categorical", 5)),
        (keras.losses.CategoricalFocalCrossentropy(), (None, 7, 5), (None, 7, 5), ("categorical", 5)),
        ("binary_crossentropy", (None, 1), (None, 1), ("binary", 2)),
        ("binary_crossentropy", (None,), (None, 1), ("binary", 2)),
        (keras.losses.BinaryFocalCrossentropy(), (None, 6), (None, 6), ("multilabel", 6)),
        ("binary_crossentropy", (None, 7, 6), (None, 7, 6), ("multilabel", 6)),
        ("mse", (None, 3), (None, 3), (None, None)),
    ],
)
def test_label_mode_from_loss_and_shapes(loss, y_shape, pred_shape, expected):
    assert detect_label_mode("o", keras.losses.get(loss), y_shape, pred_shape) == expected


def test_label_mode_override_and_shape_errors():
    assert detect_label_mode("o", None, (None, 4), (None, 4), override="multilabel") == ("multilabel", 4)
    with pytest.raises(ValueError, match=r"Output 'o': label_mode 'categorical' expects labels of shape \(batch, 4\)"):
        detect_label_mode("o", None, (None,), (None, 4), override="categorical")
    with pytest.raises(ValueError, match=r"Output 'o': label_mode 'binary' expects"):
        detect_label_mode("o", None, (None, 3), (None, 3), override="binary")


def test_ignore_class_is_read_from_the_loss():
    loss = keras.losses.SparseCategoricalCrossentropy(ignore_class=255)
    assert loss_spec("o", loss, (None, 7), (None, 7, 3)).ignore_class == 255
    assert loss_spec("o", keras.losses.get("sparse_categorical_crossentropy"), (None,), (None, 3)).ignore_class is None


@pytest.mark.parametrize(
    "key,expected", [(1, 1), (np.int64(2), 2), (1.0, 1), (np.float32(3.0), 3), (0.5, None), (True, None), ("1", None)]
)
def test_class_index_takes_integral_numbers_only(key, expected):
    assert class_index(key) == expected


def test_split_class_weight():
    assert split_class_weight("balanced", NAMES) == ["balanced", "balanced"]
    assert split_class_weight({"a": {0: 2.0}}, NAMES) == [{0: 2.0}, None]
    assert split_class_weight([None, [1.0, 2.0]], NAMES) == [None, [1.0, 2.0]]
    assert split_class_weight({0: 1.0, 1: 3.0}, ["only"]) == [{0: 1.0, 1: 3.0}]
    assert split_class_weight({0.0: 1.0, 1.0: 3.0}, ["only"]) == [{0.0: 1.0, 1.0: 3.0}]
    assert split_class_weight(np.array([1.0, 3.0]), ["only"])[0].tolist() == [1.0, 3.0]
    with pytest.raises(ValueError, match=r"keys must be integer class indices .* Received keys \[0\] that are neither"):
        split_class_weight({"a": {0: 1.0}, 0: 1.0}, NAMES)
