"""Every example in examples/ runs as it is."""

import pathlib
import runpy

import pytest

EXAMPLES = sorted((pathlib.Path(__file__).parents[1] / "examples").glob("*.py"))


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs(path, capsys, monkeypatch):
    monkeypatch.setenv("WEIGHTED_MODELS_EXAMPLE_TRIALS", "2")  # tuning examples: a small search
    runpy.run_path(str(path), run_name="__main__")
    assert "recall" in capsys.readouterr().out
