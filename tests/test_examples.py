"""Every example in examples/ runs as it is, end to end.

The examples train for their full length when users run them; here every
`fit` is capped at a few epochs and the tuning examples search two trials,
which runs each code path while keeping the suite short. Their figures are
not checked here: the benchmarks and the behaviour tests do that.
"""

import pathlib
import runpy

import keras
import pytest

EXAMPLES = sorted((pathlib.Path(__file__).parents[1] / "examples").glob("*.py"))
MAX_EPOCHS = 3


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs(path, capsys, monkeypatch):
    monkeypatch.setenv("WEIGHTED_MODELS_EXAMPLE_TRIALS", "2")  # tuning examples: a small search
    fit = keras.Model.fit
    epochs_asked = []

    def capped_fit(self, *args, epochs=1, **kwargs):
        epochs_asked.append(epochs)
        return fit(self, *args, epochs=min(epochs, MAX_EPOCHS), **kwargs)

    monkeypatch.setattr(keras.Model, "fit", capped_fit)
    runpy.run_path(str(path), run_name="__main__")
    assert epochs_asked, "the example never reached keras.Model.fit"
    assert "recall" in capsys.readouterr().out
