"""The benchmark scripts: they compare like with like, and write their records."""

import importlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from weighted_models.cli import main as command


def load(name):
    # The benchmarks ship inside the package, so an installed one can run them.
    return importlib.import_module(f"weighted_models._benchmarks.{name}")


@pytest.fixture(scope="module")
def throughput():
    return load("throughput")


def _scenario_ids():
    return [s.name for s in load("throughput").matrix_scenarios()]


@pytest.mark.slow
@pytest.mark.parametrize("name", _scenario_ids())
def test_throughput_variants_train_on_the_same_weighted_loss(throughput, name):
    # The timed variants must compute the same thing: Keras's own
    # sample-weighted loss is the reference for the hand-written loss, the
    # built-in class_weight and WeightedModel, from the same initial weights.
    scenario = {s.name: s for s in throughput.matrix_scenarios()}[name]
    x, y, weights = scenario.data(96, seed=1)
    reference = scenario.build("keras_sample_weight").evaluate(
        x, y, sample_weight=weights, batch_size=32, verbose=0, return_dict=True
    )["loss"]
    unweighted = scenario.build("keras_unweighted").evaluate(x, y, batch_size=32, verbose=0, return_dict=True)["loss"]
    assert not np.isclose(reference, unweighted, rtol=1e-3)  # the weights matter here
    for variant in ("handwritten_loss", "weighted_model"):
        model = scenario.build(variant)
        # evaluate() weighs only when asked (Keras convention), so ask.
        kwargs = {"class_weight": scenario.class_weight()} if variant == "weighted_model" else {}
        loss = model.evaluate(x, y, batch_size=32, verbose=0, return_dict=True, **kwargs)["loss"]
        np.testing.assert_allclose(loss, reference, rtol=1e-5, err_msg=variant)


@pytest.mark.slow
@pytest.mark.parametrize("name", _scenario_ids())
def test_throughput_expressibility_follows_keras(throughput, name):
    # A scenario offers built-in class_weight exactly where Keras computes the
    # sample-weighted loss with it; elsewhere Keras raises (several outputs)
    # or mis-reads (N, T) labels (argmax over time: a shape error here).
    scenario = {s.name: s for s in throughput.matrix_scenarios()}[name]
    x, y, weights = scenario.data(16, seed=2)
    reference = scenario.build("keras_sample_weight").train_on_batch(x, y, sample_weight=weights)
    model = scenario.build("keras_class_weight")
    class_weight = dict(enumerate(scenario.table.tolist()))
    if scenario.expressible("keras_class_weight"):
        loss = model.train_on_batch(x, y, class_weight=class_weight)
        np.testing.assert_allclose(loss, reference, rtol=1e-5)
    else:
        with pytest.raises(ValueError):
            model.train_on_batch(x, y, class_weight=class_weight)


@pytest.mark.slow
def test_throughput_quick_run_writes_records(throughput, tmp_path):
    throughput.main(["--quick", "--rounds", "2", "--part", "all", "--only", "heads_2,classes", "--out", str(tmp_path)])
    record = json.loads((tmp_path / "throughput_quick.json").read_text())
    assert list(record["results"]) == ["heads_2"]
    summary = record["results"]["heads_2"]["summary"]
    assert set(summary) == {
        "keras_unweighted",
        "keras_unweighted_repeat",
        "keras_sample_weight",
        "handwritten_loss",
        "weighted_model",
    }
    assert summary["keras_unweighted"]["median_ratio"] == 1.0
    assert all(s["min"] > 0 for s in summary.values())
    assert "| heads_2 | keras_class_weight | - | - | - | not expressible |" in (tmp_path / "throughput_quick.md").read_text()
    scaling = json.loads((tmp_path / "scaling_quick.json").read_text())
    assert [(r["axis"], r["value"]) for r in scaling["results"]] == [("classes", 10), ("classes", 1000)]
    assert (tmp_path / "scaling_quick.png").stat().st_size > 10_000
    assert scaling["machine"]["device"] == "CPU" and scaling["versions"]["backend"] == "tensorflow"
    assert scaling["versions"]["tensorflow"]


@pytest.mark.slow
def test_throughput_runs_on_jax_without_tensorflow(tmp_path):
    # The GPU machines have JAX and PyTorch but no TensorFlow: the script must
    # neither need it nor record it.
    pytest.importorskip("jax")
    script = (
        "import sys; sys.modules['tensorflow'] = None; "
        "from weighted_models.cli import main; "
        f"main(['bench', 'throughput', '--part', 'matrix', '--only', "
        f"'mlp_784_64_64_10', '--out', {str(tmp_path)!r}])"
    )
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((tmp_path / "throughput_quick.json").read_text())
    assert record["machine"]["backend"] == "jax" and record["machine"]["device"] == "CPU"
    assert "jax" in record["versions"] and "tensorflow" not in record["versions"]
    assert set(record["results"]["mlp_784_64_64_10"]["summary"]) == {
        "keras_unweighted",
        "keras_unweighted_repeat",
        "keras_class_weight",
        "keras_sample_weight",
        "handwritten_loss",
        "weighted_model",
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    "case, variant, samples, timesteps",
    [
        ("class_weights", "keras_class_weight", 20_000, 0),
        ("temporal", "weighted_model", 2_000, 10),
    ],
)
def test_startup_memory_child_reports_a_timed_fit(case, variant, samples, timesteps):
    startup = load("startup_memory")
    row = startup.measure(case, variant, samples, timesteps, repeats=2)
    assert len(row["seconds"]) == 2 and all(s > 0 for s in row["seconds"])
    assert row["peak_rss_growth_mb"] >= 0
    features = 4 * 4 + 4  # float32 x of 4 features + int32 label, per label
    assert row["data_mb"] == pytest.approx(samples * max(timesteps, 1) * features / 2**20)


@pytest.mark.slow
def test_label_counting_quick_run_writes_records(tmp_path, capsys):
    # Through the command: the options after the benchmark's name are its own.
    assert command(["bench", "label_counting", "--out", str(tmp_path)]) == 0
    assert "== label_counting ==" in capsys.readouterr().out
    record = json.loads((tmp_path / "label_counting_quick.json").read_text())
    assert record["benchmark"] == "label_counting" and record["results"]
    assert record["machine"]["cpus"] >= 1 and record["settings"]["quick"] is True
    assert (tmp_path / "label_counting_quick.md").read_text().count("|") > 8


def test_bench_names_its_options_and_what_it_needs(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    with pytest.raises(SystemExit):  # label counting draws nothing: it runs without matplotlib
        command(["bench", "label_counting", "--help"])
    assert "usage: weighted-models bench label_counting" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        command(["bench", "--rounds=3"])  # a benchmark's option without its name
    assert "unrecognized arguments: --rounds=3" in capsys.readouterr().err
    with pytest.raises(SystemExit, match=r"bench quality: the plots need matplotlib: pip install 'weighted_models\[plot\]'"):
        command(["bench", "quality"])


def test_summarize_pairs_rounds():
    from weighted_models._benchmarks.records import summarize

    times = {"base": [1.0, 2.0, 1.0], "other": [1.1, 2.0, 1.3]}
    summary = summarize(times, "base")
    assert summary["other"]["median_ratio"] == pytest.approx(np.median([1.1, 1.0, 1.3]))
    assert summary["other"]["ratio_of_medians"] == pytest.approx(1.3 / 1.0)
    assert summary["other"]["min"] == 1.1 and summary["other"]["max"] == 2.0


def test_quality_benchmark_data_for_each_method_and_the_balanced_reference(monkeypatch):
    from weighted_models import ClassBalancedSampler
    from weighted_models._benchmarks import quality

    (base, counts, x_test, y_test) = quality.training_data("balanced", ratio=100, seed=3)
    assert counts.tolist() == np.bincount(base["y"], minlength=10).tolist()
    assert counts[0] / counts[9] >= 100 and np.bincount(y_test).tolist() == [30] * 10
    # The upper reference: as many images, spread evenly, scored on the same test set.
    subset, _, x_sub_test, _ = quality.training_data("balanced_subset", ratio=100, seed=3)
    assert np.bincount(subset["y"]).tolist() == [len(base["y"]) // 10] * 10
    np.testing.assert_array_equal(x_sub_test, x_test)
    assert not set(map(bytes, subset["x"])) & set(map(bytes, x_test))  # no test image trained on
    sampler = quality.training_data("sampling_q0.5", ratio=100, seed=3)[0]["x"]
    assert isinstance(sampler, ClassBalancedSampler) and sampler.power == 0.5
    # Without the optional extra, the benchmark leaves imbalanced-learn's samplers out.
    monkeypatch.setitem(sys.modules, "imblearn", None)
    assert quality._imblearn_missing()


def test_quality_benchmark_peers_from_imbalanced_learn():
    # imbalanced-learn is the benchmark's optional extra: in `[dev]`, so CI runs this;
    # `make test-oldest` installs only what the library needs.
    pytest.importorskip("imblearn")
    from weighted_models._benchmarks import quality

    counts = quality.training_data("balanced", ratio=100, seed=3)[1]
    over = quality.training_data("imblearn_oversampling", ratio=100, seed=3)[0]
    assert np.bincount(over["y"]).tolist() == [counts.max()] * 10
    batches = quality.training_data("imblearn_balanced_batches", ratio=100, seed=3)[0]["x"]
    assert np.bincount(batches[0][1], minlength=10).tolist() == [1] * 10  # under-sampled to the rarest class
