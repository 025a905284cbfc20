"""Drop-in: every case of the promise trains exactly like `keras.Model`, on three backends.

`drop_in_run.py` runs each case on one backend (Keras picks its backend once
per process), twin against twin from the same initial weights: a
`WeightedModel` and a `keras.Model` (given the equivalent per-element sample
weights where the WeightedModel twin gets class weights). Here: both twins
trained, with the same losses and the same weights after training (to 1e-5
relative), or both failed with the same error type.
"""

import json
import pathlib

import numpy as np
import pytest
from conftest import BACKENDS, run_on_each_backend

SCRIPT = pathlib.Path(__file__).with_name("drop_in_run.py")
CASES = [
    "compute_loss_override",
    "compute_loss_override_weighted",
    "mask_zero",
    "mask_zero_weighted",
    "masking_layer",
    "masking_layer_weighted",
    "ignore_class",
    "ignore_class_weighted",
    "ignore_class_255_without_mask",
    "restructured_predictions",
    "loss_dict_of_lists",
    "loss_list_with_nested_list",
    "loss_dict_of_lists_class_weighted",
    "nested_outputs",
    "scalar_loss",
    "partial_labels",
    "unknown_loss_key",
    "crossentropy_shortcut",
    "crossentropy_shortcut_weighted",
    "torch_dataloader",
    "torch_dataloader_class_weighted",
    "float_class_keys",
]
SAME_ERROR = {"unknown_loss_key": "KeyError"}  # Keras refuses it too: so must we, alike


@pytest.fixture(scope="session")
def drop_in_results(tmp_path_factory):
    """Runs the cases once per installed backend, the processes side by side."""
    ran = run_on_each_backend(SCRIPT, tmp_path_factory.mktemp("drop_in"), ".json")
    return {backend: json.loads(out.read_text()) for backend, (out, _) in ran.items()}


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES)
def test_weighted_model_trains_like_keras_model(drop_in_results, backend, case):
    if backend not in drop_in_results:
        pytest.skip(f"{backend} is not installed")
    result = drop_in_results[backend][case]
    if "skipped" in result:
        pytest.skip(result["skipped"])
    assert "trace" not in result, result.get("trace")
    if case in SAME_ERROR:
        assert result["weighted_error"] == result["keras_error"] == SAME_ERROR[case], result
        return
    assert "weighted_error" not in result, result["messages"]
    np.testing.assert_allclose(result["loss"], result["keras_loss"], rtol=1e-5, atol=1e-6)
    assert result["weight_excess"] <= 0.0, f"weights differ beyond rtol=1e-5: {result['weight_excess']}"
