"""Hyperas-style model functions under Keras Tuner, unchanged."""

import math

import keras
import keras_tuner as kt
import numpy as np
import pytest
from keras import layers

from weighted_models.hyperas import HyperasFunction, hyperas_tuner, rewrite

RNG = np.random.default_rng(0)
DATA = (RNG.normal(size=(64, 5)).astype("float32"), RNG.integers(0, 4, size=64),
        RNG.normal(size=(32, 5)).astype("float32"), RNG.integers(0, 4, size=32))


def create_model(x_train, y_train, x_test, y_test):
    """A Hyperas model function, written the Hyperas way (seed 002 style)."""
    model = keras.Sequential()
    model.add(keras.Input(x_train.shape[1:]))
    model.add(layers.Dense({{choice([4, 8, 16])}}, activation="relu"))
    model.add(layers.Dense({{quniform(4, 12, 4)}}, activation={{choice(["relu", "tanh"])}}))
    model.add(layers.Dropout({{uniform(0, 0.9)}}))
    model.add(layers.Dense(4, activation="softmax"))
    optimizer = keras.optimizers.SGD(learning_rate={{loguniform(-7, -2)}})
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size={{choice([16, 32])}}, epochs=1, verbose=0)
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    return {"loss": -acc, "status": STATUS_OK, "model": model}  # noqa: F821 - Hyperas provides it


def test_markers_become_named_hyperparameters_with_hyperopt_semantics():
    function = HyperasFunction(create_model)
    assert function.names == ["Dense", "Dense_1", "activation", "Dropout", "learning_rate", "batch_size"]
    hp = kt.HyperParameters()
    function(hp, *DATA)
    space = {p.name: p for p in hp.space}
    assert space["Dense"].values == [4, 8, 16]
    assert isinstance(space["Dense_1"], kt.engine.hyperparameters.Int)
    assert (space["Dense_1"].min_value, space["Dense_1"].max_value, space["Dense_1"].step) == (4, 12, 4)
    assert space["activation"].values == ["relu", "tanh"]
    assert (space["Dropout"].min_value, space["Dropout"].max_value) == (0, 0.9)
    # hyperopt's loguniform(a, b) samples exp(uniform(a, b)).
    lr = space["learning_rate"]
    assert lr.sampling == "log"
    assert math.isclose(lr.min_value, math.exp(-7)) and math.isclose(lr.max_value, math.exp(-2))


def test_a_search_runs_the_function_per_trial_and_keeps_the_best_model(tmp_path):
    tuner = hyperas_tuner(create_model, DATA, max_trials=3, seed=2,
                          directory=str(tmp_path), project_name="hyperas")
    tuner.search()
    trials = list(tuner.oracle.trials.values())
    assert len(trials) == 3 and all(t.status == "COMPLETED" for t in trials)
    best = tuner.oracle.get_best_trials(1)[0]
    assert best.score == min(t.score for t in trials)  # hyperopt minimises 'loss'
    model = tuner.get_best_models(1)[0]
    _, acc = model.evaluate(DATA[2], DATA[3], verbose=0)
    assert math.isclose(-acc, best.score, rel_tol=1e-6)


def test_other_markers_and_object_choices():
    source = '''
def f(x):
    a = {{randint(5)}}
    b = {{normal(1.0, 0.5)}}
    c = {{choice([None, "x", 3])}}
    return {"loss": a + b, "status": STATUS_OK, "c": c}
'''
    function = HyperasFunction(source)
    hp = kt.HyperParameters()
    result = function(hp, 0)
    space = {p.name: p for p in hp.space}
    assert (space["a"].min_value, space["a"].max_value) == (0, 4)
    assert (space["b"].min_value, space["b"].max_value) == (-0.5, 2.5)
    assert space["c"].values == [0, 1, 2] and result["c"] is None  # chosen by index


@pytest.mark.parametrize("marker,why", [
    ("qnormal(0, 1, 1)", "Keras Tuner has no such prior"),
    ("lognormal(0, 1)", "Keras Tuner has no such prior"),
    ("qloguniform(0, 1, 1)", "Keras Tuner has no such prior"),
    ("gaussian(0, 1)", "it is not a Hyperas distribution"),
])
def test_unsupported_markers_name_the_marker_and_line(marker, why):
    with pytest.raises(ValueError, match=rf"Hyperas marker \{{\{{{marker.split('(')[0]}.* on line 2 is not supported: {why}"):
        rewrite("x = 1\ny = {{" + marker + "}}\n")


def test_other_refusals(tmp_path):
    with pytest.raises(ValueError, match=r"Hyperband sets the epochs"):
        hyperas_tuner(create_model, DATA, tuner="hyperband", directory=str(tmp_path))
    with pytest.raises(ValueError, match=r"has no Hyperas markers"):
        HyperasFunction("def f():\n    return 1\n")
    bad = "def f(x):\n    return {{uniform(0, 1)}}\n"
    tuner = hyperas_tuner(bad, (0,), max_trials=1, directory=str(tmp_path), project_name="bad")
    with pytest.raises(kt.errors.FatalValueError, match=r"must return a dict with a 'loss'"):
        tuner.search()
