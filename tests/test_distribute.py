"""MirroredStrategy over two logical CPUs trains like one device (subprocess:
logical devices must be configured before TensorFlow starts)."""

import subprocess
import sys
import textwrap

import pytest

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
        return cls(i, keras.layers.Dense(3, activation="softmax")(i))
    with tf.distribute.MirroredStrategy(["CPU:0", "CPU:1"]).scope():
        m = make(WeightedModel)
        m.compile("sgd", "sparse_categorical_crossentropy")
    r = make(keras.Model)
    r.set_weights(m.get_weights())
    r.compile("sgd", "sparse_categorical_crossentropy")
    h = m.fit(x, y, batch_size=16, epochs=2, class_weight=cw.tolist(), sample_weight=swt,
              shuffle=False, verbose=0)
    hr = r.fit(x, y, batch_size=16, epochs=2, sample_weight=cw[y] * swt, shuffle=False, verbose=0)
    np.testing.assert_allclose(h.history["loss"], hr.history["loss"], rtol=1e-5)
    for a, b in zip(m.get_weights(), r.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    print("SAME")
    """
)


@pytest.mark.slow
def test_mirrored_strategy_on_two_cpus_matches_one_device():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "SAME" in result.stdout
