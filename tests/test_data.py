"""The door: data sources and host-side checks of labels and weights."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from weighted_models import data as data_module
from weighted_models.data import DataSource, InvalidLabelsError, LabelChecker
from weighted_models.compile_loss import Route
from weighted_models.outputs import OutputSpec


def spec(name, mode, n, ignore_class=None):
    return OutputSpec(name=name, label_mode=mode, num_classes=n, pred_rank=2, ignore_class=ignore_class)


# Labels and sample weights as dicts {"cls", "reg"}: flattened in sorted key order.
CHECKER = LabelChecker([spec("cls", "sparse", 3), spec("reg", None, None)],
                       [Route(0, 0, 0), Route(1, 1, 1)])


def test_checker_accepts_good_batches_and_ignores_regression_values():
    CHECKER({"cls": np.array([0, 2, 1]), "reg": np.array([[-7.5], [1e6], [3.0]])},
            np.array([0.0, 1.0, 2.5]))


@pytest.mark.parametrize(
    "labels,match",
    [
        (np.array([0, 3]), r"Output 'cls': labels must be class indices in \[0, 3\) \(3 classes\). Received labels 3.0"),
        (np.array([-2, 1]), r"Received labels -2.0"),
        (np.array([0.5, 1.0]), r"Received labels 0.5"),
        (np.array(["a", "b"]), r"Output 'cls': labels must be numeric"),
    ],
)
def test_checker_rejects_bad_labels(labels, match):
    with pytest.raises(InvalidLabelsError, match=match):
        CHECKER({"cls": labels, "reg": np.zeros((2, 1))})


@pytest.mark.parametrize("dtype", ["int32", "int64", "float32", "uint8"])
def test_checker_reports_bad_labels_from_every_chunk(monkeypatch, dtype):
    # Labels are checked in chunks (bounded temporaries); the message must
    # still list the bad values of all chunks, as NumPy finds them at once.
    monkeypatch.setattr(data_module, "_CHUNK", 4)
    labels = np.arange(22).astype(dtype) % 3
    bad_at = {1: 7, 9: 3, 21: 250} if dtype == "uint8" else {1: -1, 9: 3, 21: 250}
    for i, v in bad_at.items():
        labels[i] = v
    expected = sorted({float(v) for v in labels if not 0 <= v < 3})
    with pytest.raises(InvalidLabelsError) as raised:
        CHECKER({"cls": labels.reshape(2, 11), "reg": np.zeros((2, 1))})
    shown = raised.value.args[0].split("Received labels ")[1].rstrip(".")
    assert shown == ", ".join(repr(v) for v in expected)


def test_checker_accepts_the_ignored_class_and_nothing_else():
    checker = LabelChecker([spec("cls", "sparse", 3, ignore_class=255)], [Route(0, 0, None)])
    checker(np.array([0, 255, 2]))
    with pytest.raises(InvalidLabelsError, match=r"or the ignored class 255. Received labels -1.0"):
        checker(np.array([0, 255, -1]))


def test_checker_names_the_output_of_a_bad_sample_weight():
    with pytest.raises(InvalidLabelsError, match=r"Output 'reg': sample weights must be finite and >= 0. Received -1.0"):
        CHECKER({"cls": np.array([0, 1]), "reg": np.zeros((2, 1))},
                {"cls": np.ones(2), "reg": np.array([1.0, -1.0])})


def test_data_source_kinds_and_spec_batches():
    x, y = np.zeros((10, 2), "float32"), np.zeros(10)
    assert DataSource(x, y).kind == "arrays"
    ds = DataSource(tf.data.Dataset.from_tensor_slices((x, y)).batch(4))
    assert ds.kind == "dataset"
    assert tuple(ds.spec_batch()[0].shape) == (None, 2)
    gen = DataSource(iter([(x[:4], y[:4]), (x[4:], y[4:])]))
    assert gen.kind == "generator"
    assert gen.spec_batch()[0].shape == (4, 2)
    # Peeking does not lose the first batch.
    assert [b[0].shape[0] for b in gen.checked(lambda y, sw: None)[0]] == [4, 6]


def test_data_source_refuses_separate_labels_for_a_dataset():
    ds = tf.data.Dataset.from_tensor_slices(np.zeros((4, 2))).batch(2)
    with pytest.raises(ValueError, match="`y` and `sample_weight` are taken from the data"):
        DataSource(ds, np.zeros(4))


def test_label_batches_from_a_pydataset_cover_every_batch():
    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return np.zeros((2, 1)), np.full(2, i)

    labels = [y for y, _ in DataSource(Batches()).label_batches()]
    np.testing.assert_array_equal(np.concatenate(labels), [0, 0, 1, 1, 2, 2])
