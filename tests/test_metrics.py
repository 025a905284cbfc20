"""Epoch metrics against scikit-learn, fed in uneven batches."""

import keras
import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score, recall_score

from weighted_models.metrics import (
    BalancedAccuracy,
    ConfusionMatrix,
    MacroF1,
    PerClassRecall,
    Sensitivity,
    Specificity,
    WeightedF1,
)

C = 4
RNG = np.random.default_rng(5)
Y = RNG.choice(C, size=211, p=[0.7, 0.2, 0.07, 0.03])
PROBS = RNG.dirichlet(np.ones(C), size=211).astype("float32")
PROBS[np.arange(211) % 3 == 0, Y[np.arange(211) % 3 == 0]] += 1.0  # better than chance
PRED = PROBS.argmax(-1)
SW = RNG.uniform(0.0, 3.0, size=211).astype("float32")
SPLITS = [0, 13, 14, 90, 150, 211]  # uneven batches, one of a single sample


def feed(metric, y, probs, sw=None, splits=SPLITS):
    for a, b in zip(splits[:-1], splits[1:]):
        metric.update_state(y[a:b], probs[a:b], None if sw is None else sw[a:b])
    return keras.ops.convert_to_numpy(metric.result())


def specificity_reference(y, pred, sw=None):
    cm = confusion_matrix(y, pred, labels=range(C), sample_weight=sw)
    tn = cm.sum() - cm.sum(0) - cm.sum(1) + np.diag(cm)
    fp = cm.sum(0) - np.diag(cm)
    spec = np.divide(tn, tn + fp, out=np.zeros(C), where=(tn + fp) > 0)
    present = (cm.sum(0) + cm.sum(1)) > 0
    return spec, spec[present].mean()


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weighted"])
@pytest.mark.parametrize("labels", ["sparse", "one_hot"])
def test_metrics_equal_scikit_learn_over_uneven_batches(weighted, labels):
    sw = SW if weighted else None
    y = Y if labels == "sparse" else np.eye(C, dtype="float32")[Y]
    np.testing.assert_allclose(
        feed(ConfusionMatrix(C), y, PROBS, sw), confusion_matrix(Y, PRED, labels=range(C), sample_weight=sw), rtol=1e-5
    )
    np.testing.assert_allclose(
        feed(BalancedAccuracy(C), y, PROBS, sw), balanced_accuracy_score(Y, PRED, sample_weight=sw), rtol=1e-5
    )
    np.testing.assert_allclose(feed(MacroF1(C), y, PROBS, sw), f1_score(Y, PRED, average="macro", sample_weight=sw), rtol=1e-5)
    np.testing.assert_allclose(
        feed(WeightedF1(C), y, PROBS, sw), f1_score(Y, PRED, average="weighted", sample_weight=sw), rtol=1e-5
    )
    np.testing.assert_allclose(
        feed(Sensitivity(C), y, PROBS, sw), recall_score(Y, PRED, average="macro", sample_weight=sw), rtol=1e-5
    )
    per_class = recall_score(Y, PRED, average=None, labels=range(C), sample_weight=sw)
    for c in range(C):
        np.testing.assert_allclose(feed(Sensitivity(C, class_id=c), y, PROBS, sw), per_class[c], rtol=1e-5)
    recalls = PerClassRecall(C)
    for a, b in zip(SPLITS[:-1], SPLITS[1:]):
        recalls.update_state(y[a:b], PROBS[a:b], None if sw is None else sw[a:b])
    np.testing.assert_allclose([float(v) for v in recalls.result().values()], per_class, rtol=1e-5)
    spec, macro_spec = specificity_reference(Y, PRED, sw)
    np.testing.assert_allclose(feed(Specificity(C), y, PROBS, sw), macro_spec, rtol=1e-5)
    np.testing.assert_allclose(feed(Specificity(C, class_id=2), y, PROBS, sw), spec[2], rtol=1e-5)


def test_per_batch_averaging_would_be_wrong_here():
    """The per-batch way (mean of per-batch recalls, a common Keras 2 recipe) differs from the epoch figure."""
    batch_means = np.mean(
        [
            recall_score(Y[a:b], PRED[a:b], average="macro", labels=range(C), zero_division=0)
            for a, b in zip(SPLITS[:-1], SPLITS[1:])
        ]
    )
    epoch = feed(Sensitivity(C), Y, PROBS)
    assert abs(batch_means - epoch) > 0.01
    np.testing.assert_allclose(epoch, recall_score(Y, PRED, average="macro"), rtol=1e-5)


def test_temporal_labels_with_timestep_weights():
    y = RNG.integers(0, 3, size=(20, 7))
    probs = RNG.dirichlet(np.ones(3), size=(20, 7)).astype("float32")
    sw = (RNG.random((20, 7)) > 0.3).astype("float32")
    got = feed(BalancedAccuracy(3), y, probs, sw, splits=[0, 3, 11, 20])
    expected = balanced_accuracy_score(y.ravel(), probs.argmax(-1).ravel(), sample_weight=sw.ravel())
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    per_sample = RNG.uniform(0.5, 2, size=20).astype("float32")
    got = feed(MacroF1(3), y, probs, per_sample, splits=[0, 3, 11, 20])
    expected = f1_score(y.ravel(), probs.argmax(-1).ravel(), average="macro", sample_weight=np.repeat(per_sample, 7))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_binary_sigmoid_outputs_use_the_threshold():
    y = (RNG.random((60, 1)) < 0.1).astype("float32")
    p = RNG.random((60, 1)).astype("float32")
    pred = (p[:, 0] > 0.3).astype(int)
    sens = feed(Sensitivity(2, class_id=1, threshold=0.3), y, p, splits=[0, 7, 60])
    spec = feed(Specificity(2, class_id=1, threshold=0.3), y, p, splits=[0, 7, 60])
    np.testing.assert_allclose(sens, recall_score(y[:, 0], pred), rtol=1e-6)
    np.testing.assert_allclose(spec, recall_score(y[:, 0], pred, pos_label=0), rtol=1e-6)


def test_reset_state_starts_a_new_epoch():
    m = BalancedAccuracy(C)
    feed(m, Y, PROBS)
    m.reset_state()
    np.testing.assert_allclose(feed(m, Y[:50], PROBS[:50]), balanced_accuracy_score(Y[:50], PRED[:50]), rtol=1e-6)


def test_binary_is_the_default_and_other_widths_are_named():
    y = (RNG.random((60, 1)) < 0.2).astype("float32")
    p = RNG.random((60, 1)).astype("float32")
    np.testing.assert_allclose(feed(Sensitivity(class_id=1), y, p), recall_score(y[:, 0], p[:, 0] > 0.5), rtol=1e-6)
    np.testing.assert_allclose(feed(BalancedAccuracy(), y, p), balanced_accuracy_score(y[:, 0], p[:, 0] > 0.5), rtol=1e-6)
    with pytest.raises(
        ValueError,
        match=r"Metric 'macro_f1' counts 2 classes, but the output it is given has "
        rf"{C} units. Pass num_classes={C} \(the default, 2, is for binary",
    ):
        MacroF1().update_state(Y, PROBS)


def test_metric_arguments_are_checked():
    with pytest.raises(ValueError, match=r"Expected `num_classes` to be an int >= 2. Received: num_classes=1"):
        BalancedAccuracy(1)
    with pytest.raises(ValueError, match=r"Expected `class_id` in \[0, 3\). Received: class_id=3"):
        Sensitivity(3, class_id=3)


def test_metrics_in_a_compiled_model_under_xla_match_scikit_learn():
    from weighted_models import WeightedModel

    x = RNG.normal(size=(211, 6)).astype("float32")
    inputs = keras.Input((6,))
    model = WeightedModel(inputs, keras.layers.Dense(C, activation="softmax")(inputs))
    model.compile(
        "sgd", "sparse_categorical_crossentropy", jit_compile=True, metrics=[BalancedAccuracy(C), MacroF1(C), PerClassRecall(C)]
    )
    logs = model.evaluate(x, Y, batch_size=64, return_dict=True, verbose=0)
    pred = model.predict(x, verbose=0).argmax(-1)
    np.testing.assert_allclose(logs["balanced_accuracy"], balanced_accuracy_score(Y, pred), rtol=1e-5)
    np.testing.assert_allclose(logs["macro_f1"], f1_score(Y, pred, average="macro"), rtol=1e-5)
    per_class = recall_score(Y, pred, average=None, labels=range(C), zero_division=0)
    np.testing.assert_allclose([logs[f"recall_{c}"] for c in range(C)], per_class, rtol=1e-5)


def test_metrics_round_trip_through_config():
    for metric in (BalancedAccuracy(3), Sensitivity(3, class_id=1), MacroF1(4, name="f"), PerClassRecall(2)):
        restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(metric))
        assert type(restored) is type(metric) and restored.get_config() == metric.get_config()
