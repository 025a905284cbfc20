"""The door: data sources and host-side checks of labels and weights."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from weighted_models import data as data_module
from weighted_models.compile_loss import Route
from weighted_models.data import DataSource, InvalidLabelsError, LabelChecker
from weighted_models.outputs import OutputSpec


def spec(name, mode, n, ignore_class=None):
    return OutputSpec(name=name, label_mode=mode, num_classes=n, pred_rank=2, ignore_class=ignore_class)


# Labels and sample weights as dicts {"cls", "reg"}: flattened in sorted key order.
CHECKER = LabelChecker([spec("cls", "sparse", 3), spec("reg", None, None)], [Route(0, 0, 0), Route(1, 1, 1)])


def test_checker_accepts_good_batches_and_ignores_regression_values():
    CHECKER({"cls": np.array([0, 2, 1]), "reg": np.array([[-7.5], [1e6], [3.0]])}, np.array([0.0, 1.0, 2.5]))


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
        CHECKER({"cls": np.array([0, 1]), "reg": np.zeros((2, 1))}, {"cls": np.ones(2), "reg": np.array([1.0, -1.0])})


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


# The tf.data check: TensorFlow ops in the pipeline. Each case is a batch the
# host check refuses; the pipeline must refuse it with the same message.
GRAPH_CASES = {
    "sparse_int_too_large": (
        {"cls": np.array([0, 3, 3, 7]), "reg": np.zeros((4, 1))},
        None,
        "Output 'cls': labels must be class indices in [0, 3) (3 classes). Received labels 3.0, 7.0.",
    ),
    "sparse_float_fraction_nan": (
        {"cls": np.array([0.5, np.nan, 1.0, -2.0]), "reg": np.zeros((4, 1))},
        None,
        "Output 'cls': labels must be class indices in [0, 3) (3 classes). Received labels -2.0, 0.5, nan.",
    ),
    "sparse_many_values": (
        {"cls": np.arange(-4, 6), "reg": np.zeros((10, 1))},
        None,
        "Output 'cls': labels must be class indices in [0, 3) (3 classes). Received labels -4.0, -3.0, -2.0, -1.0, 3.0, ....",
    ),
    "weight_of_one_output": (
        {"cls": np.array([0, 1]), "reg": np.zeros((2, 1))},
        {"cls": np.ones(2), "reg": np.array([1.0, -0.25])},
        "Output 'reg': sample weights must be finite and >= 0. Received -0.25.",
    ),
    "one_weight_for_all": (
        {"cls": np.array([0, 1]), "reg": np.zeros((2, 1))},
        np.array([np.inf, 1.0]),
        "Output 'cls': sample weights must be finite and >= 0. Received inf.",
    ),
}


def _first_error(dataset):
    with pytest.raises(InvalidLabelsError) as raised:
        with data_module.label_errors_as_value_errors():
            for _ in dataset:
                pass
    return raised.value.args[0]


@pytest.mark.parametrize("case", sorted(GRAPH_CASES))
def test_the_tf_data_check_refuses_what_the_host_check_refuses_with_its_message(case):
    y, sw, message = GRAPH_CASES[case]
    with pytest.raises(InvalidLabelsError) as host:
        CHECKER(y, sw)
    assert host.value.args[0] == message
    x = np.zeros((len(y["cls"]), 2), "float32")
    element = (x, y) if sw is None else (x, y, sw)
    checked = data_module.checked_dataset(tf.data.Dataset.from_tensors(element), CHECKER)
    assert _first_error(checked) == message


@pytest.mark.parametrize(
    "mode,labels,message",
    [
        (
            "categorical",
            np.array([[0.0, 1.0], [1.5, -0.5]]),
            "Output 'p': categorical labels must lie in [0, 1]. Received labels -0.5, 1.5.",
        ),
        ("binary", np.array([[0.0], [np.inf]]), "Output 'p': binary labels must lie in [0, 1]. Received labels inf."),
        (
            "sparse",
            np.array([255, 4, 0], "uint8"),
            "Output 'p': labels must be class indices in [0, 2) (2 classes) or the ignored class 255. Received labels 4.0.",
        ),
    ],
)
def test_the_tf_data_check_of_each_label_mode(mode, labels, message):
    checker = LabelChecker([spec("p", mode, 2, ignore_class=255 if mode == "sparse" else None)], [Route(0, 0, None)])
    good = np.zeros_like(labels)
    x = np.zeros((len(labels), 1), "float32")
    ds = tf.data.Dataset.from_tensor_slices((np.concatenate([x, x]), np.concatenate([good, labels]))).batch(len(labels))
    checked = data_module.checked_dataset(ds, checker)
    assert _first_error(checked) == message
    # The good first batch passes unchanged.
    first_x, first_y = next(iter(checked))
    np.testing.assert_array_equal(first_y.numpy(), good)


def test_the_tf_data_check_refuses_string_labels_when_the_pipeline_is_built():
    ds = tf.data.Dataset.from_tensors((np.zeros((2, 1), "float32"), {"cls": np.array(["a", "b"]), "reg": np.zeros((2, 1))}))
    with pytest.raises(InvalidLabelsError, match=r"Output 'cls': labels must be numeric. Received dtype string"):
        data_module.checked_dataset(ds, CHECKER)


def test_the_checked_tf_data_pipeline_runs_no_python_and_serialises():
    # No numpy_function/py_function: a pipeline with Python in it has
    # external state, which tf.data refuses to serialise (tf.data service,
    # distributed input) under the FAIL policy.
    x = np.zeros((8, 2), "float32")
    ds = tf.data.Dataset.from_tensor_slices((x, {"cls": np.zeros(8, "int64"), "reg": np.zeros((8, 1))}, np.ones(8))).batch(4)
    checked = data_module.checked_dataset(ds, CHECKER)
    graph = checked._as_serialized_graph(external_state_policy=tf.data.experimental.ExternalStatePolicy.FAIL).numpy()
    assert b"PyFunc" not in graph
    # The check is there, and stateless (tf.data parallelises stateless maps).
    assert b"StringToNumber" in graph and b"StatelessIf" in graph
    assert checked.cardinality().numpy() == 2

    # The reference: the old host check in the pipeline cannot be serialised.
    def host_check(x, y, sw):
        ok = tf.numpy_function(lambda: True, [], tf.bool)
        with tf.control_dependencies([ok]):
            return tf.identity(x), y, sw

    with pytest.raises(tf.errors.FailedPreconditionError):
        ds.map(host_check)._as_serialized_graph(external_state_policy=tf.data.experimental.ExternalStatePolicy.FAIL).numpy()
