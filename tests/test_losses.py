"""Focal, logit-adjusted, Balanced Softmax and LDAM losses against Keras and NumPy references."""

import keras
import numpy as np
import pytest

from weighted_models import WeightedModel
from weighted_models.losses import (
    BalancedSoftmaxCrossentropy,
    LDAMLoss,
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


def numpy_ldam(counts, labels_one_hot, logits, max_margin, scale):
    """Cao et al.'s LDAM, as their reference code computes it, in NumPy."""
    m = 1.0 / np.sqrt(np.sqrt(np.asarray(counts, "float64")))
    m = m * (max_margin / m.max())
    z = scale * (logits - labels_one_hot * m)
    log_softmax = z - np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True)) - z.max(-1, keepdims=True)
    return -(labels_one_hot * log_softmax).sum(-1)


@pytest.mark.parametrize("max_margin, scale", [(0.5, 1.0), (0.5, 30.0), (1.0, 5.0)])
@pytest.mark.parametrize("sparse", [True, False])
def test_ldam_loss_against_numpy(max_margin, scale, sparse):
    one_hot = np.eye(4, dtype="float32")[Y]
    cosine = np.tanh(LOGITS)  # LDAM works on cosine logits in [-1, 1]
    expected = numpy_ldam(PRIOR, one_hot, cosine, max_margin, scale).mean()
    loss = LDAMLoss(PRIOR, max_margin=max_margin, scale=scale, sparse=sparse)
    np.testing.assert_allclose(np_(loss(Y if sparse else one_hot, cosine)), expected, rtol=1e-5)
    # The rarest class has the largest margin, max_margin; the margins fall as n ** -1/4.
    assert max(loss.margins) == pytest.approx(max_margin)
    np.testing.assert_allclose(np.asarray(loss.margins) * PRIOR**0.25, max_margin * PRIOR.min() ** 0.25, rtol=1e-6)


@pytest.mark.parametrize("sparse", [True, False])
def test_balanced_softmax_against_numpy(sparse):
    # Ren et al.: softmax over exp(z_j) * n_j, normalised.
    weighted = np.exp(LOGITS) * PRIOR
    expected = -np.log(weighted[np.arange(32), Y] / weighted.sum(-1)).mean()
    loss = BalancedSoftmaxCrossentropy(PRIOR, sparse=sparse)
    labels = Y if sparse else np.eye(4, dtype="float32")[Y]
    np.testing.assert_allclose(np_(loss(labels, LOGITS)), expected, rtol=1e-5)


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
    with pytest.raises(ValueError, match=r"Expected `prior` to be class counts or probabilities"):
        LDAMLoss([5.0, -1.0])
    with pytest.raises(ValueError, match=r"Expected `max_margin` > 0 and finite. Received: max_margin=0"):
        LDAMLoss(PRIOR, max_margin=0)
    with pytest.raises(ValueError, match=r"Expected `scale` > 0 and finite. Received: scale=nan"):
        LDAMLoss(PRIOR, scale=float("nan"))
    with pytest.raises(ValueError, match=r"`counts` has 3 classes but the predictions have 4"):
        LDAMLoss([1.0, 1.0, 1.0])(Y, LOGITS)


@pytest.mark.parametrize(
    "loss",
    [
        SparseCategoricalFocalCrossentropy(alpha=[0.5, 1, 1, 2], gamma=1.0, from_logits=True),
        LogitAdjustedCrossentropy(PRIOR, tau=1.0),
        BalancedSoftmaxCrossentropy(PRIOR),
        LDAMLoss(PRIOR, scale=2.0),
    ],
    ids=["focal", "logit_adjusted", "balanced_softmax", "ldam"],
)
def test_beyond_reweighting_losses_take_class_weights_in_weighted_model(loss):
    """They declare sparse labels, so class weights multiply their per-sample losses."""
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
    for loss in (BalancedSoftmaxCrossentropy(PRIOR, sparse=False), LDAMLoss(PRIOR, max_margin=0.3, scale=4.0)):
        model.compile("sgd", loss)
        model.save(tmp_path / "m.keras")
        loaded = keras.models.load_model(tmp_path / "m.keras")
        assert type(loaded.loss) is type(loss) and loaded.loss.get_config() == loss.get_config()
        labels = Y if loss.sparse else np.eye(4, dtype="float32")[Y]
        np.testing.assert_allclose(loaded.evaluate(x, labels, verbose=0), model.evaluate(x, labels, verbose=0), rtol=1e-6)
    adjusted = keras.Model(inputs, LogitAdjustment(PRIOR)(logits))
    adjusted.save(tmp_path / "a.keras")
    again = keras.models.load_model(tmp_path / "a.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0), adjusted.predict(x, verbose=0), rtol=1e-6)
