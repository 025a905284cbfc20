"""Runs the core behaviours on the backend of KERAS_BACKEND and writes the figures.

Used by test_backends.py, one subprocess per backend (Keras picks its backend
once per process). Initial weights come from NumPy, so every backend starts
from the same model; each figure is also checked here against built-in Keras
`fit` on the same backend with the equivalent sample weights.
Usage: python backend_run.py OUT.npz
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from weighted_models import DeferredReweighting, InvalidLabelsError, WeightedModel  # noqa: E402

N, T = 37, 5
rng = np.random.default_rng(0)
X = rng.normal(size=(N, T, 4)).astype("float32")
TAGS = rng.integers(0, 3, size=(N, T))
FLAG = rng.integers(0, 2, size=(N, 1)).astype("float32")
MULTI = (rng.random((N, 4)) < 0.3).astype("float32")
SWT = rng.uniform(0.0, 2.0, size=(N, T)).astype("float32")
TAG_TABLE = np.array([1.0, 5.0, 0.5], "float32")
FLAG_TABLE = np.array([1.0, 3.0], "float32")
LOSSES = {"tags": "sparse_categorical_crossentropy", "flag": "binary_crossentropy", "labels": "binary_crossentropy"}


def build(cls):
    inputs = keras.Input((T, 4))
    h = keras.layers.Dense(6, activation="tanh", name="hidden")(inputs)
    flat = keras.layers.Flatten()(h)
    model = cls(
        inputs,
        {
            "tags": keras.layers.Dense(3, activation="softmax", name="tags")(h),
            "flag": keras.layers.Dense(1, activation="sigmoid", name="flag")(flat),
            "labels": keras.layers.Dense(4, activation="sigmoid", name="labels")(flat),
        },
    )
    init = np.random.default_rng(42)
    model.set_weights([init.normal(scale=0.5, size=w.shape).astype("float32") for w in model.get_weights()])
    return model


def main(out):
    y = {"tags": TAGS, "flag": FLAG, "labels": MULTI}
    model = build(WeightedModel)
    model.compile("adam", LOSSES, weighted_metrics={"flag": ["accuracy"]})
    reference = build(keras.Model)
    reference.compile("adam", LOSSES, weighted_metrics={"flag": ["accuracy"]})
    class_weight = {"tags": TAG_TABLE.tolist(), "flag": FLAG_TABLE.tolist()}
    h = model.fit(
        X,
        y,
        batch_size=16,
        epochs=3,
        class_weight=class_weight,
        sample_weight={"tags": SWT, "flag": np.ones(N, "float32"), "labels": np.ones(N, "float32")},
        shuffle=False,
        verbose=0,
    )
    hr = reference.fit(
        X,
        y,
        batch_size=16,
        epochs=3,
        shuffle=False,
        verbose=0,
        sample_weight={
            "tags": TAG_TABLE[TAGS] * SWT,
            "flag": FLAG_TABLE[FLAG[:, 0].astype(int)],
            "labels": np.ones(N, "float32"),
        },
    )
    for key in ("loss", "flag_accuracy"):
        np.testing.assert_allclose(h.history[key], hr.history[key], rtol=1e-5, err_msg=key)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

    # Multilabel per-label weights and validation weighting, against NumPy.
    ml_table = np.array([[1.0, 0.5, 2.0, 1.0], [3.0, 6.0, 1.0, 9.0]], "float32")
    logs = model.evaluate(X, y, class_weight={"labels": ml_table}, batch_size=N, return_dict=True, verbose=0)
    p = np.clip(model.predict(X, verbose=0)["labels"], 1e-7, 1 - 1e-7)
    bce = -(MULTI * np.log(p) + (1 - MULTI) * np.log(1 - p))
    w = (1 - MULTI) * ml_table[0] + MULTI * ml_table[1]
    np.testing.assert_allclose(logs["labels_loss"], np.mean(w * bce), rtol=1e-5)

    # Class weights on validation, on request: val_loss equals built-in
    # evaluate with the equivalent sample weights.
    model.compile("adam", LOSSES, validation_class_weight=True)
    validated = model.fit(
        X, y, batch_size=16, epochs=1, class_weight=class_weight, validation_data=(X, y), shuffle=False, verbose=0
    )
    reference.set_weights(model.get_weights())
    expected = reference.evaluate(
        X,
        y,
        batch_size=32,
        verbose=0,
        sample_weight={
            "tags": TAG_TABLE[TAGS],
            "flag": FLAG_TABLE[FLAG[:, 0].astype(int)],
            "labels": np.ones(N, "float32"),
        },
    )[0]
    np.testing.assert_allclose(validated.history["val_loss"][0], expected, rtol=1e-5)

    # A schedule changes the tables between epochs (the JAX step is stateless).
    scheduled = model.fit(
        X,
        y,
        batch_size=16,
        epochs=2,
        class_weight=class_weight,
        shuffle=False,
        verbose=0,
        callbacks=[DeferredReweighting(start_epoch=1)],
    )
    assert scheduled.history["class_weight_alpha"] == [0.0, 1.0]

    # Labels outside the classes are refused under the backend's compiled step.
    bad = dict(y, tags=np.where(TAGS == 2, 3, TAGS))
    try:
        model.fit(X, bad, verbose=0)
        raise AssertionError("out-of-range labels were accepted")
    except InvalidLabelsError as error:
        assert "Output 'tags'" in str(error)
    # The same from a tf.data pipeline (its check is TensorFlow ops there),
    # in fit and evaluate; the first batch is refused before any step, and
    # the model is left as it was (Keras's JAX loop alone would leave it
    # without variable values).
    import tensorflow as tf

    before = model.get_weights()
    for run in (model.fit, model.evaluate):
        try:
            run(tf.data.Dataset.from_tensor_slices((X, bad)).batch(16), verbose=0)
            raise AssertionError("out-of-range labels from tf.data were accepted")
        except InvalidLabelsError as error:
            assert str(error) == ("Output 'tags': labels must be class indices in [0, 3) (3 classes). Received labels 3.0."), (
                error
            )
        for a, b in zip(model.get_weights(), before):
            np.testing.assert_array_equal(a, b)

    # compile(batch_checks=False): a streamed batch with a negative weight trains
    # unchecked, exactly as built-in Keras on this backend; checked, it is refused.
    negative = {
        "tags": np.where(TAGS == 1, -1.0, SWT).astype("float32"),
        "flag": np.ones(N, "float32"),
        "labels": np.ones(N, "float32"),
    }
    stream = tf.data.Dataset.from_tensor_slices((X, y, negative)).batch(16)
    try:
        model.fit(stream, verbose=0)
        raise AssertionError("negative sample weights from tf.data were accepted")
    except InvalidLabelsError as error:
        assert "sample weights must be finite and >= 0" in str(error), error
    trusted, plain = build(WeightedModel), build(keras.Model)
    trusted.compile("adam", LOSSES, batch_checks=False)
    plain.compile("adam", LOSSES)
    ht = trusted.fit(stream, epochs=2, verbose=0)
    hp = plain.fit(stream, epochs=2, verbose=0)
    np.testing.assert_allclose(ht.history["loss"], hp.history["loss"], rtol=1e-5)

    # The per-output weights are computed once per step (the loss's are
    # reused by the weighted metrics): count them over an eager fit.
    import weighted_models.compile_loss as compile_loss_module

    calls = []
    original = compile_loss_module.element_weights

    def counting(*args, **kwargs):
        calls.append(kwargs.get("name"))
        return original(*args, **kwargs)

    compile_loss_module.element_weights = counting
    eager = build(WeightedModel)
    eager.compile("adam", LOSSES, weighted_metrics={"flag": ["accuracy"]}, run_eagerly=True)
    eager.fit(X, y, batch_size=16, epochs=1, class_weight={"flag": FLAG_TABLE.tolist()}, verbose=0)
    compile_loss_module.element_weights = original
    steps = -(-N // 16)
    # One per step for the one weighted output; Keras's symbolic build may add one.
    assert steps <= calls.count("flag") <= steps + 1, calls

    # Save and load.
    path = os.path.join(os.path.dirname(out), f"model_{keras.backend.backend()}.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, WeightedModel)
    np.testing.assert_allclose(loaded.evaluate(X, y, verbose=0)[0], model.evaluate(X, y, verbose=0)[0], rtol=1e-6)

    np.savez(
        out,
        loss=np.array(h.history["loss"]),
        tags_loss=np.array(h.history["tags_loss"]),
        scheduled=np.array(scheduled.history["loss"]),
        labels_loss=np.array(logs["labels_loss"]),
        **{f"w{i}": v for i, v in enumerate(model.get_weights())},
    )
    print("OK", keras.backend.backend())


if __name__ == "__main__":
    main(sys.argv[1])
