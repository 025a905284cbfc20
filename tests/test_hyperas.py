"""Hyperas-style model functions under Keras Tuner, with Hyperas's semantics."""

import math
import warnings

import keras
import keras_tuner as kt
import numpy as np
import pytest
from keras import layers

from weighted_models.hyperas import HyperasFunction, HyperasMigrationWarning, hyperas_tuner, rewrite

RNG = np.random.default_rng(0)
DATA = (
    RNG.normal(size=(64, 5)).astype("float32"),
    RNG.integers(0, 4, size=64),
    RNG.normal(size=(32, 5)).astype("float32"),
    RNG.integers(0, 4, size=32),
)


def create_model(x_train, y_train, x_test, y_test):
    """A Hyperas model function, written the Hyperas way."""
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


def test_markers_become_hyperparameters_named_after_what_they_tune():
    function = HyperasFunction(create_model)
    assert function.names == [
        "Dense.units",
        "Dense.units_1",
        "Dense.activation",
        "Dropout.rate",
        "SGD.learning_rate",
        "fit.batch_size",
    ]
    hp = kt.HyperParameters()
    function(hp, *DATA)
    space = {p.name: p for p in hp.space}
    assert space["Dense.units"].values == [4, 8, 16]
    assert isinstance(space["Dense.units_1"], kt.engine.hyperparameters.Int)
    assert (space["Dense.units_1"].min_value, space["Dense.units_1"].max_value, space["Dense.units_1"].step) == (4, 12, 4)
    assert space["Dense.activation"].values == ["relu", "tanh"]
    assert (space["Dropout.rate"].min_value, space["Dropout.rate"].max_value) == (0, 0.9)
    # hyperopt's loguniform(a, b) samples exp(uniform(a, b)).
    lr = space["SGD.learning_rate"]
    assert lr.sampling == "log"
    assert math.isclose(lr.min_value, math.exp(-7)) and math.isclose(lr.max_value, math.exp(-2))


def test_names_of_positional_arguments_objects_and_wrapped_markers():
    source = """
def f(x):
    model = keras.Sequential()
    model.add(layers.Conv1D({{choice([8, 16])}}, {{choice([3, 5])}}))
    model.add({{choice([layers.Dropout(0.5), layers.Activation("linear")])}})
    units = int({{quniform(4, 12, 4)}})
    config = {"lr": {{uniform(0, 1)}}}
    return {"loss": 0.0}
"""
    _, markers = rewrite(source, {"keras": keras, "layers": layers})
    assert [m.name for m in markers] == ["Conv1D.filters", "Conv1D.kernel_size", "add.layer", "units", "lr"]


def test_markers_are_found_in_code_only():
    source = """
def f(x):
    # model.add(Dense({{lognormal(0, 1)}}))  a commented-out marker
    note = "{{choice([1, 2])}} in a string"
    optimizer = {{choice([{"name": "adam", "config": {"lr": 0.1}}, {"name": "sgd"}])}}
    size = {{uniformint(1, 5)}}
    return {"loss": float(size), "status": STATUS_OK, "optimizer": optimizer, "note": note}
"""
    function = HyperasFunction(source)
    assert function.names == ["optimizer", "size"]  # no `value_1` shift, no refusal
    hp = kt.HyperParameters()
    result = function(hp, 0)
    assert result["note"] == "{{choice([1, 2])}} in a string"
    assert result["optimizer"] == {"name": "adam", "config": {"lr": 0.1}}  # nested dict: index 0
    size = {p.name: p for p in hp.space}["size"]
    assert isinstance(size, kt.engine.hyperparameters.Int) and (size.min_value, size.max_value) == (1, 5)
    with pytest.raises(
        ValueError,
        match=r"Hyperas marker \{\{gaussian\(0, 1\)\}\} on line 2 is not supported: "
        r"it is not a Hyperas distribution",
    ):
        rewrite("x = 1\ny = {{gaussian(0, 1)}}\n")
    with pytest.raises(ValueError, match=r"not valid Python: .*line 1"):
        rewrite("x = {{choice([1, 2)}}")


# name, marker, (Keras Tuner class, min, max, step, sampling), values the function may receive
DISTRIBUTIONS = [
    ("randint", "randint(4)", ("Int", 0, 3, 1, "linear"), lambda v: v in range(4)),
    ("randint_range", "randint(2, 6)", ("Int", 2, 5, 1, "linear"), lambda v: v in range(2, 6)),
    ("uniformint", "uniformint(1, 5)", ("Int", 1, 5, 1, "linear"), lambda v: v in range(1, 6)),
    ("quniform", "quniform(0.0, 1.0, 0.25)", ("Float", 0.0, 1.0, 0.25, "linear"), lambda v: (v / 0.25).is_integer()),
    ("normal", "normal(1.0, 0.5)", ("Float", -0.5, 2.5, None, "linear"), lambda v: -0.5 <= v <= 2.5),
    ("qnormal", "qnormal(0, 1, 1)", ("Int", -3, 3, 1, "linear"), lambda v: v in range(-3, 4)),
    (
        "lognormal",
        "lognormal(0, 1)",
        ("Float", math.exp(-3), math.exp(3), None, "log"),
        lambda v: math.exp(-3) <= v <= math.exp(3),
    ),
    (
        "qlognormal",
        "qlognormal(0, 1, 2)",
        ("Float", math.exp(-3), math.exp(3), None, "log"),
        lambda v: isinstance(v, int) and v % 2 == 0,
    ),
    (
        "qloguniform",
        "qloguniform(0, 3, 5)",
        ("Float", 1.0, math.exp(3), None, "log"),
        lambda v: isinstance(v, int) and v % 5 == 0,
    ),
]


@pytest.mark.parametrize("name,marker,expected,received", DISTRIBUTIONS, ids=[d[0] for d in DISTRIBUTIONS])
def test_every_hyperas_distribution(name, marker, expected, received):
    function = HyperasFunction(f"def f():\n    v = {{{{{marker}}}}}\n    return {{'loss': 0.0, 'v': v}}\n")
    hp = kt.HyperParameters()
    function(hp)
    (p,) = hp.space
    kind, low, high, step, sampling = expected
    assert type(p).__name__ == kind and p.name == "v"
    assert math.isclose(p.min_value, low) and math.isclose(p.max_value, high)
    assert p.step == step and p.sampling == sampling
    for seed in range(20):
        hp.values["v"] = p.random_sample(seed)  # a value the search could record ...
        assert received(function(hp)["v"]), (hp.values["v"], function(hp)["v"])  # ... as the function receives it


def test_pchoice_chooses_uniformly_with_a_note():
    with pytest.warns(HyperasMigrationWarning, match=r"no weighted choice; 'v' chooses among the options uniformly"):
        function = HyperasFunction("def f():\n    v = {{pchoice([(0.9, 'a'), (0.1, 'b')])}}\n    return {'loss': 0.0}\n")
    hp = kt.HyperParameters()
    function(hp)
    assert hp.space[0].values == ["a", "b"]


CALLS = []


def data():
    """Hyperas's data function: random pairs (a fresh draw per call) and a local the model reads."""
    CALLS.append(1)
    nb_classes = 3
    x = np.random.normal(size=(8, 2))
    y = np.random.randint(0, nb_classes, size=8)
    return x, y


def reads_data_locals(x, y):
    fingerprint = float(x.sum())
    width = {{choice([1, 2])}}
    return {
        "loss": fingerprint * width,
        "status": STATUS_OK,
        "fingerprint": fingerprint,  # noqa: F821
        "classes": nb_classes,
    }  # noqa: F821 - a local of data(), as Hyperas pastes data() in


def test_data_runs_once_per_search_and_its_locals_are_visible(tmp_path, monkeypatch):
    CALLS.clear()
    seen = []
    tuner = hyperas_tuner(reads_data_locals, data, max_trials=4, seed=0, directory=str(tmp_path), project_name="d")
    original = tuner.hyperas_function.function

    def spy(*args):
        result = original(*args)
        seen.append((result["fingerprint"], result["classes"]))
        return result

    monkeypatch.setattr(tuner.hyperas_function, "function", spy)
    tuner.search()
    assert len(CALLS) == 1  # not once per trial
    assert len(seen) >= 2 and len(set(seen)) == 1 and seen[0][1] == 3  # same data in every trial


def test_data_args_are_passed_to_data(tmp_path):
    def scaled(k):
        return (np.full(3, float(k)),)

    source = "def f(x):\n    return {'loss': float(x.sum()) * {{uniform(1, 2)}}, 'status': 'ok'}\n"
    tuner = hyperas_tuner(source, scaled, data_args=(5,), max_trials=1, directory=str(tmp_path), project_name="a")
    tuner.search()
    best = tuner.oracle.get_best_trials(1)[0]
    assert 15.0 <= best.score <= 30.0


def contrastive_loss(y_true, y_pred):
    """A custom loss defined beside the model function (Hyperas's intermediate-functions example)."""
    return keras.ops.mean(keras.ops.square(keras.ops.cast(y_true, "float32") - y_pred[:, 0]))


def euclidean(vectors):
    a, b = vectors
    return keras.ops.sqrt(keras.ops.sum(keras.ops.square(a - b), axis=1, keepdims=True) + 1e-7)


def siamese(x_a, x_b, y):
    a, b = keras.Input((5,)), keras.Input((5,))
    shared = layers.Dense({{choice([2, 3])}})
    distance = layers.Lambda(euclidean, output_shape=(1,))([shared(a), shared(b)])
    model = keras.Model([a, b], distance)
    model.compile("sgd", loss=contrastive_loss)
    model.fit([x_a, x_b], y, epochs=1, verbose=0)
    return {"loss": model.evaluate([x_a, x_b], y, verbose=0), "status": STATUS_OK, "model": model}  # noqa: F821


SIAMESE_DATA = (DATA[0], DATA[0][::-1].copy(), (DATA[1] > 1).astype("float32"))


def test_best_models_reload_with_functions_defined_beside_the_model_function(tmp_path):
    tuner = hyperas_tuner(siamese, SIAMESE_DATA, max_trials=2, seed=0, directory=str(tmp_path), project_name="s")
    tuner.search()
    model = tuner.get_best_models(1)[0]
    loss = model.evaluate(list(SIAMESE_DATA[:2]), SIAMESE_DATA[2], verbose=0)
    assert math.isclose(loss, tuner.oracle.get_best_trials(1)[0].score, rel_tol=1e-5)


def _imported_loss():
    def scaled_abs(y_true, y_pred):
        return keras.ops.mean(keras.ops.abs(keras.ops.cast(y_true, "float32") - y_pred[:, 0]))

    scaled_abs.__module__ = "some_library.losses"  # as if imported from a library
    return scaled_abs


LIBRARY_LOSS = _imported_loss()


def uses_a_library_loss(x, y):
    model = keras.Sequential([keras.Input((5,)), layers.Dense({{choice([1, 2])}}), layers.Dense(1)])
    model.compile("sgd", loss=LIBRARY_LOSS)
    return {"loss": model.evaluate(x, y, verbose=0), "status": STATUS_OK, "model": model}  # noqa: F821


def test_custom_objects_for_what_is_not_beside_the_model_function(tmp_path):
    args = (DATA[0], DATA[1].astype("float32"))
    tuner = hyperas_tuner(uses_a_library_loss, args, max_trials=1, directory=str(tmp_path), project_name="no")
    tuner.search()
    with pytest.raises(TypeError, match=r"could not be loaded: .*scaled_abs.*custom_objects=\{name: object\}"):
        tuner.get_best_models(1)
    tuner = hyperas_tuner(
        uses_a_library_loss,
        args,
        custom_objects={"scaled_abs": LIBRARY_LOSS},
        max_trials=1,
        directory=str(tmp_path),
        project_name="yes",
    )
    tuner.search()
    model = tuner.get_best_models(1)[0]
    assert math.isclose(model.evaluate(*args, verbose=0), tuner.oracle.get_best_trials(1)[0].score, rel_tol=1e-5)


def test_functions_are_visible_to_the_model_function_and_known_when_loading(tmp_path):
    # Source without a module (as in a notebook): Hyperas's `functions=[...]` supplies the names.
    source = (
        "def f(x, y):\n"
        "    model = build(x.shape[1], {{choice([1, 2])}})\n"
        "    model.compile('sgd', loss=LIBRARY_LOSS)\n"
        "    return {'loss': model.evaluate(x, y, verbose=0), 'status': 'ok', 'model': model}\n"
    )

    def build(width, units):
        return keras.Sequential([keras.Input((width,)), layers.Dense(units), layers.Dense(1)])

    args = (DATA[0], DATA[1].astype("float32"))
    tuner = hyperas_tuner(
        source,
        args,
        functions=[build],
        custom_objects={"scaled_abs": LIBRARY_LOSS},
        max_trials=1,
        directory=str(tmp_path),
        project_name="functions",
    )
    tuner.hyperas_function.namespace["LIBRARY_LOSS"] = LIBRARY_LOSS
    tuner.search()
    assert isinstance(tuner.get_best_models(1)[0], keras.Sequential)


def test_when_every_trial_failed_the_error_says_so(tmp_path):
    source = "def f(x):\n    v = {{uniform(0, 1)}}\n    raise RuntimeError('out of memory in trial')\n    return {'loss': v}\n"
    tuner = hyperas_tuner(source, (0,), max_trials=3, directory=str(tmp_path), project_name="fail")
    with pytest.raises(RuntimeError, match=r"consecutive failures"):  # Keras Tuner's own stop
        tuner.search()
    with pytest.raises(ValueError, match=r"No trial completed \(3 failed\).*out of memory in trial"):
        tuner.get_best_models(1)


def fake_algorithm(module):
    def suggest(*args):
        raise AssertionError("not called")

    suggest.__module__ = module
    return suggest


def test_hyperas_keywords_are_mapped_with_a_note(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tuner = hyperas_tuner(
            model=create_model,
            data=DATA,
            algo=fake_algorithm("hyperopt.tpe"),
            max_evals=3,
            trials=[],
            rseed=7,
            notebook_name="nb",
            verbose=False,
            keep_temp=True,
            directory=str(tmp_path),
            project_name="kw",
        )
    notes = [str(w.message) for w in caught if issubclass(w.category, HyperasMigrationWarning)]
    assert len(notes) == 7 and all("\n" not in n for n in notes)
    assert "Hyperas's max_evals=3 is Keras Tuner's max_trials=3." in notes
    assert "Hyperas's rseed=7 is Keras Tuner's seed=7." in notes
    assert any("TPE is not in Keras Tuner" in n for n in notes)
    assert isinstance(tuner.oracle, kt.oracles.BayesianOptimizationOracle)
    assert tuner.oracle.max_trials == 3 and tuner.oracle.seed == 7
    with pytest.warns(HyperasMigrationWarning, match=r"algo=rand.suggest is tuner='random'"):
        tuner = hyperas_tuner(
            create_model, DATA, algo=fake_algorithm("hyperopt.rand"), directory=str(tmp_path), project_name="rand"
        )
    assert isinstance(tuner.oracle, kt.oracles.RandomSearchOracle)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"algo": fake_algorithm("hyperopt.anneal")}, r"no Keras Tuner counterpart. Use tuner='random'"),
        ({"trials": [{"result": 1}]}, r"cannot be resumed by Keras Tuner.*run the same search again"),
        ({"return_space": True}, r"tuner.oracle.get_space\(\)"),
        ({"max_evals": 3, "max_trials": 4}, r"either Hyperas's `max_evals` or `max_trials`"),
        ({"tuner": "hyperband"}, r"Hyperband sets the epochs"),
    ],
)
def test_hyperas_keywords_without_a_counterpart_are_refused(kwargs, message, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HyperasMigrationWarning)
        with pytest.raises(ValueError, match=message):
            hyperas_tuner(create_model, DATA, directory=str(tmp_path), **kwargs)


def chooses_objects(x):
    activation = {{choice([None, "x", 3])}}
    return {"loss": {"x": 1.0, 3: 2.0}.get(activation, 0.0), "status": STATUS_OK}  # noqa: F821


def test_eval_space_maps_recorded_indexes_back_to_the_choices(tmp_path):
    tuner = hyperas_tuner(
        chooses_objects, (0,), max_trials=6, seed=0, eval_space=True, directory=str(tmp_path), project_name="eval"
    )
    tuner.search()
    assert tuner.best_run(eval_space=False) == {"activation": 0}  # loss 0.0: option None, by index
    assert tuner.best_run() == {"activation": None}


def test_other_refusals(tmp_path):
    with pytest.raises(ValueError, match=r"has no Hyperas markers"):
        HyperasFunction("def f():\n    return 1\n")
    bad = "def f(x):\n    return {{uniform(0, 1)}}\n"
    tuner = hyperas_tuner(bad, (0,), max_trials=1, directory=str(tmp_path), project_name="bad")
    with pytest.raises(kt.errors.FatalValueError, match=r"must return a dict with a 'loss'"):
        tuner.search()


def test_a_search_runs_the_function_per_trial_and_keeps_the_best_model(tmp_path):
    tuner = hyperas_tuner(create_model, DATA, max_trials=3, seed=2, directory=str(tmp_path), project_name="hyperas")
    tuner.search()
    trials = list(tuner.oracle.trials.values())
    assert len(trials) == 3 and all(t.status == "COMPLETED" for t in trials)
    best = tuner.oracle.get_best_trials(1)[0]
    assert best.score == min(t.score for t in trials)  # hyperopt minimises 'loss'
    model = tuner.get_best_models(1)[0]
    _, acc = model.evaluate(DATA[2], DATA[3], verbose=0)
    assert math.isclose(-acc, best.score, rel_tol=1e-6)
