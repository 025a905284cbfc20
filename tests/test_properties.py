"""Property-based tests of the weighting against a plain NumPy reference.

Random shapes, label modes, temporal axes, class and sample weights and
reductions, for `element_weights` + `reduce_weighted_loss` (the math of the
step), and end to end through `WeightedModel.evaluate` on random multi-output
structures.
"""

import keras
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from weighted_models import WeightedModel
from weighted_models.weighting import element_weights, reduce_weighted_loss


def np_(x):
    return keras.ops.convert_to_numpy(x)


@st.composite
def weighting_case(draw):
    mode = draw(st.sampled_from(["sparse", "categorical", "binary", "multilabel"]))
    batch = draw(st.integers(1, 6))
    time = draw(st.sampled_from([None, 1, 3]))
    classes = 2 if mode == "binary" else draw(st.integers(2, 5))
    lead = (batch,) if time is None else (batch, time)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if mode == "sparse":
        y = rng.integers(0, classes, size=lead)
        table = rng.uniform(0, 5, size=classes).astype("float32")
        expected = table[y]
        pred_rank = len(lead) + 1
    elif mode == "categorical":
        y = rng.dirichlet(np.ones(classes), size=lead).astype("float32")
        table = rng.uniform(0, 5, size=classes).astype("float32")
        expected = y @ table
        pred_rank = len(lead) + 1
    elif mode == "binary":
        y = rng.uniform(0, 1, size=lead + (1,)).astype("float32")
        table = rng.uniform(0, 5, size=2).astype("float32")
        expected = (1 - y[..., 0]) * table[0] + y[..., 0] * table[1]
        pred_rank = len(lead) + 1
    else:
        y = (rng.random(lead + (classes,)) < 0.4).astype("float32")
        table = rng.uniform(0, 5, size=(2, classes)).astype("float32")
        expected = (1 - y) * table[0] + y * table[1]
        pred_rank = len(lead) + 1
    use_table = draw(st.booleans())
    sw_rank = draw(st.sampled_from([None, 1] + ([2] if time else [])))
    sw = None if sw_rank is None else rng.uniform(0, 3, size=lead[:sw_rank]).astype("float32")
    weight_shape = expected.shape
    reference = np.ones(weight_shape, "float32") if not use_table else expected.astype("float32")
    if sw is not None:
        reference = reference * sw.reshape(sw.shape + (1,) * (len(weight_shape) - sw.ndim))
    return dict(
        mode=mode,
        y=y,
        table=table if use_table else None,
        sw=sw,
        pred_rank=pred_rank,
        weight_shape=weight_shape,
        reference=None if (sw is None and not use_table) else reference,
        values=rng.uniform(0, 2, size=weight_shape).astype("float32"),
        reduction=draw(st.sampled_from(["sum_over_batch_size", "sum", "weighted_mean"])),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(weighting_case())
def test_weights_and_reductions_match_numpy(case):
    w = element_weights(
        case["y"],
        table=case["table"],
        sample_weight=case["sw"],
        label_mode=case["mode"],
        pred_rank=case["pred_rank"],
        weight_shape=case["weight_shape"],
    )
    if case["reference"] is None:
        assert w is None
        reference = np.ones(case["weight_shape"], "float32")
    else:
        np.testing.assert_allclose(np_(w), case["reference"], rtol=1e-5, atol=1e-6)
        reference = case["reference"]
    values = case["values"]
    got = float(np_(reduce_weighted_loss(values, None if w is None else w, reduction=case["reduction"])))
    total = np.sum(values * reference)
    expected = {
        "sum_over_batch_size": total / values.size,
        "sum": total,
        "weighted_mean": total / reference.sum() if reference.sum() > 0 else 0.0,
    }[case["reduction"]]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


MODELS = {}


def two_head_model(temporal, reduction):
    key = (temporal, reduction)
    if key not in MODELS:
        shape = (3, 2) if temporal else (2,)
        inputs = keras.Input(shape)
        a = keras.layers.Dense(3, activation="softmax", name="a")(inputs)
        b = keras.layers.Dense(2, activation="sigmoid", name="b")(inputs)
        model = WeightedModel(inputs, {"a": a, "b": b})
        model.compile(
            "sgd",
            {"a": "sparse_categorical_crossentropy", "b": "binary_crossentropy"},
            loss_weights={"a": 1.0, "b": 0.5},
            reduction=reduction,
        )
        MODELS[key] = model
    return MODELS[key]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    temporal=st.booleans(),
    reduction=st.sampled_from(["auto", "weighted_mean"]),
    n=st.integers(2, 9),
    seed=st.integers(0, 2**16),
    sample_weight_rank=st.sampled_from([0, 1, 2]),
)
def test_multi_output_evaluate_matches_numpy(temporal, reduction, n, seed, sample_weight_rank):
    rng = np.random.default_rng(seed)
    model = two_head_model(temporal, reduction)
    lead = (n, 3) if temporal else (n,)
    x = rng.normal(size=lead + (2,)).astype("float32")
    ya = rng.integers(0, 3, size=lead)
    yb = (rng.random(lead + (2,)) < 0.5).astype("float32")
    table_a = rng.uniform(0.1, 4, size=3).astype("float32")
    table_b = rng.uniform(0.1, 4, size=(2, 2)).astype("float32")
    rank = min(sample_weight_rank, len(lead))
    sw = None if rank == 0 else rng.uniform(0, 2, size=lead[:rank]).astype("float32")
    logs = model.evaluate(
        x,
        {"a": ya, "b": yb},
        sample_weight=sw,
        batch_size=n,
        class_weight={"a": table_a, "b": table_b},
        return_dict=True,
        verbose=0,
    )
    pred = model.predict(x, verbose=0)
    sw_full = np.ones(lead, "float32") if sw is None else sw.reshape(sw.shape + (1,) * (len(lead) - sw.ndim)) * np.ones(lead)
    p_a = np.clip(np.take_along_axis(pred["a"], ya[..., None], -1)[..., 0], 1e-7, 1)
    w_a = table_a[ya] * sw_full
    q = np.clip(pred["b"], 1e-7, 1 - 1e-7)
    l_b = -(yb * np.log(q) + (1 - yb) * np.log(1 - q))
    w_b = ((1 - yb) * table_b[0] + yb * table_b[1]) * sw_full[..., None]

    def reduce(values, weights):
        if reduction == "weighted_mean":
            return np.sum(values * weights) / np.sum(weights)
        return np.sum(values * weights) / values.size

    loss_a, loss_b = reduce(-np.log(p_a), w_a), reduce(l_b, w_b)
    np.testing.assert_allclose(logs["a_loss"], loss_a, rtol=2e-4, atol=1e-6)
    np.testing.assert_allclose(logs["b_loss"], loss_b, rtol=2e-4, atol=1e-6)
    np.testing.assert_allclose(logs["loss"], loss_a + 0.5 * loss_b, rtol=2e-4, atol=1e-6)
