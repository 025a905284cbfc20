"""Every input WeightedModel refuses: a clear error naming the output and value."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import F, N, T

from weighted_models import InvalidLabelsError, WeightedModel

SCCE = "sparse_categorical_crossentropy"


def single(units=3, activation="softmax", input_shape=(F,), name="out"):
    inputs = keras.Input(input_shape)
    return WeightedModel(inputs, keras.layers.Dense(units, activation=activation, name=name)(inputs))


def two_outputs():
    inputs = keras.Input((F,))
    a = keras.layers.Dense(3, activation="softmax", name="a")(inputs)
    b = keras.layers.Dense(1, activation="sigmoid", name="b")(inputs)
    return WeightedModel(inputs, [a, b])


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    return rng.normal(size=(N, F)).astype("float32"), rng.integers(0, 3, size=(N,))


def _bad_labels(y, value):
    y = y.copy().astype("float32")
    y[7] = value
    return y


BAD_SPARSE = [(3, "3.0"), (-1, "-1.0"), (1.5, "1.5"), (np.nan, "nan")]


@pytest.mark.parametrize("value,shown", BAD_SPARSE, ids=["too_large", "negative", "fractional", "nan"])
@pytest.mark.parametrize("source", ["arrays", "tf_data", "pydataset", "generator"])
@pytest.mark.parametrize("jit", [False, True], ids=["graph", "xla"])
def test_label_outside_the_classes_is_an_error_everywhere(data, source, value, shown, jit):
    x, y = data
    y = _bad_labels(y, value)
    model = single()
    model.compile("sgd", SCCE, jit_compile=jit)
    if source == "arrays":
        args = dict(x=x, y=y, batch_size=8)
    elif source == "tf_data":
        args = dict(x=tf.data.Dataset.from_tensor_slices((x, y)).batch(8))
    elif source == "pydataset":

        class Batches(keras.utils.PyDataset):
            def __len__(self):
                return 5

            def __getitem__(self, i):
                return x[i * 8 : (i + 1) * 8], y[i * 8 : (i + 1) * 8]

        args = dict(x=Batches())
    else:
        args = dict(x=((x[i : i + 8], y[i : i + 8]) for i in range(0, N, 8)), steps_per_epoch=5)
    with pytest.raises(ValueError, match=rf"Output 'out': labels must be class indices in \[0, 3\).*{shown}"):
        model.fit(epochs=1, verbose=0, **args)


@pytest.mark.parametrize("jit", [False, True], ids=["graph", "xla"])
def test_a_bad_tf_data_batch_is_refused_before_it_is_trained_on(data, jit):
    # Batches 0 and 1 train; batch 2 (bad) fails before anything is computed
    # from it (in the step's graph, or just ahead of the XLA-compiled step). The weights equal those of a plain
    # keras.Model trained on the two good batches alone.
    x, y = data
    y = y.astype("float32")
    y[2 * 8 + 3] = 5
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    inputs = keras.Input((F,))
    # Batch normalisation: its moving statistics must not see the bad batch either.
    hidden = keras.layers.BatchNormalization()(keras.layers.Dense(4)(inputs))
    model = WeightedModel(inputs, keras.layers.Dense(3, activation="softmax", name="out")(hidden))
    model.compile("sgd", SCCE, jit_compile=jit)
    reference = keras.Model(model.inputs, model.outputs)
    reference.compile("sgd", SCCE, jit_compile=jit)
    reference.set_weights(model.get_weights())
    with pytest.raises(
        InvalidLabelsError,
        match=r"Output 'out': labels must be class indices in \[0, 3\) "
        r"\(3 classes\). Received labels 5.0.$",
    ):
        model.fit(ds, epochs=1, verbose=0, shuffle=False)
    # (The optimizer's iteration counter may read 3: inside Keras's compiled
    # step it does not depend on the batch, so it can run before the failed
    # get_next stops the step; that holds for any pipeline error in Keras.)
    reference.fit(ds.take(2), epochs=1, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_batch_checks_off_trains_streamed_batches_unchecked_and_still_checks_arrays(data, tmp_path):
    x, y = data
    w = np.ones(len(y), "float32")
    w[5] = -1.0  # bad, and trainable: a negative weight is a finite loss term
    ds = tf.data.Dataset.from_tensor_slices((x, y, w)).batch(8)
    model = single()
    model.compile("sgd", SCCE)
    with pytest.raises(InvalidLabelsError, match=r"sample weights must be finite and >= 0. Received -1"):
        model.fit(ds, epochs=1, verbose=0)
    trusted = single()
    trusted.compile("sgd", SCCE, batch_checks=False)
    reference = keras.models.clone_model(keras.Model(trusted.inputs, trusted.outputs))
    reference.compile("sgd", SCCE)
    reference.set_weights(trusted.get_weights())
    # What is lost: the bad batch trains, exactly as in plain Keras.
    h = trusted.fit(ds, epochs=1, verbose=0, shuffle=False)
    hr = reference.fit(ds, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_allclose(h.history["loss"], hr.history["loss"], rtol=1e-6)
    # Arrays are still checked once when fit starts; validation arrays too.
    with pytest.raises(InvalidLabelsError, match=r"sample weights must be finite and >= 0"):
        trusted.fit(x, y, sample_weight=w, epochs=1, verbose=0)
    with pytest.raises(InvalidLabelsError, match=r"labels must be class indices in \[0, 3\)"):
        trusted.fit(ds, validation_data=(x, _bad_labels(y, 7)), epochs=1, verbose=0)
    # The option is saved with the model.
    trusted.save(tmp_path / "trusted.keras")
    assert keras.models.load_model(tmp_path / "trusted.keras").get_compile_config()["batch_checks"] is False
    with pytest.raises(TypeError, match=r"Expected `batch_checks` to be a bool. Received: batch_checks='no'"):
        trusted.compile("sgd", SCCE, batch_checks="no")


def test_bad_validation_labels_are_caught(data):
    x, y = data
    model = single()
    model.compile("sgd", SCCE)
    with pytest.raises(ValueError, match=r"Output 'out'.*\[0, 3\).*7"):
        model.fit(x, y, validation_data=(x, _bad_labels(y, 7)), verbose=0)


def test_bad_labels_in_evaluate_are_caught(data):
    x, y = data
    model = single()
    model.compile("sgd", SCCE)
    with pytest.raises(InvalidLabelsError, match=r"Output 'out'"):
        model.evaluate(x, _bad_labels(y, 9), verbose=0)


def test_categorical_labels_outside_zero_one(data):
    x, y = data
    onehot = np.eye(3, dtype="float32")[y]
    onehot[2, 0] = 2.0
    model = single()
    model.compile("sgd", "categorical_crossentropy")
    with pytest.raises(ValueError, match=r"Output 'out': categorical labels must lie in \[0, 1\]. Received labels 2.0"):
        model.fit(x, onehot, verbose=0)


@pytest.mark.parametrize(
    "class_weight,error,match",
    [
        ({0: 1.0, 3: 2.0}, ValueError, r"Output 'out': class_weight key 3 is outside the output's classes \[0, 3\)"),
        ({0: 1.0, -1: 2.0}, ValueError, r"class_weight key -1 is outside"),
        ({0: -1.0}, ValueError, r"Output 'out': class weights must be finite and >= 0. Received \[-1.0\] for class 0"),
        ({1: float("nan")}, ValueError, r"finite and >= 0. Received \[nan\]"),
        ([1.0, float("inf"), 1.0], ValueError, r"finite and >= 0. Received \[inf\]"),
        ([1.0, 2.0], ValueError, r"Output 'out': class_weight as a sequence must have shape \(3,\)"),
        ({"zero": 1.0}, ValueError, r"keys must be integer class indices .* or output names \['out'\]. Received keys \['zero'\]"),
        ({1.5: 1.0}, ValueError, r"Received keys \[1.5\] that are neither"),
        ("inverse", ValueError, r"unknown class_weight strategy 'inverse'"),
        (3.0, TypeError, r"Expected `class_weight` to be None, a strategy name, a dict or a list"),
    ],
    ids=[
        "key_too_large",
        "key_negative",
        "negative_weight",
        "nan_weight",
        "inf_in_list",
        "short_list",
        "string_key",
        "float_key",
        "unknown_strategy",
        "scalar",
    ],
)
def test_bad_class_weight(data, class_weight, error, match):
    x, y = data
    model = single()
    model.compile("sgd", SCCE)
    with pytest.raises(error, match=match):
        model.fit(x, y, class_weight=class_weight, verbose=0)


@pytest.mark.parametrize(
    "class_weight,match",
    [
        ({"a": {0: 2.0}, "c": {0: 1.0}}, r"Received keys \['c'\] that are neither"),
        ({0: 1.0, 1: 2.0}, r"This model has 2 outputs \['a', 'b'\]: key `class_weight` by output name"),
        ([1.0, 2.0], r"give `class_weight` one entry per output"),
        ([{0: 1.0}], r"must have one entry per output \(2: \['a', 'b'\]\). Received 1"),
    ],
    ids=["unknown_output_name", "per_class_dict_on_two_outputs", "flat_list_on_two_outputs", "short_list"],
)
def test_bad_multi_output_class_weight(data, class_weight, match):
    x, y = data
    model = two_outputs()
    model.compile("sgd", [SCCE, "binary_crossentropy"])
    with pytest.raises(ValueError, match=match):
        model.fit(x, [y, (y > 0).astype("float32")], class_weight=class_weight, verbose=0)


def test_unknown_output_name_in_labels(data):
    x, y = data
    model = two_outputs()
    model.compile("sgd", {"a": SCCE, "b": "binary_crossentropy"})
    with pytest.raises(ValueError, match=r"`y` has keys \['c'\] that are not output names"):
        model.fit(x, {"a": y, "c": y}, verbose=0)


def test_unknown_output_name_in_sample_weight(data):
    x, y = data
    model = two_outputs()
    model.compile("sgd", {"a": SCCE, "b": "binary_crossentropy"})
    yb = (y > 0).astype("float32")
    with pytest.raises(ValueError, match=r"`sample_weight` has keys \['z'\] that are not output names"):
        model.fit(x, {"a": y, "b": yb}, sample_weight={"a": np.ones(N), "z": np.ones(N)}, verbose=0)


@pytest.mark.parametrize("value,shown", [(-0.5, "-0.5"), (np.inf, "inf"), (np.nan, "nan")])
def test_bad_sample_weights(data, value, shown):
    x, y = data
    sw = np.ones(N, "float32")
    sw[3] = value
    model = single()
    model.compile("sgd", SCCE)
    with pytest.raises(ValueError, match=rf"Output 'out': sample weights must be finite and >= 0. Received {shown}"):
        model.fit(x, y, sample_weight=sw, verbose=0)


def test_bad_sample_weights_in_a_dataset(data):
    x, y = data
    sw = np.ones(N, "float32")
    sw[3] = -2.0
    model = single()
    model.compile("sgd", SCCE)
    with pytest.raises(ValueError, match=r"Output 'out': sample weights must be finite and >= 0"):
        model.fit(tf.data.Dataset.from_tensor_slices((x, y, sw)).batch(8), verbose=0)


@pytest.mark.parametrize("shape", [(N, T + 1), (N, T, 2)], ids=["wrong_time_length", "extra_axis"])
def test_sample_weights_that_do_not_fit_a_temporal_output(shape):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, T, F)).astype("float32")
    y = rng.integers(0, 3, size=(N, T))
    model = single(input_shape=(T, F))
    model.compile("sgd", SCCE)
    with pytest.raises(ValueError, match=r"Output 'out': sample weights must have shape \(batch,\)"):
        model.fit(x, y, sample_weight=np.ones(shape, "float32"), verbose=0)


def test_balanced_from_a_generator_cannot_see_the_labels(data):
    x, y = data
    model = single()
    model.compile("sgd", SCCE)
    with pytest.raises(ValueError, match=r"a Python generator can be read only once"):
        model.fit(((x[i : i + 8], y[i : i + 8]) for i in range(0, N, 8)), class_weight="balanced", steps_per_epoch=4, verbose=0)


def test_balanced_with_a_class_missing_from_the_labels(data):
    x, y = data
    model = single()
    model.compile("sgd", SCCE)
    with pytest.raises(
        ValueError, match=r"Output 'out': class_weight='balanced' needs every class .* classes \[2\] do not occur"
    ):
        model.fit(x, np.where(y == 2, 0, y), class_weight="balanced", verbose=0)


def test_class_weights_with_a_custom_loss_need_a_label_mode(data):
    x, y = data
    onehot = np.eye(3, dtype="float32")[y]

    def custom(y_true, y_pred):
        return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)

    model = single()
    model.compile("sgd", custom)
    with pytest.raises(ValueError, match=r"Output 'out': class weights need to know how labels map to classes"):
        model.fit(x, onehot, class_weight={1: 2.0}, verbose=0)
    model.compile("sgd", custom, label_mode="categorical")
    model.fit(x, onehot, class_weight={1: 2.0}, verbose=0)


def test_sparse_loss_given_one_hot_labels(data):
    x, y = data
    model = single()
    model.compile("sgd", SCCE)
    with pytest.raises(ValueError, match=r"Output 'out': label_mode 'sparse' expects labels of shape .*One-hot labels need"):
        model.fit(x, np.eye(3, dtype="float32")[y], verbose=0)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(reduction="mean"), ValueError, r"Expected `reduction` to be one of"),
        (dict(validation_class_weight="yes"), TypeError, r"Expected `validation_class_weight` to be a bool"),
        (dict(class_weight="inverse"), ValueError, r"unknown class_weight strategy 'inverse'"),
    ],
)
def test_bad_compile_options(kwargs, error, match):
    model = single()
    with pytest.raises(error, match=match):
        model.compile("sgd", SCCE, **kwargs)


def test_unknown_label_mode(data):
    x, y = data
    model = single()
    model.compile("sgd", SCCE, label_mode="ordinal")
    with pytest.raises(ValueError, match=r"Output 'out': unknown label_mode 'ordinal'"):
        model.fit(x, y, verbose=0)


def test_wrapping_a_subclassed_model_is_refused():
    class Plain(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(TypeError, match=r"WeightedModel\(model\) wraps a built functional or Sequential"):
        WeightedModel(Plain())


def test_an_output_without_labels(data):
    x, y = data
    model = two_outputs()
    model.compile("sgd", {"a": SCCE, "b": "binary_crossentropy"})
    with pytest.raises(ValueError, match=r"y_true and y_pred have different structures"):  # Keras's
        model.fit(x, {"a": y}, verbose=0)


def test_validation_split_needs_arrays(data):
    x, y = data
    model = single()
    model.compile("sgd", SCCE)
    with pytest.raises(ValueError, match=r"`validation_split` is only supported for array inputs"):
        model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(8), validation_split=0.2, verbose=0)


def test_a_torch_dataloader_batch_with_a_bad_label_is_refused(data):
    torch = pytest.importorskip("torch")
    x, y = data
    y = y.copy()
    y[-1] = 3
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=8)
    model = single()
    model.compile("sgd", SCCE)
    with pytest.raises(ValueError, match=r"Output 'out': labels must be class indices in \[0, 3\).*Received labels 3"):
        model.fit(loader, verbose=0)


def test_weights_on_a_scalar_loss(data):
    x, y = data

    def scalar_loss(y_true, y_pred):
        return keras.ops.mean(keras.ops.square(keras.ops.cast(y_true, "float32") - y_pred[:, 0]))

    model = single()
    model.compile("sgd", scalar_loss)
    model.fit(x, y, verbose=0)  # unweighted: trains, as in Keras
    with pytest.raises(
        ValueError,
        match=r"Output 'out': loss 'scalar_loss' returns a scalar, so per-element "
        r"class or sample weights cannot be applied",
    ):
        model.fit(x, y, sample_weight=np.ones(len(y)), verbose=0)


def test_class_weights_on_labels_made_inside_compute_loss(data):
    x, y = data

    class Shifted(WeightedModel):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return super().compute_loss(x, y * 1, y_pred, sample_weight, training=training)

    inputs = keras.Input((x.shape[1],))
    model = Shifted(inputs, keras.layers.Dense(3, activation="softmax", name="out")(inputs))
    model.compile("sgd", SCCE)
    model.fit(x, y, verbose=0)  # no class weights: trains
    with pytest.raises(ValueError, match=r"Output 'out': class weights cannot be routed to this output's loss"):
        model.fit(x, y, class_weight={0: 1.0, 1: 2.0}, verbose=0)


def test_a_strategy_on_an_infinite_dataset_fails_at_once_with_the_ways_out(data):
    x, y = data
    repeated = tf.data.Dataset.from_tensor_slices((x, y)).batch(8).repeat()
    model = single()
    model.compile("sgd", SCCE)
    with pytest.raises(ValueError, match=r"this tf.data.Dataset repeats forever. Pass explicit class weights"):
        model.fit(repeated, steps_per_epoch=2, class_weight="balanced", verbose=0)
    model.fit(repeated, steps_per_epoch=2, class_weight={0: 1.0, 1: 2.0}, verbose=0)  # explicit: fine


def test_a_bad_tf_data_batch_is_caught_after_a_fit_on_arrays(data):
    # The TensorFlow step checks tf.data batches only: a step traced for
    # arrays (checked on the host) must be traced anew for tf.data.
    x, y = data
    model = single()
    model.compile("sgd", SCCE, jit_compile=False)
    model.fit(x, y, epochs=1, verbose=0)
    bad = y.copy()
    bad[5] = 3
    with pytest.raises(InvalidLabelsError, match=r"Output 'out': .*Received labels 3.0.$"):
        model.fit(tf.data.Dataset.from_tensor_slices((x, bad)).batch(8), epochs=1, verbose=0)
    with pytest.raises(InvalidLabelsError, match=r"Received labels 3.0.$"):
        model.evaluate(tf.data.Dataset.from_tensor_slices((x, bad)).batch(8), verbose=0)
    model.fit(x, y, epochs=1, verbose=0)  # and back


@pytest.mark.parametrize(
    "labels",
    [np.array(["a", "b", "c"]), np.array([b"a", b"b", b"c"]), np.array(["0", "1", "2"], dtype=object)],
    ids=["str", "bytes", "object"],
)
def test_string_labels_get_the_documented_error_naming_the_output(data, labels):
    x, _ = data
    y = np.resize(labels, len(x))
    model = two_outputs()
    model.compile("sgd", [SCCE, "binary_crossentropy"])
    for call in (
        lambda: model.fit(x, [y, np.zeros(len(x))], verbose=0),
        lambda: model.evaluate(x, [y, np.zeros(len(x))], verbose=0),
    ):
        with pytest.raises(
            InvalidLabelsError,
            match=rf"Output 'a': labels must be numeric. "
            rf"Received dtype {labels.dtype}",
        ):
            call()
