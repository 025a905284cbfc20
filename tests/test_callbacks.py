"""Class-weight schedules against built-in Keras fits, and the per-class report."""

import pathlib

import keras
import numpy as np
import pytest
from conftest import F, assert_weights_close, counting_model_class, per_sample
from sklearn.metrics import precision_recall_fscore_support, recall_score

from weighted_models import WeightedModel
from weighted_models.callbacks import ClassWeightScheduler, DeferredReweighting, PerClassReport

TABLE = np.array([1.0, 5.0, 0.5], "float32")
SCCE = "sparse_categorical_crossentropy"


def dense(cls=keras.Model):
    inputs = keras.Input((F,))
    h = keras.layers.Dense(6, activation="tanh")(inputs)
    return cls(inputs, keras.layers.Dense(3, activation="softmax")(h))


def pair():
    model = dense(WeightedModel)
    reference = dense()
    reference.set_weights(model.get_weights())
    model.compile("adam", SCCE)
    reference.compile("adam", SCCE)
    return model, reference


def reference_losses(reference, x, y, alphas, interpolation="linear"):
    """One built-in fit per epoch, with the scheduled weights as sample weights."""
    losses = []
    for alpha in alphas:
        table = 1 + alpha * (TABLE - 1) if interpolation == "linear" else TABLE**alpha
        h = reference.fit(x, y, batch_size=16, epochs=1, sample_weight=per_sample(table, y), shuffle=False, verbose=0)
        losses += h.history["loss"]
    return losses


def test_deferred_reweighting_equals_unweighted_then_weighted_keras_fits(rng_data):
    x, y = rng_data["x"], rng_data["y3"]
    model, reference = pair()
    h = model.fit(
        x,
        y,
        batch_size=16,
        epochs=5,
        class_weight=TABLE.tolist(),
        shuffle=False,
        verbose=0,
        callbacks=[DeferredReweighting(start_epoch=3)],
    )
    expected = reference_losses(reference, x, y, [0, 0, 0, 1, 1])
    np.testing.assert_allclose(h.history["loss"], expected, rtol=1e-5)
    assert h.history["class_weight_alpha"] == [0, 0, 0, 1, 1]
    assert_weights_close(model, reference)
    np.testing.assert_array_equal(model.class_weight_tables[model.output_names[0]], TABLE)


@pytest.mark.parametrize("interpolation", ["linear", "power"])
def test_a_ramp_schedule_equals_keras_with_the_scheduled_weights(rng_data, interpolation):
    x, y = rng_data["x"], rng_data["y3"]
    model, reference = pair()
    ramp = ClassWeightScheduler(lambda epoch: min(1.0, epoch / 3), interpolation=interpolation)
    h = model.fit(x, y, batch_size=16, epochs=4, class_weight=TABLE.tolist(), shuffle=False, verbose=0, callbacks=[ramp])
    expected = reference_losses(reference, x, y, [0, 1 / 3, 2 / 3, 1], interpolation)
    np.testing.assert_allclose(h.history["loss"], expected, rtol=1e-5)
    assert_weights_close(model, reference)


def test_a_schedule_does_not_retrace_the_step(rng_data):
    x, y = rng_data["x"], rng_data["y3"]
    Counting = counting_model_class()

    inputs = keras.Input((F,))
    model = Counting(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
    model.compile("sgd", SCCE)
    model.fit(x, y, epochs=6, class_weight="balanced", verbose=0, callbacks=[ClassWeightScheduler(lambda e: e / 5)])
    assert Counting.traces == 1


def test_schedule_errors(rng_data):
    x, y = rng_data["x"], rng_data["y3"]
    model, reference = pair()
    with pytest.raises(ValueError, match=r"ClassWeightScheduler needs class weights to schedule"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[ClassWeightScheduler(lambda e: 1.0)])
    with pytest.raises(ValueError, match=r"alpha in \[0, 1\]. Received 2.0 for epoch 0"):
        model.fit(x, y, epochs=1, verbose=0, class_weight=TABLE.tolist(), callbacks=[ClassWeightScheduler(lambda e: 2.0)])
    with pytest.raises(TypeError, match=r"schedules the class weights of a WeightedModel"):
        reference.fit(x, y, epochs=1, verbose=0, callbacks=[DeferredReweighting(1)])
    with pytest.raises(ValueError, match=r"Expected `interpolation`"):
        ClassWeightScheduler(lambda e: 1.0, interpolation="cosine")
    with pytest.raises(ValueError, match=r"Expected `start_epoch` to be an int >= 0"):
        DeferredReweighting(-1)
    with pytest.raises(ValueError, match=r"Output '.*': expected a table of shape \(3,\)"):
        model.assign_class_weight_tables([[1.0, 2.0]])


def test_per_class_report_logs_scikit_learn_figures(rng_data, capsys):
    x, y = rng_data["x"], rng_data["y3"]
    sw = rng_data["sw"]
    model = dense(WeightedModel)
    model.compile("adam", SCCE)
    report = PerClassReport((x, y, sw), freq=[2], class_names=["a", "b", "c"])
    h = model.fit(x, y, epochs=2, verbose=0, callbacks=[report])
    pred = model.predict(x, verbose=0).argmax(-1)
    precision, recall, f1, support = precision_recall_fscore_support(y, pred, labels=range(3), sample_weight=sw, zero_division=0)
    for i, name in enumerate("abc"):
        assert h.history[f"val_recall_{name}"] == [pytest.approx(recall[i], rel=1e-5)]
        assert h.history[f"val_precision_{name}"] == [pytest.approx(precision[i], rel=1e-5)]
        assert h.history[f"val_f1_{name}"] == [pytest.approx(f1[i], rel=1e-5)]
        assert h.history[f"val_support_{name}"] == [pytest.approx(support[i], rel=1e-5)]
    out = capsys.readouterr().out
    assert "Per-class report, epoch 2" in out and "balanced accuracy" in out
    assert "Per-class report, epoch 1" not in out


def _summaries(folder):
    """{tag: [(step, value)]} from the TensorBoard event files under `folder`."""
    import tensorflow as tf

    found = {}
    for path in sorted(pathlib.Path(folder).glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                found.setdefault(value.tag, []).append((event.step, tf.make_ndarray(value.tensor)))
    return found


def test_per_class_report_writes_recall_and_a_confusion_matrix_to_tensorboard(rng_data, tmp_path):
    import tensorflow as tf

    x, y = rng_data["x"], rng_data["y3"]
    sw = rng_data["sw"]
    model = dense(WeightedModel)
    model.compile("adam", SCCE)
    tensorboard = keras.callbacks.TensorBoard(str(tmp_path))
    report = PerClassReport((x, y, sw), freq=[1, 2], class_names=["a", "b", "c"], print_fn=None, log_dir=tensorboard)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[tensorboard, report], validation_data=(x, y))
    pred = model.predict(x, verbose=0).argmax(-1)
    recall = recall_score(y, pred, labels=range(3), average=None, sample_weight=sw, zero_division=0)
    # Beside Keras's own validation scalars, in the same run.
    summaries = _summaries(tmp_path / "validation")
    assert "epoch_loss" in summaries
    for i, name in enumerate("abc"):
        steps = summaries[f"per_class_recall/{name}"]
        assert [step for step, _ in steps] == [0, 1]
        assert float(steps[-1][1]) == pytest.approx(recall[i], rel=1e-5)
    [(_, first), (step, last)] = summaries["confusion_matrix"]
    assert step == 1
    width, height = int(last[0]), int(last[1])
    image = tf.io.decode_png(last[2]).numpy()
    assert image.shape[:2] == (height, width) and width >= 200
    assert image.std() > 10  # a picture, not a blank canvas


def test_per_class_report_log_dir_is_checked():
    with pytest.raises(TypeError, match="log_dir=3 of type int"):
        PerClassReport((np.zeros((2, 2)), np.zeros(2)), log_dir=3)


def test_per_class_report_on_one_output_of_a_dataset(rng_data):
    import tensorflow as tf

    x, y = rng_data["x"], rng_data["y3"]
    inputs = keras.Input((F,))
    a = keras.layers.Dense(3, activation="softmax", name="a")(inputs)
    b = keras.layers.Dense(1, activation="sigmoid", name="b")(inputs)
    model = WeightedModel(inputs, {"a": a, "b": b})
    model.compile("sgd", {"a": SCCE, "b": "binary_crossentropy"})
    yb = (y == 1).astype("float32")[:, None]
    data = tf.data.Dataset.from_tensor_slices((x, {"a": y, "b": yb})).batch(10)
    report = PerClassReport(data, output="b", print_fn=None)
    h = model.fit(x, {"a": y, "b": yb}, epochs=1, verbose=0, callbacks=[report])
    pred = (model.predict(x, verbose=0)["b"][:, 0] > 0.5).astype(int)
    _, recall, _, _ = precision_recall_fscore_support(yb[:, 0], pred, labels=[0, 1], zero_division=0)
    assert h.history["val_recall_1"] == [pytest.approx(recall[1], rel=1e-5)]


def test_class_weight_tables_are_addressed_by_output_name(rng_data):
    x, y = rng_data["x"], rng_data["y3"]
    inputs = keras.Input(x.shape[1:])
    model = WeightedModel(
        inputs,
        {
            "tags": keras.layers.Dense(3, activation="softmax")(inputs),
            "alarm": keras.layers.Dense(1, activation="sigmoid")(inputs),
        },
    )
    model.compile("sgd", {"tags": "sparse_categorical_crossentropy", "alarm": "binary_crossentropy"})
    model.fit(x, {"tags": y, "alarm": (y == 2).astype("float32")}, class_weight={"tags": "balanced"}, epochs=1, verbose=0)
    tables = model.class_weight_tables
    counts = np.bincount(y, minlength=3)
    np.testing.assert_allclose(tables["tags"], len(y) / (3 * counts), rtol=1e-6)  # scikit-learn's "balanced"
    assert tables["alarm"] is None and set(tables) == {"tags", "alarm"}
