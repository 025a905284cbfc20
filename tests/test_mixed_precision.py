"""Mixed precision: loss scaling is right and training tracks float32."""

import keras
import numpy as np
import pytest
from conftest import F, per_sample

from weighted_models import WeightedModel

TABLE = np.array([1.0, 5.0, 0.5], "float32")


def build(cls, seed=0):
    inputs = keras.Input((F,))
    h = keras.layers.Dense(8, activation="tanh")(inputs)
    # Keras's advice for mixed precision: a float32 output layer.
    model = cls(inputs, keras.layers.Dense(3, activation="softmax", dtype="float32")(h))
    init = np.random.default_rng(seed)
    model.set_weights([init.normal(scale=0.5, size=w.shape).astype("float32") for w in model.get_weights()])
    return model


def train(policy, cls, x, y, **fit_kwargs):
    keras.config.set_dtype_policy(policy)
    try:
        model = build(cls)
        model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
        history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0, **fit_kwargs)
    finally:
        keras.config.set_dtype_policy("float32")
    return model, history


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_equals_keras_and_tracks_float32(rng_data, policy):
    x, y = rng_data["x"], rng_data["y3"]
    model, h = train(policy, WeightedModel, x, y, class_weight=TABLE.tolist())
    reference, hr = train(policy, keras.Model, x, y, sample_weight=per_sample(TABLE, y))
    # Same as built-in Keras under the same policy (float16: the same loss scale) ...
    np.testing.assert_allclose(h.history["loss"], hr.history["loss"], rtol=1e-3)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)
    # ... and close to float32 training: gradients are not off by the loss scale.
    full, hf = train("float32", WeightedModel, x, y, class_weight=TABLE.tolist())
    tolerance = 2e-2 if policy == "mixed_bfloat16" else 5e-3
    np.testing.assert_allclose(h.history["loss"], hf.history["loss"], rtol=tolerance)
    for a, b in zip(model.get_weights(), full.get_weights()):
        np.testing.assert_allclose(a, b, atol=tolerance * 5)
    if policy == "mixed_float16":
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        assert float(model.optimizer.dynamic_scale) > 1.0  # scaling was in force
