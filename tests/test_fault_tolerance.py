"""A run killed mid-epoch and restarted with BackupAndRestore ends where an
uninterrupted run ends; checkpoints and early stopping follow weighted
validation metrics."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from conftest import F

from weighted_models import BalancedAccuracy, WeightedModel

RUN = textwrap.dedent(
    """
    import os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import keras, numpy as np
    from weighted_models import WeightedModel

    backup, out, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 4)).astype("float32")
    y = rng.choice(3, size=96, p=[0.7, 0.2, 0.1])
    inputs = keras.Input((4,))
    model = WeightedModel(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
    init = np.random.default_rng(1)
    model.set_weights([init.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    model.compile("adam", "sparse_categorical_crossentropy")

    class Kill(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epoch = 0
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
        def on_train_batch_end(self, batch, logs=None):
            if self.epoch * 6 + batch == kill_at:
                os._exit(3)  # a hard kill: no cleanup, no callbacks

    callbacks = [keras.callbacks.BackupAndRestore(backup)] if backup != "-" else []
    model.fit(x, y, batch_size=16, epochs=4, class_weight="balanced", shuffle=False, verbose=0,
              callbacks=callbacks + [Kill()])
    np.savez(out, *model.get_weights())
    """
)


def _run(script, *args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, str(script), *map(str, args)], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_killed_and_restarted_run_ends_with_the_uninterrupted_weights(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(RUN)
    straight = _run(script, "-", tmp_path / "straight.npz", -1)
    assert straight.returncode == 0, straight.stderr[-3000:]
    killed = _run(script, tmp_path / "backup", tmp_path / "never.npz", 14)  # epoch 2, batch 3
    assert killed.returncode == 3 and not (tmp_path / "never.npz").exists()
    resumed = _run(script, tmp_path / "backup", tmp_path / "resumed.npz", -1)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a, b = np.load(tmp_path / "straight.npz"), np.load(tmp_path / "resumed.npz")
    for key in a.files:
        np.testing.assert_allclose(b[key], a[key], rtol=1e-6, atol=1e-7)


def test_checkpoint_and_early_stopping_on_a_weighted_validation_metric(rng_data, tmp_path):
    x, y = rng_data["x"], rng_data["y3"]
    inputs = keras.Input((F,))
    model = WeightedModel(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
    model.compile(
        keras.optimizers.SGD(0.5),
        "sparse_categorical_crossentropy",
        weighted_metrics=[BalancedAccuracy(3)],
        validation_class_weight=True,
    )
    path = str(tmp_path / "best.keras")
    callbacks = [
        keras.callbacks.ModelCheckpoint(path, monitor="val_balanced_accuracy", mode="max", save_best_only=True),
        keras.callbacks.EarlyStopping(monitor="val_balanced_accuracy", mode="max", patience=2, restore_best_weights=True),
    ]
    h = model.fit(x, y, batch_size=8, epochs=30, class_weight="balanced", validation_data=(x, y), callbacks=callbacks, verbose=0)
    scores = h.history["val_balanced_accuracy"]
    best = int(np.argmax(scores))
    assert len(scores) <= 30 and (len(scores) == 30 or len(scores) - 1 - best == 2)
    saved = keras.models.load_model(path)
    for logs_model in (saved, model):  # the checkpoint and the restored weights are the best epoch's
        logs = logs_model.evaluate(x, y, return_dict=True, verbose=0)
        np.testing.assert_allclose(logs["balanced_accuracy"], scores[best], rtol=1e-5)
