"""WeightedModel against built-in Keras `fit` given the equivalent sample weights.

Wherever Keras can express a case (per-output `(N,)`/`(N, T)` sample weights
that equal class weight x sample weight), histories and final weights must
match to float32 precision. Elsewhere the reference is a few lines of NumPy.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import F, N, T, assert_history_close, assert_weights_close, counting_model_class, per_sample

from weighted_models import EffectiveNumber, WeightedModel

CW3 = {0: 1.0, 1: 5.0, 2: 0.5}
TABLE3 = [1.0, 5.0, 0.5]
SCCE = "sparse_categorical_crossentropy"


class SubclassedNet(WeightedModel):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(6, activation="tanh")
        self.out = keras.layers.Dense(3, activation="softmax")

    def call(self, x):
        return self.out(self.hidden(x))


def reference_dense(units=3, activation="softmax", input_shape=(F,)):
    inputs = keras.Input(input_shape)
    h = keras.layers.Dense(6, activation="tanh")(inputs)
    return keras.Model(inputs, keras.layers.Dense(units, activation=activation)(h))


def weighted_dense(kind, x):
    if kind == "functional":
        inputs = keras.Input((F,))
        h = keras.layers.Dense(6, activation="tanh")(inputs)
        return WeightedModel(inputs, keras.layers.Dense(3, activation="softmax")(h))
    if kind == "subclassed":
        model = SubclassedNet()
        model(x[:1])
        return model
    if kind == "wrapped_sequential":
        seq = keras.Sequential(
            [keras.Input((F,)), keras.layers.Dense(6, activation="tanh"), keras.layers.Dense(3, activation="softmax")]
        )
        return WeightedModel(seq)
    raise AssertionError(kind)


def twin(model, reference):
    """Gives `reference` the initial weights of `model`."""
    reference.set_weights(model.get_weights())
    return reference


def fit_against_keras(
    model,
    reference_model,
    x,
    y,
    *,
    loss=SCCE,
    class_weight=CW3,
    reference_sample_weight,
    sample_weight=None,
    compile_kwargs=None,
    batch_size=16,
    epochs=2,
):
    """Fits `model` with class weights and a Keras twin with the equivalent sample weights."""
    reference = twin(model, reference_model)
    model.compile("sgd", loss, **(compile_kwargs or {}))
    reference.compile(
        "sgd",
        loss,
        **{k: v for k, v in (compile_kwargs or {}).items() if k in ("steps_per_execution", "metrics", "weighted_metrics")},
    )
    h = model.fit(
        x,
        y,
        batch_size=batch_size,
        epochs=epochs,
        class_weight=class_weight,
        sample_weight=sample_weight,
        shuffle=False,
        verbose=0,
    )
    hr = reference.fit(
        x, y, batch_size=batch_size, epochs=epochs, sample_weight=reference_sample_weight, shuffle=False, verbose=0
    )
    return h, hr, reference


EXECUTION = {
    "eager": dict(run_eagerly=True),
    "graph": dict(jit_compile=False),
    "xla": dict(jit_compile=True),
}


@pytest.mark.parametrize("mode", list(EXECUTION), ids=lambda m: f"in_{m}_mode")
@pytest.mark.parametrize("kind", ["functional", "subclassed", "wrapped_sequential"])
def test_class_weight_equals_keras_sample_weight(rng_data, kind, mode):
    x, y = rng_data["x"], rng_data["y3"]
    model = weighted_dense(kind, x)
    reference = twin(model, reference_dense())
    model.compile("sgd", SCCE, weighted_metrics=["accuracy"], **EXECUTION[mode])
    reference.compile("sgd", SCCE, weighted_metrics=["accuracy"], **EXECUTION[mode])
    h = model.fit(x, y, batch_size=16, epochs=3, class_weight=CW3, shuffle=False, verbose=0)
    hr = reference.fit(x, y, batch_size=16, epochs=3, sample_weight=per_sample(TABLE3, y), shuffle=False, verbose=0)
    assert_history_close(h, hr)
    assert_weights_close(model, reference)


def _batches(x, y, sw=None, size=16):
    for start in range(0, len(x), size):
        batch = (x[start : start + size], y[start : start + size])
        yield batch if sw is None else batch + (sw[start : start + size],)


class ListDataset(keras.utils.PyDataset):
    def __init__(self, batches, as_dict=False):
        super().__init__()
        self.batches = list(batches)
        self.as_dict = as_dict

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, i):
        batch = self.batches[i]
        if self.as_dict:
            return ({"features": batch[0]},) + batch[1:]
        return batch


SOURCES = ["arrays", "tensors", "tf_data", "tf_data_with_weights", "pydataset", "pydataset_of_dicts", "generator"]


@pytest.mark.parametrize("source", SOURCES)
def test_every_data_source_gives_the_same_training(rng_data, source):
    x, y, sw = rng_data["x"], rng_data["y3"], rng_data["sw"]
    inputs = keras.Input((F,), name="features")
    h = keras.layers.Dense(6, activation="tanh")(inputs)
    model = WeightedModel(inputs, keras.layers.Dense(3, activation="softmax")(h))
    reference = twin(model, reference_dense())
    model.compile("sgd", SCCE)
    reference.compile("sgd", SCCE)
    kwargs = dict(epochs=2, class_weight=CW3, verbose=0)
    with_weights = source in ("tf_data_with_weights", "pydataset", "pydataset_of_dicts", "generator")
    if source == "arrays":
        h = model.fit(x, y, batch_size=16, shuffle=False, **kwargs)
    elif source == "tensors":
        h = model.fit(tf.constant(x), tf.constant(y), batch_size=16, shuffle=False, **kwargs)
    elif source == "tf_data":
        h = model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(16), **kwargs)
    elif source == "tf_data_with_weights":
        h = model.fit(tf.data.Dataset.from_tensor_slices((x, y, sw)).batch(16), **kwargs)
    elif source.startswith("pydataset"):
        data = ListDataset(_batches(x, y, sw), as_dict=source.endswith("dicts"))
        h = model.fit(data, shuffle=False, **kwargs)
    else:

        def endless():
            while True:
                yield from _batches(x, y, sw)

        h = model.fit(endless(), steps_per_epoch=3, **kwargs)
    ref_sw = per_sample(TABLE3, y) * (sw if with_weights else 1.0)
    hr = reference.fit(x, y, batch_size=16, epochs=2, sample_weight=ref_sw, shuffle=False, verbose=0)
    assert_history_close(h, hr)
    assert_weights_close(model, reference)


def two_headed(cls):
    inputs = keras.Input((T, F))
    h = keras.layers.Dense(6, activation="tanh")(inputs)
    tags = keras.layers.Dense(3, activation="softmax", name="tags")(h)
    flag = keras.layers.Dense(1, activation="sigmoid", name="flag")(keras.layers.Flatten()(h))
    return cls(inputs, {"tags": tags, "flag": flag})


LOSSES = {"tags": SCCE, "flag": "binary_crossentropy"}


@pytest.mark.parametrize("form", ["dict_by_name", "list_in_output_order"])
def test_multi_output_temporal_class_and_sample_weights(rng_data, form):
    x, yt, yb, sw = rng_data["xt"], rng_data["yt3"], rng_data["yb"], rng_data["sw"]
    swt = rng_data["swt"]
    model = two_headed(WeightedModel)
    reference = twin(model, two_headed(keras.Model))
    flag_cw = {0: 1.0, 1: 3.0}
    if form == "dict_by_name":
        class_weight = {"tags": CW3, "flag": flag_cw}
    else:
        names = model.output_names
        class_weight = [{"tags": CW3, "flag": flag_cw}[n] for n in names]
    model.compile("adam", LOSSES, loss_weights={"tags": 0.7, "flag": 2.0}, weighted_metrics={"flag": ["accuracy"]})
    reference.compile("adam", LOSSES, loss_weights={"tags": 0.7, "flag": 2.0}, weighted_metrics={"flag": ["accuracy"]})
    y = {"tags": yt, "flag": yb}
    h = model.fit(
        x,
        y,
        batch_size=16,
        epochs=3,
        class_weight=class_weight,
        sample_weight={"tags": swt, "flag": sw},
        shuffle=False,
        verbose=0,
    )
    ref_sw = {"tags": per_sample(TABLE3, yt) * swt, "flag": per_sample([1.0, 3.0], yb[:, 0]) * sw}
    hr = reference.fit(x, y, batch_size=16, epochs=3, sample_weight=ref_sw, shuffle=False, verbose=0)
    assert_history_close(h, hr, keys=["loss", "flag_accuracy"])
    assert_weights_close(model, reference)
    # Per-output losses add up to the loss, partial last batch included
    # (Keras's own per-output logs weigh every batch alike and do not).
    total = 0.7 * np.array(h.history["tags_loss"]) + 2.0 * np.array(h.history["flag_loss"])
    np.testing.assert_allclose(total, h.history["loss"], rtol=1e-5)


def test_per_output_losses_are_batch_size_weighted_means(rng_data):
    x, yt, yb = rng_data["xt"], rng_data["yt3"], rng_data["yb"]
    model = two_headed(WeightedModel)
    model.compile("sgd", LOSSES)
    logs = model.evaluate(x, {"tags": yt, "flag": yb}, batch_size=16, return_dict=True, verbose=0)
    y_pred = model.predict(x, verbose=0)
    p = np.take_along_axis(y_pred["tags"], yt[..., None], axis=-1)[..., 0]
    np.testing.assert_allclose(logs["tags_loss"], np.mean(-np.log(p)), rtol=1e-5)
    q = np.clip(y_pred["flag"], 1e-7, 1 - 1e-7)
    bce = -(yb * np.log(q) + (1 - yb) * np.log(1 - q))
    np.testing.assert_allclose(logs["flag_loss"], bce.mean(), rtol=1e-5)


def test_single_sample_weight_is_expanded_over_time_explicitly(rng_data):
    """`(N,)` weights on a `(N, T)` loss weigh every timestep of the sample."""
    x, yt, sw = rng_data["xt"], rng_data["yt3"], rng_data["sw"]
    model = WeightedModel(reference_dense(input_shape=(T, F)))
    # batch_size == T is where an accidental broadcast would weight the time axis.
    h, hr, reference = fit_against_keras(
        model,
        reference_dense(input_shape=(T, F)),
        x,
        yt,
        sample_weight=sw,
        batch_size=T,
        reference_sample_weight=per_sample(TABLE3, yt) * sw[:, None],
    )
    assert_history_close(h, hr)
    assert_weights_close(model, reference)


@pytest.mark.parametrize("smoothing", [0.0, 0.2], ids=["one_hot", "label_smoothing"])
def test_one_hot_labels_take_the_expected_weight(rng_data, smoothing):
    x, y = rng_data["x"], rng_data["y3"]
    # Label smoothing happens inside the loss; the weight is that of the label given.
    h, hr, _ = fit_against_keras(
        WeightedModel(reference_dense()),
        reference_dense(),
        x,
        np.eye(3, dtype="float32")[y],
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=smoothing),
        reference_sample_weight=per_sample(TABLE3, y),
    )
    assert_history_close(h, hr)


def test_soft_labels_take_the_expected_weight(rng_data):
    soft = np.random.default_rng(3).dirichlet([1.0, 1.0, 1.0], size=N).astype("float32")
    h, hr, _ = fit_against_keras(
        WeightedModel(reference_dense()),
        reference_dense(),
        rng_data["x"],
        soft,
        loss="categorical_crossentropy",
        reference_sample_weight=soft @ np.asarray(TABLE3, "float32"),
    )
    assert_history_close(h, hr)


def test_binary_output_with_class_weights(rng_data):
    x, yb = rng_data["x"], rng_data["yb"]
    h, hr, _ = fit_against_keras(
        WeightedModel(reference_dense(1, "sigmoid")),
        reference_dense(1, "sigmoid"),
        x,
        yb,
        loss="binary_crossentropy",
        class_weight=[0.5, 4.0],
        compile_kwargs=dict(metrics=["accuracy"]),
        reference_sample_weight=per_sample([0.5, 4.0], yb[:, 0]),
    )
    assert_history_close(h, hr)


def _numpy_bce(y, p):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


@pytest.mark.parametrize("reduction", ["auto", "weighted_mean"])
def test_multilabel_weights_apply_per_label_before_the_label_mean(rng_data, reduction):
    x, y, sw = rng_data["x"], rng_data["yml"], rng_data["sw"]
    model = WeightedModel(reference_dense(4, "sigmoid"))
    model.compile("sgd", "binary_crossentropy", reduction=reduction)
    table = np.array([[1.0, 0.5, 2.0, 1.0], [3.0, 6.0, 1.0, 9.0]], "float32")  # rows: neg, pos
    loss = model.evaluate(x, y, sample_weight=sw, class_weight=table, batch_size=N, verbose=0)
    w = ((1 - y) * table[0] + y * table[1]) * sw[:, None]
    elementwise = _numpy_bce(y, model.predict(x, verbose=0))
    if reduction == "auto":
        expected = np.sum(w * elementwise) / elementwise.size
    else:
        expected = np.sum(w * elementwise) / np.sum(w)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_multilabel_positive_weights_dict(rng_data):
    x, y = rng_data["x"], rng_data["yml"]
    model = WeightedModel(reference_dense(4, "sigmoid"))
    model.compile("sgd", "binary_crossentropy")
    loss = model.evaluate(x, y, class_weight={1: 5.0, 3: (0.5, 2.0)}, batch_size=N, verbose=0)
    neg = np.array([1.0, 1.0, 1.0, 0.5])
    pos = np.array([1.0, 5.0, 1.0, 2.0])
    w = (1 - y) * neg + y * pos
    elementwise = _numpy_bce(y, model.predict(x, verbose=0))
    np.testing.assert_allclose(loss, np.mean(w * elementwise), rtol=1e-5)


def test_weighted_mean_divides_by_the_broadcast_weights(rng_data):
    """`(N,)` weights on a temporal loss: sum(w*l) / sum(w) with w over (N, T)."""
    x, yt, sw = rng_data["xt"], rng_data["yt3"], rng_data["sw"]
    model = WeightedModel(reference_dense(input_shape=(T, F)))
    model.compile("sgd", SCCE, reduction="weighted_mean")
    loss = model.evaluate(x, yt, sample_weight=sw, class_weight=CW3, batch_size=N, verbose=0)
    p = np.take_along_axis(model.predict(x, verbose=0), yt[..., None], axis=-1)[..., 0]
    w = per_sample(TABLE3, yt) * sw[:, None]
    np.testing.assert_allclose(loss, np.sum(-w * np.log(p)) / np.sum(w), rtol=1e-5)


def _numpy_table(strategy, y):
    from sklearn.utils.class_weight import compute_class_weight

    counts = np.bincount(y).astype(float)
    if strategy == "balanced":
        return compute_class_weight("balanced", classes=np.arange(3), y=y)
    raw = counts**-0.5 if strategy == "sqrt" else (1 - 0.99) / (1 - 0.99**counts)
    return raw * counts.sum() / np.sum(raw * counts)


@pytest.mark.parametrize("strategy", ["balanced", "sqrt", "effective_number_0.99"])
def test_strategies_in_compile_equal_their_reference_tables(rng_data, strategy):
    from weighted_models import EffectiveNumber

    y = np.r_[np.zeros(25, int), np.ones(9, int), np.full(3, 2)]
    given = EffectiveNumber(0.99) if strategy.startswith("effective") else strategy
    h, hr, _ = fit_against_keras(
        WeightedModel(reference_dense()),
        reference_dense(),
        rng_data["x"],
        y,
        class_weight=None,
        compile_kwargs=dict(class_weight=given),
        reference_sample_weight=per_sample(_numpy_table(strategy.split("_0")[0], y), y),
    )
    assert_history_close(h, hr)


def test_balanced_from_a_dataset_uses_the_dataset_labels(rng_data):
    from sklearn.utils.class_weight import compute_class_weight

    x = rng_data["x"]
    y = np.r_[np.zeros(25, int), np.ones(9, int), np.full(3, 2)]
    model = WeightedModel(reference_dense())
    reference = twin(model, reference_dense())
    model.compile("sgd", SCCE)
    reference.compile("sgd", SCCE)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(10)
    h = model.fit(ds, epochs=2, class_weight="balanced", verbose=0)
    table = compute_class_weight("balanced", classes=np.arange(3), y=y)
    hr = reference.fit(x, y, batch_size=10, epochs=2, sample_weight=per_sample(table, y), shuffle=False, verbose=0)
    assert_history_close(h, hr)


def test_validation_is_unweighted_by_default_and_weighted_on_request(rng_data):
    x, y = rng_data["x"], rng_data["y3"]
    model = WeightedModel(reference_dense())
    model.compile("sgd", SCCE)
    h = model.fit(x, y, batch_size=N, epochs=1, class_weight=CW3, validation_data=(x, y), verbose=0)
    unweighted = model.evaluate(x, y, batch_size=N, verbose=0)
    np.testing.assert_allclose(h.history["val_loss"][0], unweighted, rtol=1e-6)

    model.compile("sgd", SCCE, validation_class_weight=True)
    h = model.fit(x, y, batch_size=N, epochs=1, class_weight=CW3, validation_data=(x, y), verbose=0)
    p = np.take_along_axis(model.predict(x, verbose=0), y[:, None], axis=-1)[:, 0]
    expected = np.mean(-per_sample(TABLE3, y) * np.log(p))
    np.testing.assert_allclose(h.history["val_loss"][0], expected, rtol=1e-5)
    # evaluate() afterwards uses the same (training) class weights.
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=N, verbose=0), expected, rtol=1e-5)


def test_steps_per_execution_gives_the_same_training(rng_data):
    x, y = rng_data["x"], rng_data["y3"]
    model = WeightedModel(reference_dense())
    h, hr, reference = fit_against_keras(
        model,
        reference_dense(),
        x,
        y,
        batch_size=8,
        compile_kwargs=dict(steps_per_execution=2),
        reference_sample_weight=per_sample(TABLE3, y),
    )
    assert_history_close(h, hr)
    assert_weights_close(model, reference)


def test_regularization_losses_are_added(rng_data):
    x, y = rng_data["x"], rng_data["y3"]

    def build(cls):
        inputs = keras.Input((F,))
        h = keras.layers.Dense(6, activation="tanh", kernel_regularizer=keras.regularizers.L2(0.1))(inputs)
        return cls(inputs, keras.layers.Dense(3, activation="softmax")(h))

    h, hr, _ = fit_against_keras(build(WeightedModel), build(keras.Model), x, y, reference_sample_weight=per_sample(TABLE3, y))
    assert_history_close(h, hr)


def test_the_step_does_not_retrace_when_class_weights_change(rng_data):
    x, y = rng_data["x"], rng_data["y3"]
    Counting = counting_model_class()
    model = Counting(reference_dense())
    model.compile("sgd", SCCE)
    model.fit(x, y, batch_size=16, epochs=3, class_weight=CW3, verbose=0)
    first = Counting.traces
    model.fit(x, y, batch_size=16, epochs=3, class_weight={0: 2.0, 1: 1.0, 2: 7.0}, verbose=0)
    model.fit(x, y, batch_size=16, epochs=2, class_weight="balanced", verbose=0)
    assert first >= 1
    assert Counting.traces == first


def test_custom_train_step_reuses_the_helpers(rng_data):
    x, y = rng_data["x"], rng_data["y3"]
    seen = []

    class Custom(WeightedModel):
        def train_step(self, data):
            # The Keras way: compute_loss and compute_metrics carry the weights.
            x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(x, y, y_pred, sample_weight, training=True)
            seen.append(self.compute_sample_weight(y, y_pred, sample_weight))
            grads = tape.gradient(loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            self._loss_tracker.update_state(loss, sample_weight=tf.shape(x)[0])
            return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    model = Custom(reference_dense())
    reference = twin(model, reference_dense())
    model.compile("sgd", SCCE)
    reference.compile("sgd", SCCE)
    h = model.fit(x, y, batch_size=16, epochs=2, class_weight=CW3, shuffle=False, verbose=0)
    hr = reference.fit(x, y, batch_size=16, epochs=2, sample_weight=per_sample(TABLE3, y), shuffle=False, verbose=0)
    assert_history_close(h, hr)
    assert seen and tuple(seen[0].shape)[-1:] in ((None,), (16,))


def test_save_load_round_trip_and_training_continues_identically(rng_data, tmp_path):
    model = two_headed(WeightedModel)
    yb = rng_data["yb"]
    xt, yt = rng_data["xt"], rng_data["yt3"]
    model.compile(
        "adam",
        LOSSES,
        class_weight={"tags": EffectiveNumber(0.9), "flag": "balanced"},
        reduction="weighted_mean",
        validation_class_weight=True,
    )
    data = dict(x=xt, y={"tags": yt, "flag": yb}, batch_size=16, shuffle=False, verbose=0)
    model.fit(epochs=1, **data)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, WeightedModel)
    config = loaded.get_compile_config()
    assert config["reduction"] == "weighted_mean"
    assert config["validation_class_weight"] is True
    assert loaded.default_class_weight == {"tags": EffectiveNumber(0.9), "flag": "balanced"}
    np.testing.assert_allclose(
        loaded.evaluate(xt, {"tags": yt, "flag": yb}, verbose=0),
        model.evaluate(xt, {"tags": yt, "flag": yb}, verbose=0),
        rtol=1e-6,
    )
    h1 = model.fit(epochs=2, **data)
    h2 = loaded.fit(epochs=2, **data)
    assert_history_close(h1, h2)
    assert_weights_close(model, loaded)


def test_subclassed_model_built_from_inputs_and_outputs(rng_data):
    """`class Net(WeightedModel)` calling `super().__init__(inputs, outputs)`."""

    class Net(WeightedModel):
        def __init__(self):
            inputs = keras.Input((F,))
            outputs = keras.layers.Dense(3, activation="softmax")(inputs)
            super().__init__(inputs, outputs)

    net = Net()
    net.compile("sgd", SCCE)
    net.fit(rng_data["x"], rng_data["y3"], class_weight=CW3, epochs=1, verbose=0)
    # WeightedModel itself must stay a plain (non-functional) Keras model class.
    plain = SubclassedNet()
    assert not isinstance(plain, keras.src.models.functional.Functional)


def test_train_on_batch_and_test_on_batch(rng_data):
    x, y = rng_data["x"], rng_data["y3"]
    model = WeightedModel(reference_dense())
    reference = twin(model, reference_dense())
    model.compile("sgd", SCCE)
    reference.compile("sgd", SCCE)
    for start in (0, 16, 32):
        xb, yb = x[start : start + 16], y[start : start + 16]
        got = model.train_on_batch(xb, yb, class_weight=CW3)
        expected = reference.train_on_batch(xb, yb, sample_weight=per_sample(TABLE3, yb))
        np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert_weights_close(model, reference)
    np.testing.assert_allclose(
        model.test_on_batch(x, y, class_weight=CW3),
        reference.test_on_batch(x, y, sample_weight=per_sample(TABLE3, y)),
        rtol=1e-5,
    )


def test_balanced_after_validation_split_uses_the_training_part(rng_data):
    from sklearn.utils.class_weight import compute_class_weight

    x = rng_data["x"]
    # Training part (first 27): 18/6/3 per class; the last 10, all class 2, validate.
    y = np.r_[np.zeros(18, int), np.ones(6, int), np.full(13, 2)]
    split = int(np.floor(N * 0.75))
    model = WeightedModel(reference_dense())
    reference = twin(model, reference_dense())
    model.compile("sgd", SCCE)
    reference.compile("sgd", SCCE)
    h = model.fit(x, y, batch_size=8, epochs=2, validation_split=0.25, class_weight="balanced", shuffle=False, verbose=0)
    table = compute_class_weight("balanced", classes=np.arange(3), y=y[:split])
    hr = reference.fit(
        x[:split],
        y[:split],
        batch_size=8,
        epochs=2,
        shuffle=False,
        verbose=0,
        sample_weight=per_sample(table, y[:split]),
        validation_data=(x[split:], y[split:]),
    )
    assert_history_close(h, hr)
    assert_weights_close(model, reference)


def test_validation_data_as_a_dataset_is_checked_and_used(rng_data):
    x, y = rng_data["x"], rng_data["y3"]
    model = WeightedModel(reference_dense())
    model.compile("sgd", SCCE, validation_class_weight=True)
    val = tf.data.Dataset.from_tensor_slices((x, y)).batch(N)
    h = model.fit(x, y, batch_size=N, epochs=1, class_weight=CW3, validation_data=val, verbose=0)
    p = np.take_along_axis(model.predict(x, verbose=0), y[:, None], axis=-1)[:, 0]
    np.testing.assert_allclose(h.history["val_loss"][0], np.mean(-per_sample(TABLE3, y) * np.log(p)), rtol=1e-5)
    bad = tf.data.Dataset.from_tensor_slices((x, np.full(N, 5))).batch(N)
    with pytest.raises(ValueError, match=r"Output '.*': labels must be class indices in \[0, 3\)"):
        model.fit(x, y, batch_size=N, epochs=1, validation_data=bad, verbose=0)


def test_sample_weights_for_some_outputs_leave_the_others_unweighted(rng_data):
    x, yt, yb, swt = rng_data["xt"], rng_data["yt3"], rng_data["yb"], rng_data["swt"]
    model = two_headed(WeightedModel)
    reference = twin(model, two_headed(keras.Model))
    model.compile("sgd", LOSSES)
    reference.compile("sgd", LOSSES)
    y = {"tags": yt, "flag": yb}
    h = model.fit(
        x, y, batch_size=16, epochs=2, sample_weight={"tags": swt}, class_weight={"tags": CW3}, shuffle=False, verbose=0
    )
    hr = reference.fit(
        x,
        y,
        batch_size=16,
        epochs=2,
        shuffle=False,
        verbose=0,
        sample_weight={"tags": per_sample(TABLE3, yt) * swt, "flag": np.ones(N, "float32")},
    )
    assert_history_close(h, hr, keys=["loss"])
    assert_weights_close(model, reference)
