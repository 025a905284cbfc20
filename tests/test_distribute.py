"""MirroredStrategy over two logical CPUs trains like one device, for the default
reduction and for the true weighted mean, whose denominator is summed over the
replicas (subprocess: logical devices must be configured before TensorFlow starts)."""

import subprocess
import sys
import textwrap

import pytest
from conftest import requires_exact_keras_distribution

SCRIPT = textwrap.dedent(
    """
    import os
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from weighted_models import WeightedModel
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5, 4)).astype("float32")
    y = rng.integers(0, 3, size=(64, 5))
    swt = rng.uniform(0, 2, size=(64, 5)).astype("float32")
    cw = np.array([1.0, 5.0, 0.5], "float32")
    def make(cls):
        i = keras.Input((5, 4))
        model = cls(i, keras.layers.Dense(3, activation="softmax")(i))
        init = np.random.default_rng(1)
        model.set_weights([init.normal(size=w.shape).astype("float32") for w in model.get_weights()])
        return model
    kwargs = dict(batch_size=16, epochs=2, class_weight=cw.tolist(), sample_weight=swt,
                  shuffle=False, verbose=0)
    for reduction in ("auto", "weighted_mean"):
        with tf.distribute.MirroredStrategy(["CPU:0", "CPU:1"]).scope():
            m = make(WeightedModel)
            m.compile("sgd", "sparse_categorical_crossentropy", reduction=reduction)
        one = make(WeightedModel)  # the same model on one device
        one.compile("sgd", "sparse_categorical_crossentropy", reduction=reduction)
        h, h1 = m.fit(x, y, **kwargs), one.fit(x, y, **kwargs)
        np.testing.assert_allclose(h.history["loss"], h1.history["loss"], rtol=1e-5)
        for a, b in zip(m.get_weights(), one.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        print("SAME", reduction)
    # And the default reduction equals built-in Keras with the equivalent sample weights.
    with tf.distribute.MirroredStrategy(["CPU:0", "CPU:1"]).scope():
        m = make(WeightedModel)
        m.compile("sgd", "sparse_categorical_crossentropy")
    r = make(keras.Model)
    r.compile("sgd", "sparse_categorical_crossentropy")
    h = m.fit(x, y, **kwargs)
    hr = r.fit(x, y, batch_size=16, epochs=2, sample_weight=cw[y] * swt, shuffle=False, verbose=0)
    np.testing.assert_allclose(h.history["loss"], hr.history["loss"], rtol=1e-5)
    print("SAME keras")
    """
)


@pytest.mark.slow
@requires_exact_keras_distribution
def test_mirrored_strategy_on_two_cpus_matches_one_device():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    for case in ("SAME auto", "SAME weighted_mean", "SAME keras"):
        assert case in result.stdout
