"""Keras Tuner's own chief/worker mode on localhost: a chief and 2 workers."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

WORKER = textwrap.dedent(
    """
    import json, os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import keras, keras_tuner as kt, numpy as np
    from weighted_models import WeightedModel
    from weighted_models.tuning import WeightedHyperModel, imbalance_metrics, objective

    directory, log = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = rng.choice(3, size=64, p=[0.7, 0.2, 0.1])

    def build(hp):
        inputs = keras.Input((4,))
        h = keras.layers.Dense(hp.Choice("units", [2, 4, 8]), activation="relu")(inputs)
        model = WeightedModel(inputs, keras.layers.Dense(3, activation="softmax")(h))
        model.compile("sgd", "sparse_categorical_crossentropy", metrics=imbalance_metrics(3))
        return model

    class LoggingSearch(kt.RandomSearch):
        def run_trial(self, trial, *args, **kwargs):
            with open(log, "a") as f:
                f.write(json.dumps({"tuner": os.environ["KERASTUNER_TUNER_ID"], "trial": trial.trial_id}) + "\\n")
            return super().run_trial(trial, *args, **kwargs)

    tuner = LoggingSearch(WeightedHyperModel(build), objective=objective("balanced_accuracy"),
                          max_trials=6, seed=0, directory=directory, project_name="dist")
    tuner.search(x, y, epochs=1, validation_data=(x, y), verbose=0)
    """
)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_chief_and_two_workers_run_every_trial_once(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    log = tmp_path / "trials.jsonl"
    env = dict(os.environ, KERASTUNER_ORACLE_IP="127.0.0.1", KERASTUNER_ORACLE_PORT=str(_free_port()))
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), str(tmp_path / "search"), str(log)],
            env=dict(env, KERASTUNER_TUNER_ID=tuner_id),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for tuner_id in ("chief", "tuner0", "tuner1")
    ]
    try:
        for process in processes[1:]:
            out, _ = process.communicate(timeout=300)
            assert process.returncode == 0, out[-3000:]
        processes[0].communicate(timeout=120)
    finally:
        for process in processes:
            process.kill()
    runs = [json.loads(line) for line in log.read_text().splitlines()]
    trial_ids = [r["trial"] for r in runs]
    assert len(trial_ids) == 6 and len(set(trial_ids)) == 6  # every trial ran exactly once
    assert {r["tuner"] for r in runs} <= {"tuner0", "tuner1"}  # the chief only serves the oracle
