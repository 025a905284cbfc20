"""Focal and logit-adjusted losses against Keras and NumPy references."""

import keras
import numpy as np
import pytest

from weighted_models import WeightedModel
from weighted_models.losses import (
    LogitAdjustedCrossentropy,
    LogitAdjustment,
    SparseCategoricalFocalCrossentropy,
    adjust_logits,
)

RNG = np.random.default_rng(11)
Y = RNG.integers(0, 4, size=(32,))
LOGITS = RNG.normal(size=(32, 4)).astype("float32") * 2
PROBS = keras.ops.convert_to_numpy(keras.ops.softmax(LOGITS))
PRIOR = np.array([50.0, 30.0, 15.0, 5.0])


def np_(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("gamma", [0.0, 1.0, 2.0, 5.0])
@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_focal_equals_keras_categorical_focal_on_one_hot(gamma, from_logits):
    y_pred = LOGITS if from_logits else PROBS
    ours = SparseCategoricalFocalCrossentropy(alpha=0.25, gamma=gamma, from_logits=from_logits)
    keras_loss = keras.losses.CategoricalFocalCrossentropy(alpha=0.25, gamma=gamma, from_logits=from_logits)
    np.testing.assert_allclose(np_(ours(Y, y_pred)), np_(keras_loss(np.eye(4)[Y], y_pred)), rtol=1e-5)


def test_sparse_focal_per_class_alpha_against_numpy():
    alpha = [0.1, 0.3, 0.6, 1.0]
    loss = SparseCategoricalFocalCrossentropy(alpha=alpha, gamma=2.0, reduction=None)
    p = np.clip(PROBS[np.arange(32), Y], 1e-7, 1 - 1e-7)
    expected = -np.asarray(alpha)[Y] * (1 - p) ** 2 * np.log(p)
    np.testing.assert_allclose(np_(loss(Y[:, None], PROBS)), expected, rtol=1e-5)


@pytest.mark.parametrize("tau", [0.0, 1.0, 1.5])
@pytest.mark.parametrize("sparse", [True, False])
def test_logit_adjusted_loss_against_numpy(tau, sparse):
    prior = PRIOR / PRIOR.sum()
    adjusted = LOGITS + tau * np.log(prior)
    log_softmax = adjusted - np.log(np.exp(adjusted).sum(-1, keepdims=True))
    expected = -log_softmax[np.arange(32), Y].mean()
    labels = Y if sparse else np.eye(4, dtype="float32")[Y]
    loss = LogitAdjustedCrossentropy(PRIOR, tau=tau, sparse=sparse)
    np.testing.assert_allclose(np_(loss(labels, LOGITS)), expected, rtol=1e-5)
    from_probs = LogitAdjustedCrossentropy(PRIOR, tau=tau, sparse=sparse, from_logits=False)
    np.testing.assert_allclose(np_(from_probs(labels, PROBS)), expected, rtol=1e-4)


def test_post_hoc_adjustment_against_numpy():
    prior = PRIOR / PRIOR.sum()
    np.testing.assert_allclose(np_(adjust_logits(LOGITS, PRIOR, tau=0.7)), LOGITS - 0.7 * np.log(prior), rtol=1e-6)
    probs = np_(LogitAdjustment(PRIOR, from_logits=False, output_probabilities=True)(PROBS))
    expected = PROBS / prior
    np.testing.assert_allclose(probs, expected / expected.sum(-1, keepdims=True), rtol=1e-4)


def test_loss_and_layer_arguments_are_checked():
    with pytest.raises(ValueError, match=r"Expected `prior` to be class counts or probabilities"):
        LogitAdjustedCrossentropy([1.0, 0.0])
    with pytest.raises(ValueError, match=r"Expected `gamma` >= 0"):
        SparseCategoricalFocalCrossentropy(gamma=-1)
    with pytest.raises(ValueError, match=r"`prior` has 3 classes but the predictions have 4"):
        LogitAdjustedCrossentropy([1.0, 1.0, 1.0])(Y, LOGITS)


@pytest.mark.parametrize(
    "loss",
    [
        SparseCategoricalFocalCrossentropy(alpha=[0.5, 1, 1, 2], gamma=1.0, from_logits=True),
        LogitAdjustedCrossentropy(PRIOR, tau=1.0),
    ],
    ids=["focal", "logit_adjusted"],
)
def test_beyond_reweighting_losses_take_class_weights_in_weighted_model(loss):
    """Both declare sparse labels, so class weights multiply their per-sample losses."""
    x = RNG.normal(size=(32, 3)).astype("float32")
    inputs = keras.Input((3,))
    model = WeightedModel(inputs, keras.layers.Dense(4)(inputs))
    model.compile("sgd", loss)
    table = np.array([1.0, 2.0, 4.0, 8.0], "float32")
    got = model.evaluate(x, Y, class_weight=table, batch_size=32, verbose=0)
    per_sample = np_(loss.call(keras.ops.convert_to_tensor(Y), keras.ops.convert_to_tensor(model.predict(x, verbose=0))))
    np.testing.assert_allclose(got, np.mean(table[Y] * per_sample), rtol=1e-5)


def test_losses_and_layer_survive_a_model_save(tmp_path):
    inputs = keras.Input((3,))
    logits = keras.layers.Dense(4)(inputs)
    model = WeightedModel(inputs, logits)
    model.compile("sgd", LogitAdjustedCrossentropy(PRIOR, tau=0.5))
    x = RNG.normal(size=(32, 3)).astype("float32")
    model.fit(x, Y, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.evaluate(x, Y, verbose=0), model.evaluate(x, Y, verbose=0), rtol=1e-6)
    adjusted = keras.Model(inputs, LogitAdjustment(PRIOR)(logits))
    adjusted.save(tmp_path / "a.keras")
    again = keras.models.load_model(tmp_path / "a.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0), adjusted.predict(x, verbose=0), rtol=1e-6)
