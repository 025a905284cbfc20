"""The same numbers on TensorFlow, JAX and PyTorch.

Each backend runs `backend_run.py` in its own process (Keras picks its
backend once per process): there it checks WeightedModel against built-in
Keras `fit` on that backend, multilabel weights against NumPy, a schedule,
the out-of-range label error and save/load. Here the loss histories and final
weights of the three backends, from the same initial weights, must agree to
float32 precision.
"""

import pathlib

import numpy as np
import pytest
from conftest import run_on_each_backend

SCRIPT = pathlib.Path(__file__).with_name("backend_run.py")


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    found = {}
    for backend, (out, stdout) in run_on_each_backend(SCRIPT, tmp_path_factory.mktemp("backends"), ".npz").items():
        assert f"OK {backend}" in stdout
        found[backend] = dict(np.load(out))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_backends_agree_with_tensorflow(figures, backend):
    if backend not in figures:
        pytest.skip(f"{backend} is not installed")
    reference, other = figures["tensorflow"], figures[backend]
    assert set(reference) == set(other)
    for key in reference:
        np.testing.assert_allclose(other[key], reference[key], rtol=1e-5, atol=1e-6, err_msg=key)
