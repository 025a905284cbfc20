"""The benchmark scripts run in their quick mode and write their results."""

import importlib.util
import json
import pathlib

import pytest

BENCHMARKS = pathlib.Path(__file__).parents[1] / "benchmarks"


def load(name):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("name", ["label_counting", "step_overhead"])
def test_benchmark_quick_mode_writes_json_and_markdown(name, tmp_path):
    load(name).main(["--quick", "--out", str(tmp_path)])
    record = json.loads((tmp_path / f"{name}_quick.json").read_text())
    assert record["benchmark"] == name and record["results"]
    assert record["machine"]["cpus"] >= 1 and record["settings"]["quick"] is True
    assert (tmp_path / f"{name}_quick.md").read_text().count("|") > 8
