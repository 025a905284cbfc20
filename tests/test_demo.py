"""The demo's data set and a one-epoch run of the demo itself."""

import json
import sys

import numpy as np

from weighted_models.demo import long_tailed_digits, run_demo


def test_long_tailed_digits_follow_the_ratio_and_keep_a_balanced_test_set():
    x_train, y_train, x_test, y_test = long_tailed_digits(ratio=100, n_max=100, seed=0)
    counts = np.bincount(y_train, minlength=10)
    expected = [max(1, int(100 * 100 ** (-c / 9))) for c in range(10)]
    np.testing.assert_array_equal(counts, expected)
    np.testing.assert_array_equal(np.bincount(y_test), np.full(10, 30))
    # No image is both in training and in the test set (the digits have no duplicates).
    train_rows = {tuple(r) for r in (x_train * 16).round().astype(int)}
    test_rows = {tuple(r) for r in (x_test * 16).round().astype(int)}
    assert len(train_rows) == len(x_train) and not train_rows & test_rows


def test_demo_writes_its_report(tmp_path):
    summary = run_demo(seeds=1, epochs=1, out_dir=str(tmp_path), verbose=0)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved == summary
    assert set(saved["models"]) == {"plain Keras", "WeightedModel balanced"}
    assert (tmp_path / "per_class_recall.png").stat().st_size > 10_000


def test_demo_shows_one_progress_bar_over_its_runs(tmp_path, capsys, monkeypatch):
    # 2 seeds x 2 models x 2 epochs = 8 epochs on one bar, no per-epoch logs;
    # without matplotlib the report says what the PNG needs instead of failing.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    run_demo(seeds=2, epochs=2, out_dir=str(tmp_path), verbose=1)
    out = capsys.readouterr().out
    assert "8/8" in out and "Epoch 1/2" not in out and "== seed" not in out
    assert "No PNG: the plots need matplotlib: pip install 'weighted_models[plot]'" in out
    assert not (tmp_path / "per_class_recall.png").exists()
    assert (tmp_path / "results.json").exists()
