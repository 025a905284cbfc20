"""Temporal sequence tagging: per-timestep class weights and a padding mask.

Sequences of variable length are padded to 30 steps; each step is tagged
with one of 5 tags, tag 4 being rare (about 2% of the steps). Labels have
shape (N, T): class weights are looked up per timestep (built-in Keras would
take the argmax over the *time* axis), and the padding is excluded with
(N, T) sample weights of 0. The per-tag report counts real steps only.

Run: python examples/sequence_tagging.py
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from weighted_models import PerClassReport, WeightedModel, compute_class_weight  # noqa: E402

T = 30


def make_data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, T, 6)).astype("float32")
    signal = x[..., 0] + 0.5 * np.roll(x[..., 1], 1, axis=1)
    tags = np.digitize(signal, [-1.0, 0.0, 1.0, 2.2])  # tag 4: signal > 2.2, rare
    lengths = rng.integers(10, T + 1, size=n)
    mask = (np.arange(T)[None, :] < lengths[:, None]).astype("float32")
    return x * mask[..., None], tags * mask.astype(int), mask


def build():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((T, 6))
    h = keras.layers.Bidirectional(keras.layers.GRU(16, return_sequences=True))(inputs)
    return WeightedModel(inputs, keras.layers.Dense(5, activation="softmax")(h))


def main():
    x, tags, mask = make_data(1500, seed=0)
    x_val, tags_val, mask_val = make_data(500, seed=1)
    # Padded steps (sample weight 0) are not counted.
    table = compute_class_weight("balanced", tags, num_classes=5, sample_weight=mask)
    print("tag counts:", np.bincount(tags[mask > 0], minlength=5).tolist())
    print("class weights ('balanced'):", [round(float(w), 2) for w in table])
    for label, class_weight in (("no class weights", None), ("per-timestep class weights", table)):
        model = build()
        model.compile("adam", "sparse_categorical_crossentropy")
        report = PerClassReport((x_val, tags_val, mask_val), print_fn=None)  # every epoch
        history = model.fit(
            x, tags, sample_weight=mask, class_weight=class_weight, batch_size=64, epochs=12, verbose=0, callbacks=[report]
        )
        recall = [history.history[f"val_recall_{c}"][-1] for c in range(5)]
        print(
            f"{label:>27}: per-tag recall {np.round(recall, 2).tolist()}, "
            f"balanced accuracy {history.history['val_report_balanced_accuracy'][-1]:.3f}"
        )


if __name__ == "__main__":
    main()
