"""Twins: WeightedModel against keras.Model on the cases of the drop-in promise.

Each case builds the same model twice from the same NumPy initial weights,
once on `keras.Model` and once on `WeightedModel`, trains both the same way
and reports their losses, their weights after training and any error. With
weights, the reference is `keras.Model` given the equivalent per-element
sample weights (where Keras computes them correctly). Run once per backend
by test_drop_in.py (Keras picks its backend once per process):

    KERAS_BACKEND=jax python drop_in_run.py OUT.json
"""

import json
import os
import sys
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from weighted_models import WeightedModel  # noqa: E402

N, T, F = 37, 6, 4
rng = np.random.default_rng(0)
X = rng.normal(size=(N, F)).astype("float32")
Y3 = rng.integers(0, 3, size=(N,))
YB = rng.integers(0, 2, size=(N, 1)).astype("float32")
TOKENS = rng.integers(1, 9, size=(N, T))
TOKENS[:, 4:] = 0  # padding the mask must hide
TOKENS[::3, 2:] = 0
TAGS = rng.integers(0, 3, size=(N, T))
TABLE = np.array([1.0, 4.0, 0.5], "float32")
CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def init(model):
    gen = np.random.default_rng(7)
    model.set_weights([gen.normal(scale=0.4, size=w.shape).astype("float32") for w in model.get_weights()])
    return model


def weights_of(model):
    return [np.asarray(w, "float64") for w in model.get_weights()]


def fit_both(build, compile_kwargs, fit_w, fit_r=None, classes=None):
    """Fits the WeightedModel twin and the keras.Model twin; returns figures."""
    figures = {}
    for name, cls in (("weighted", classes[0] if classes else WeightedModel), ("keras", classes[1] if classes else keras.Model)):
        model = init(build(cls))
        model.compile(optimizer=keras.optimizers.SGD(0.1), **compile_kwargs)
        kwargs = fit_w if name == "weighted" else (fit_r or fit_w)
        kwargs = dict(dict(batch_size=16, epochs=2, shuffle=False, verbose=0), **kwargs)
        try:
            history = model.fit(**kwargs)
        except Exception as error:  # noqa: BLE001 - the twins must fail alike
            figures[name] = {"error": type(error).__name__, "message": str(error)[:300]}
            continue
        figures[name] = {"loss": history.history["loss"], "weights": weights_of(model)}
    return figures


def dense_model(units=3, activation="softmax"):
    def build(cls):
        inputs = keras.Input((F,))
        hidden = keras.layers.Dense(5, activation="tanh")(inputs)
        return cls(inputs, keras.layers.Dense(units, activation=activation, name="out")(hidden))

    return build


def tagger(masking):
    def build(cls):
        inputs = keras.Input((T,), dtype="int32")
        if masking == "embedding":
            h = keras.layers.Embedding(9, 4, mask_zero=True)(inputs)
        else:
            h = keras.layers.Embedding(9, 4)(inputs)
            h = keras.layers.Masking(mask_value=0.0)(h * ops.cast(ops.expand_dims(inputs > 0, -1), "float32"))
        h = keras.layers.GRU(5, return_sequences=True)(h)
        return cls(inputs, keras.layers.Dense(3, activation="softmax", name="tags")(h))

    return build


# 1. A subclass's compute_loss override is called (fit and evaluate).
def _plus_ten(base):
    class PlusTen(base):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return super().compute_loss(x, y, y_pred, sample_weight, training=training) + 10.0

    return PlusTen


@case
def compute_loss_override():
    return fit_both(
        dense_model(),
        {"loss": "sparse_categorical_crossentropy"},
        {"x": X, "y": Y3},
        classes=(_plus_ten(WeightedModel), _plus_ten(keras.Model)),
    )


@case
def compute_loss_override_weighted():
    return fit_both(
        dense_model(),
        {"loss": "sparse_categorical_crossentropy"},
        {"x": X, "y": Y3, "class_weight": TABLE.tolist()},
        {"x": X, "y": Y3, "sample_weight": TABLE[Y3]},
        classes=(_plus_ten(WeightedModel), _plus_ten(keras.Model)),
    )


# 2. Keras masks: Embedding(mask_zero=True), Masking, ignore_class.
@case
def mask_zero():
    return fit_both(tagger("embedding"), {"loss": "sparse_categorical_crossentropy"}, {"x": TOKENS, "y": TAGS})


@case
def mask_zero_weighted():
    return fit_both(
        tagger("embedding"),
        {"loss": "sparse_categorical_crossentropy"},
        {"x": TOKENS, "y": TAGS, "class_weight": TABLE.tolist()},
        {"x": TOKENS, "y": TAGS, "sample_weight": TABLE[TAGS]},
    )


@case
def masking_layer():
    return fit_both(tagger("masking"), {"loss": "sparse_categorical_crossentropy"}, {"x": TOKENS, "y": TAGS})


@case
def masking_layer_weighted():
    return fit_both(
        tagger("masking"),
        {"loss": "sparse_categorical_crossentropy"},
        {"x": TOKENS, "y": TAGS, "class_weight": TABLE.tolist()},
        {"x": TOKENS, "y": TAGS, "sample_weight": TABLE[TAGS]},
    )


IGNORED = np.where(TOKENS == 0, -1, TAGS)


@case
def ignore_class():
    loss = keras.losses.SparseCategoricalCrossentropy(ignore_class=-1)
    return fit_both(tagger("embedding"), {"loss": loss}, {"x": TOKENS, "y": IGNORED})


@case
def ignore_class_weighted():
    loss = keras.losses.SparseCategoricalCrossentropy(ignore_class=-1)
    return fit_both(
        tagger("embedding"),
        {"loss": loss},
        {"x": TOKENS, "y": IGNORED, "class_weight": TABLE.tolist()},
        {"x": TOKENS, "y": IGNORED, "sample_weight": TABLE[np.maximum(IGNORED, 0)]},
    )


@case
def ignore_class_255_without_mask():
    loss = keras.losses.SparseCategoricalCrossentropy(ignore_class=255)
    y = np.where(np.arange(N) % 5 == 0, 255, Y3)
    return fit_both(dense_model(), {"loss": loss}, {"x": X, "y": y})


# 3. compute_loss that restructures y_pred: one output, two loss terms.
def _split(base):
    class Split(base):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            parts = [y_pred[:, :2], y_pred[:, 2:]]
            return super().compute_loss(x, y, parts, sample_weight, training=training)

    return Split


Y_PARTS = [rng.normal(size=(N, 2)).astype("float32"), rng.normal(size=(N, 2)).astype("float32")]


@case
def restructured_predictions():
    return fit_both(
        dense_model(4, None),
        {"loss": ["mse", "mae"]},
        {"x": X, "y": Y_PARTS},
        classes=(_split(WeightedModel), _split(keras.Model)),
    )


# 4. Structured losses per output.
def two_heads(cls):
    inputs = keras.Input((F,))
    hidden = keras.layers.Dense(5, activation="tanh")(inputs)
    return cls(
        inputs, {"a": keras.layers.Dense(1, name="a")(hidden), "b": keras.layers.Dense(1, activation="sigmoid", name="b")(hidden)}
    )


Y_HEADS = {"a": rng.normal(size=(N, 1)).astype("float32"), "b": YB}


@case
def loss_dict_of_lists():
    return fit_both(two_heads, {"loss": {"a": ["mse", "mae"], "b": ["binary_crossentropy"]}}, {"x": X, "y": Y_HEADS})


def two_listed_heads(cls):
    inputs = keras.Input((F,))
    hidden = keras.layers.Dense(5, activation="tanh")(inputs)
    return cls(inputs, [keras.layers.Dense(1, name="a")(hidden), keras.layers.Dense(1, activation="sigmoid", name="b")(hidden)])


@case
def loss_list_with_nested_list():
    return fit_both(two_listed_heads, {"loss": ["mse", ["binary_crossentropy"]]}, {"x": X, "y": [Y_HEADS["a"], YB]})


@case
def loss_dict_of_lists_class_weighted():
    return fit_both(
        two_heads,
        {"loss": {"a": ["mse"], "b": ["binary_crossentropy"]}},
        {"x": X, "y": Y_HEADS, "class_weight": {"b": {0: 1.0, 1: 3.0}}},
        {
            "x": X,
            "y": Y_HEADS,
            "sample_weight": {"a": np.ones(N, "float32"), "b": np.where(YB[:, 0] == 1, 3.0, 1.0).astype("float32")},
        },
    )


# 5. Outputs nested more than one level deep.
def nested_model(cls):
    inputs = keras.Input((F,))
    hidden = keras.layers.Dense(5, activation="tanh")(inputs)
    o1 = keras.layers.Dense(1, name="o1")(hidden)
    o2 = keras.layers.Dense(3, activation="softmax", name="o2")(hidden)
    o3 = keras.layers.Dense(1, name="o3")(hidden)
    return cls(inputs, {"pair": (o1, o2), "single": o3})


Y_NESTED = {"pair": (rng.normal(size=(N, 1)).astype("float32"), Y3), "single": rng.normal(size=(N, 1)).astype("float32")}
NESTED_LOSS = {"pair": ("mse", "sparse_categorical_crossentropy"), "single": "mse"}


@case
def nested_outputs():
    return fit_both(nested_model, {"loss": NESTED_LOSS}, {"x": X, "y": Y_NESTED})


# 6. A loss that returns a scalar.
def scalar_mse(y_true, y_pred):
    return ops.mean(ops.square(y_true - y_pred))


@case
def scalar_loss():
    return fit_both(dense_model(1, None), {"loss": scalar_mse}, {"x": X, "y": Y_HEADS["a"]})


# 7. One label array for a three-output model whose loss names one output.
def three_heads(cls):
    inputs = keras.Input((F,))
    hidden = keras.layers.Dense(5, activation="tanh")(inputs)
    return cls(inputs, [keras.layers.Dense(1, name=f"h{i}")(hidden) for i in range(3)])


@case
def partial_labels():
    return fit_both(three_heads, {"loss": ["mse", None, None]}, {"x": X, "y": Y_HEADS["a"]})


# 8. An unknown output key in `loss`: the same error type.
@case
def unknown_loss_key():
    return fit_both(two_heads, {"loss": {"a": "mse", "nope": "mse"}}, {"x": X, "y": Y_HEADS})


# 10. The "crossentropy" shortcut.
@case
def crossentropy_shortcut():
    return fit_both(dense_model(), {"loss": "crossentropy"}, {"x": X, "y": Y3})


@case
def crossentropy_shortcut_weighted():
    return fit_both(
        dense_model(),
        {"loss": "crossentropy"},
        {"x": X, "y": Y3, "class_weight": TABLE.tolist()},
        {"x": X, "y": Y3, "sample_weight": TABLE[Y3]},
    )


# 11. A torch DataLoader (where torch is installed).
def _loader(weighted=False):
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    tensors = [torch.from_numpy(X), torch.from_numpy(Y3)]
    if weighted:
        tensors.append(torch.from_numpy(TABLE[Y3]))
    return DataLoader(TensorDataset(*tensors), batch_size=16, shuffle=False)


@case
def torch_dataloader():
    try:
        import torch  # noqa: F401
    except ImportError:
        return {"skipped": "torch is not installed"}
    return fit_both(
        dense_model(),
        {"loss": "sparse_categorical_crossentropy"},
        {"x": _loader(), "batch_size": None},
        {"x": _loader(), "batch_size": None},
    )


@case
def torch_dataloader_class_weighted():
    try:
        import torch  # noqa: F401
    except ImportError:
        return {"skipped": "torch is not installed"}
    return fit_both(
        dense_model(),
        {"loss": "sparse_categorical_crossentropy"},
        {"x": _loader(), "batch_size": None, "class_weight": TABLE.tolist()},
        {"x": _loader(True), "batch_size": None},
    )


# 12. Float class keys, as dict(zip(np.unique(y), w)) gives for float labels.
@case
def float_class_keys():
    keys = {0.0: 1.0, 1.0: 4.0, 2.0: 0.5}
    return fit_both(
        dense_model(),
        {"loss": "sparse_categorical_crossentropy"},
        {"x": X, "y": Y3.astype("float32"), "class_weight": keys},
        {"x": X, "y": Y3.astype("float32"), "class_weight": keys},
    )


def run(name):
    try:
        figures = CASES[name]()
    except Exception as error:  # noqa: BLE001 - reported to the test
        return {"error": type(error).__name__, "message": str(error)[:500], "trace": traceback.format_exc()[-2000:]}
    if "skipped" in figures:
        return figures
    w, k = figures["weighted"], figures["keras"]
    if "error" in w or "error" in k:
        return {"weighted_error": w.get("error"), "keras_error": k.get("error"), "messages": [w.get("message"), k.get("message")]}
    # The largest |a - b| beyond numpy's allclose tolerance (rtol 1e-5, atol 1e-6).
    excess = max(float(np.max(np.abs(a - b) - (1e-6 + 1e-5 * np.abs(b)))) for a, b in zip(w["weights"], k["weights"]))
    return {"loss": w["loss"], "keras_loss": k["loss"], "weight_excess": excess}


def main(out):
    results = {}
    for name in CASES:
        results[name] = run(name)
    with open(out, "w") as f:
        json.dump(results, f, indent=1)
    print("OK", keras.backend.backend(), len(results))


if __name__ == "__main__":
    main(sys.argv[1])
