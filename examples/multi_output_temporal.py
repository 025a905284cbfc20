"""Multi-output model with a temporal tagging head and a sequence-level head.

`tags` labels every timestep with one of 4 classes (class 3 is rare);
`alarm` flags the whole sequence (rare positives). Class weights are given per
output, by name; `alarm` uses the balanced strategy computed from the labels;
padded timesteps get sample weight 0 and are excluded from everything.

Run: python examples/multi_output_temporal.py
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from weighted_models import WeightedModel  # noqa: E402


def make_data(n=1024, t=20, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, t, 8)).astype("float32")
    tags = np.digitize(x[..., 0] + 0.3 * x[..., 1], [-0.5, 0.8, 2.0])  # class 3 ~3%
    alarm = (tags == 3).sum(axis=1, keepdims=True) >= 2
    lengths = rng.integers(t // 2, t + 1, size=n)
    mask = (np.arange(t)[None, :] < lengths[:, None]).astype("float32")
    return x, {"tags": tags, "alarm": alarm.astype("float32")}, {"tags": mask, "alarm": np.ones(n, "float32")}


def main():
    x, y, sample_weight = make_data()
    inputs = keras.Input((20, 8))
    h = keras.layers.GRU(16, return_sequences=True)(inputs)
    tags = keras.layers.Dense(4, activation="softmax", name="tags")(h)
    alarm = keras.layers.Dense(1, activation="sigmoid", name="alarm")(keras.layers.GlobalMaxPooling1D()(h))
    model = WeightedModel(inputs, {"tags": tags, "alarm": alarm})
    model.compile(
        "adam",
        loss={"tags": "sparse_categorical_crossentropy", "alarm": "binary_crossentropy"},
        weighted_metrics={"tags": ["accuracy"], "alarm": ["accuracy"]},
        reduction="weighted_mean",  # sum(w * l) / sum(w): padding does not dilute the loss
    )
    model.fit(
        x,
        y,
        sample_weight=sample_weight,
        batch_size=64,
        epochs=8,
        verbose=2,
        class_weight={"tags": {0: 1.0, 1: 1.0, 2: 2.0, 3: 10.0}, "alarm": "balanced"},
    )
    pred = model.predict(x, verbose=0)
    valid = sample_weight["tags"] > 0
    found = pred["tags"].argmax(-1)[valid & (y["tags"] == 3)] == 3
    print(f"recall of the rare tag: {found.mean():.2f}")


if __name__ == "__main__":
    main()
