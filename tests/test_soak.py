"""Many small fits in one process: WeightedModel adds no memory growth of its own.

Keras and TensorFlow themselves keep some memory per model built in a process
(clear_session or not), so the reference is plain Keras doing the same fits
with the equivalent sample weights, in a process of its own.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

SOAK = textwrap.dedent(
    """
    import gc, os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import keras, numpy as np
    from weighted_models import WeightedModel

    weighted = sys.argv[1] == "weighted"
    def rss_mb():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = rng.integers(0, 3, 64)
    marks = []
    for i in range(24):
        keras.backend.clear_session()
        gc.collect()
        inputs = keras.Input((4,))
        outputs = keras.layers.Dense(3, activation="softmax")(inputs)
        model = (WeightedModel if weighted else keras.Model)(inputs, outputs)
        model.compile("sgd", "sparse_categorical_crossentropy")
        if weighted:
            model.fit(x, y, batch_size=16, epochs=1, class_weight="balanced", verbose=0)
            model.evaluate(x, y, class_weight={0: 2.0}, verbose=0)
        else:
            model.fit(x, y, batch_size=16, epochs=1, sample_weight=np.ones(64, "float32"), verbose=0)
            model.evaluate(x, y, sample_weight=np.ones(64, "float32"), verbose=0)
        if i >= 6:
            marks.append(rss_mb())
    print("SLOPE", np.polyfit(np.arange(len(marks)), marks, 1)[0])
    """
)


def _slopes(kinds, tmp_path):
    """Runs the soak script once per kind, the processes side by side."""
    script = tmp_path / "soak.py"
    script.write_text(SOAK)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    processes = [
        subprocess.Popen([sys.executable, str(script), kind], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for kind in kinds
    ]
    slopes = []
    for process in processes:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-3000:]
        slopes.append(float(out.split("SLOPE")[-1]))
    return slopes


@pytest.mark.slow
def test_many_fits_grow_no_more_than_plain_keras(tmp_path):
    weighted, plain = _slopes(["weighted", "keras"], tmp_path)
    # MB per fit after warm-up: ours within Keras's own growth plus a small margin.
    assert weighted <= 1.5 * max(plain, 0.0) + 0.25, (weighted, plain)
    assert np.isfinite(weighted) and np.isfinite(plain)
