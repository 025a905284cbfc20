"""Routing per-output arguments and detecting label modes."""

import keras
import numpy as np
import pytest

from weighted_models.outputs import detect_label_mode, flatten_by_output, split_class_weight

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
    from weighted_models.outputs import resolve_loss

    assert detect_label_mode("o", resolve_loss(loss), y_shape, pred_shape) == expected


def test_label_mode_override_and_shape_errors():
    assert detect_label_mode("o", None, (None, 4), (None, 4), override="multilabel") == ("multilabel", 4)
    with pytest.raises(ValueError, match=r"Output 'o': label_mode 'categorical' expects labels of shape \(batch, 4\)"):
        detect_label_mode("o", None, (None,), (None, 4), override="categorical")
    with pytest.raises(ValueError, match=r"Output 'o': label_mode 'binary' expects"):
        detect_label_mode("o", None, (None, 3), (None, 3), override="binary")


def test_flatten_by_output():
    assert flatten_by_output({"b": 1}, NAMES, what="y") == [None, 1]
    assert flatten_by_output(5, NAMES, what="sample_weight", broadcast=True) == [5, 5]
    assert flatten_by_output((1, 2), NAMES, what="y") == [1, 2]
    with pytest.raises(ValueError, match=r"This model has 2 outputs \['a', 'b'\]: pass `y` as a dict"):
        flatten_by_output(np.zeros(3), NAMES, what="y")
    with pytest.raises(ValueError, match=r"`loss` given as a list must have one entry per output"):
        flatten_by_output(["mse"], NAMES, what="loss")


def test_split_class_weight():
    assert split_class_weight("balanced", NAMES) == ["balanced", "balanced"]
    assert split_class_weight({"a": {0: 2.0}}, NAMES) == [{0: 2.0}, None]
    assert split_class_weight([None, [1.0, 2.0]], NAMES) == [None, [1.0, 2.0]]
    assert split_class_weight({0: 1.0, 1: 3.0}, ["only"]) == [{0: 1.0, 1: 3.0}]
    assert split_class_weight(np.array([1.0, 3.0]), ["only"])[0].tolist() == [1.0, 3.0]
    with pytest.raises(ValueError, match=r"keys must be integer class indices .* Received keys \[0\] that are neither"):
        split_class_weight({"a": {0: 1.0}, 0: 1.0}, NAMES)
