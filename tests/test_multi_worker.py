"""MultiWorkerMirroredStrategy with 2 worker processes on localhost (TF_CONFIG)
trains to the weights of one device, for both reductions, with class weights,
temporal sample weights and two outputs."""

import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import requires_exact_keras_distribution

RUN = textwrap.dedent(
    """
    import json, os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    index, ports, out, reduction = int(sys.argv[1]), sys.argv[2].split(","), sys.argv[3], sys.argv[4]
    if index >= 0:
        os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"localhost:{p}" for p in ports]},
                                              "task": {"type": "worker", "index": index}})
    import numpy as np, tensorflow as tf
    strategy = tf.distribute.MultiWorkerMirroredStrategy() if index >= 0 else None
    import keras
    from weighted_models import WeightedModel

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5, 4)).astype("float32")
    tags = rng.integers(0, 3, size=(64, 5))
    flag = rng.integers(0, 2, size=(64, 1)).astype("float32")
    swt = rng.uniform(0, 2, size=(64, 5)).astype("float32")

    def make():
        i = keras.Input((5, 4))
        h = keras.layers.Dense(6, activation="tanh")(i)
        model = WeightedModel(i, {
            "tags": keras.layers.Dense(3, activation="softmax", name="tags")(h),
            "flag": keras.layers.Dense(1, activation="sigmoid", name="flag")(keras.layers.Flatten()(h)),
        })
        init = np.random.default_rng(1)
        model.set_weights([init.normal(size=w.shape).astype("float32") for w in model.get_weights()])
        model.compile("sgd", {"tags": "sparse_categorical_crossentropy", "flag": "binary_crossentropy"},
                      reduction=reduction)
        return model

    if strategy is not None:
        with strategy.scope():
            model = make()
    else:
        model = make()
    data = tf.data.Dataset.from_tensor_slices(
        (x, {"tags": tags, "flag": flag}, {"tags": swt, "flag": np.ones(64, "float32")})).batch(16)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    history = model.fit(data.with_options(options), epochs=2, verbose=0,
                        class_weight={"tags": [1.0, 5.0, 0.5], "flag": "balanced"})
    if index <= 0:
        np.savez(out, np.array(history.history["loss"]), *model.get_weights())
    print("DONE", index)
    """
)


def _port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@requires_exact_keras_distribution
@pytest.mark.parametrize("reduction", ["auto", "weighted_mean"])
def test_two_workers_train_like_one_device(tmp_path, reduction):
    script = tmp_path / "run.py"
    script.write_text(RUN)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    ports = f"{_port()},{_port()}"
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), str(i), ports, str(tmp_path / f"w{i}.npz"), reduction],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in (0, 1)
    ]
    try:
        for worker in workers:
            out, _ = worker.communicate(timeout=300)
            assert worker.returncode == 0 and "DONE" in out, out[-3000:]
    finally:
        for worker in workers:
            worker.kill()
    one = subprocess.run(
        [sys.executable, str(script), "-1", ports, str(tmp_path / "one.npz"), reduction],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert one.returncode == 0, one.stderr[-3000:]
    distributed, single = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "one.npz")
    for key in single.files:  # the loss history, then every weight
        np.testing.assert_allclose(distributed[key], single[key], rtol=1e-5, atol=1e-6)
