"""Shared fixtures: tiny data and models, and the built-in Keras reference."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

N, T, F = 37, 5, 4  # 37 samples: batches of 16 leave a partial last batch


@pytest.fixture(scope="session")
def rng_data():
    rng = np.random.default_rng(0)
    return {
        "x": rng.normal(size=(N, F)).astype("float32"),
        "xt": rng.normal(size=(N, T, F)).astype("float32"),
        "y3": rng.integers(0, 3, size=(N,)),
        "yt3": rng.integers(0, 3, size=(N, T)),
        "yb": rng.integers(0, 2, size=(N, 1)).astype("float32"),
        "yml": (rng.random(size=(N, 4)) < 0.3).astype("float32"),
        "sw": rng.uniform(0.2, 2.0, size=(N,)).astype("float32"),
        "swt": rng.uniform(0.0, 2.0, size=(N, T)).astype("float32"),
    }


def assert_history_close(h1, h2, keys=None, rtol=1e-5, atol=1e-6):
    """Loss/metric histories equal to float32 precision."""
    keys = keys or sorted(h2.history)
    for key in keys:
        np.testing.assert_allclose(h1.history[key], h2.history[key], rtol=rtol, atol=atol, err_msg=key)


def assert_weights_close(m1, m2, rtol=1e-5, atol=1e-6):
    w1, w2 = m1.trainable_weights, m2.trainable_weights
    assert len(w1) == len(w2)
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def per_sample(table, labels):
    """NumPy reference: class weights looked up per label (the Keras workaround)."""
    return np.asarray(table, "float32")[np.asarray(labels).astype(int)]


def counting_model_class():
    """A WeightedModel subclass counting how often its train step is traced."""
    from weighted_models import WeightedModel

    class Counting(WeightedModel):
        traces = 0

        def train_step(self, data):
            Counting.traces += 1
            return super().train_step(data)

    return Counting


def keras_version():
    return tuple(int(p) for p in keras.__version__.split(".")[:2])


# Keras 3.8's own TensorFlow step under tf.distribute does not train like one device,
# for a plain keras.Model too (MirroredStrategy over 2 CPUs, sample-weighted: loss
# 1.569 vs 1.589 on one device); 3.15 does. WeightedModel runs Keras's own step, so its
# distribution tests need a Keras whose step is exact (checked: 3.15; 3.9-3.14 not measured).
requires_exact_keras_distribution = pytest.mark.skipif(
    keras_version() < (3, 15),
    reason=f"Keras {keras.__version__}'s own TF step under tf.distribute differs from one "
    "device (keras.Model too); measured exact on 3.15",
)


BACKENDS = ("tensorflow", "jax", "torch")


def run_on_each_backend(script, folder, suffix, timeout=900):
    """Runs `script <out>` once per installed backend, the processes side by side.

    Keras picks its backend once per process, so each backend gets its own.
    Returns dict backend -> (path of its output file, its stdout); a backend
    that is not installed (an optional extra) is left out.
    """
    import importlib.util
    import subprocess
    import sys

    running = {}
    for backend in BACKENDS:
        if importlib.util.find_spec(backend) is None:
            continue
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
        out = folder / f"{backend}{suffix}"
        running[backend] = (
            out,
            subprocess.Popen(
                [sys.executable, str(script), str(out)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            ),
        )
    results = {}
    for backend, (out, process) in running.items():
        stdout, stderr = process.communicate(timeout=timeout)
        assert process.returncode == 0, f"{backend}:\n{stdout[-2000:]}\n{stderr[-4000:]}"
        results[backend] = (out, stdout)
    return results
