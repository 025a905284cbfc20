"""Keras Tuner integration with real tuners on tiny models and budgets."""

import warnings

import keras
import keras_tuner as kt
import numpy as np
import pytest
from conftest import assert_history_close, per_sample

from weighted_models import WeightedModel, tuning
from weighted_models.tuning import WeightedHyperModel, imbalance_metrics, load_best_model, objective

RNG = np.random.default_rng(0)
X = RNG.normal(size=(120, 6)).astype("float32")
Y = RNG.choice(3, size=120, p=[0.75, 0.18, 0.07])


def build_model(hp):
    inputs = keras.Input((6,))
    h = keras.layers.Dense(hp.Choice("units", [4, 8]), activation="relu")(inputs)
    model = WeightedModel(inputs, keras.layers.Dense(3, activation="softmax")(h))
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=imbalance_metrics(3))
    return model


def numpy_table(values, y):
    counts = np.bincount(y, minlength=3).astype(float)
    strategy = values["class_weight"]
    if strategy == "none":
        return np.ones(3)
    if strategy == "balanced":
        raw = 1 / counts
    elif strategy == "inverse_power":
        raw = counts ** -values["power"]
    else:
        raw = (1 - values["beta"]) / (1 - values["beta"] ** counts)
    return raw * counts.sum() / np.sum(raw * counts)


TUNERS = {
    "random_search": lambda hm, **kw: kt.RandomSearch(hm, max_trials=4, seed=1, **kw),
    "bayesian": lambda hm, **kw: kt.BayesianOptimization(hm, max_trials=3, seed=1, **kw),
    "hyperband": lambda hm, **kw: kt.Hyperband(hm, max_epochs=2, hyperband_iterations=1, seed=1, **kw),
}


@pytest.mark.parametrize("tuner_name", list(TUNERS))
def test_every_tuner_searches_the_weighting_and_the_best_model_retrains_with_it(tuner_name, tmp_path):
    tuner = TUNERS[tuner_name](
        WeightedHyperModel(build_model),
        objective=objective("balanced_accuracy"),
        directory=str(tmp_path),
        project_name=tuner_name,
    )
    tuner.search(X, Y, epochs=2, validation_data=(X, Y), verbose=0)
    trials = list(tuner.oracle.trials.values())
    assert len(trials) >= 2 and all(t.status == "COMPLETED" for t in trials)
    best_hp = tuner.get_best_hyperparameters()[0]
    scores = [t.score for t in trials if t.score is not None]
    assert tuner.oracle.get_best_trials(1)[0].score == max(scores)  # direction "max"
    # The best model reloads as a WeightedModel carrying its tuned weighting ...
    model = load_best_model(tuner, path=str(tmp_path / "best.keras"))
    assert isinstance(model, WeightedModel)
    # ... and retrains with it: same as built-in Keras with the equivalent sample weights.
    reference = keras.Model(model.inputs, model.outputs)
    reference = keras.models.clone_model(reference)
    reference.set_weights(model.get_weights())
    reference.compile("sgd", "sparse_categorical_crossentropy")
    model.compile("sgd", "sparse_categorical_crossentropy", class_weight=model.default_class_weight)
    h = model.fit(X, Y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    table = numpy_table(best_hp.values, Y)
    hr = reference.fit(X, Y, batch_size=32, epochs=2, shuffle=False, verbose=0, sample_weight=per_sample(table, Y))
    assert_history_close(h, hr, rtol=1e-4)


def test_the_best_model_reloads_with_its_optimizer_state_and_no_warning(tmp_path):
    def build_adam(hp):
        model = build_model(hp)
        model.compile("adam", "sparse_categorical_crossentropy", metrics=imbalance_metrics(3))
        return model

    tuner = kt.RandomSearch(
        WeightedHyperModel(build_adam),
        objective=objective("balanced_accuracy"),
        max_trials=1,
        directory=str(tmp_path),
        project_name="adam",
    )
    tuner.search(X, Y, epochs=1, batch_size=40, validation_data=(X, Y), verbose=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = load_best_model(tuner, path=str(tmp_path / "best.keras"))
    assert [str(w.message) for w in caught if "Skipping variable loading" in str(w.message)] == []
    # The checkpoint's optimizer state came back: 120 samples / 40 = 3 steps.
    assert int(model.optimizer.iterations.numpy()) == 3
    assert len(model.optimizer.variables) == 2 + 2 * len(model.trainable_variables)


def test_deferred_reweighting_is_a_hyperparameter():
    hypermodel = WeightedHyperModel(build_model, strategies=("balanced",), deferred_epochs=(0, 1))
    hp = kt.HyperParameters()
    model = hypermodel.build(hp)
    hp.values["deferred_reweighting_epoch"] = 1
    hp.Choice("deferred_reweighting_epoch", [0, 1], default=1)
    history = hypermodel.fit(hp, model, X, Y, epochs=2, verbose=0)
    assert history.history["class_weight_alpha"] == [0.0, 1.0]


def test_per_output_weighting_and_objectives():
    assert objective("macro_f1").direction == "max"
    assert objective("pr_auc", output="tags").name == "val_tags_pr_auc"
    assert objective("loss", validation=False).direction == "min"
    # Any metric Keras logs, with the direction Keras Tuner infers for it.
    assert (objective("accuracy").name, objective("accuracy").direction) == ("val_accuracy", "max")
    assert objective("mean_squared_error", validation=False).direction == "min"
    with pytest.raises(ValueError, match=r"Cannot infer whether objective 'my_score'.*direction='min'"):
        objective("my_score")
    assert objective("my_score", direction="max").direction == "max"
    hypermodel = WeightedHyperModel(build_model, outputs=["a", "b"], strategies=("balanced", "effective_number"))
    hp = kt.HyperParameters()
    weights = hypermodel.class_weight(hp)
    assert set(weights) == {"a", "b"} and {"a/class_weight", "b/class_weight"} <= set(hp.values)


def test_configuration_errors_stop_the_search(tmp_path):
    def plain_keras(hp):
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
        model.compile("sgd", "mse")
        return model

    with pytest.raises(kt.errors.FatalTypeError, match=r"must return a WeightedModel. Received: Sequential"):
        tuner = kt.RandomSearch(
            WeightedHyperModel(plain_keras), objective="val_loss", max_trials=3, directory=str(tmp_path), project_name="fatal"
        )
        tuner.search(X, Y, epochs=1, validation_data=(X, Y), verbose=0)
    with pytest.raises(ValueError, match=r"Expected `strategies` among"):
        WeightedHyperModel(build_model, strategies=("focal",))
    with pytest.raises(ValueError, match=r"Expected every beta in \[0, 1\)"):
        WeightedHyperModel(build_model, betas=(1.5,))


def test_an_interrupted_search_resumes_without_redoing_trials(tmp_path):
    built = []

    def counting_build(hp):
        built.append(hp.values.get("units"))
        return build_model(hp)

    def make(max_trials, overwrite):
        return kt.RandomSearch(
            WeightedHyperModel(counting_build),
            objective=objective("balanced_accuracy"),
            max_trials=max_trials,
            seed=3,
            directory=str(tmp_path),
            project_name="resume",
            overwrite=overwrite,
        )

    make(2, True).search(X, Y, epochs=1, validation_data=(X, Y), verbose=0)
    first = len(built)
    tuner = make(4, False)
    tuner.search(X, Y, epochs=1, validation_data=(X, Y), verbose=0)
    completed = [t for t in tuner.oracle.trials.values() if t.status == "COMPLETED"]
    assert len(completed) == 4
    # The reloaded search built only its two new trials.
    assert len(built) - first == 2


class BatchCounter(keras.callbacks.Callback):
    """Counts training batches across the copies Keras Tuner makes of it per trial."""

    def __init__(self, seen=None):
        super().__init__()
        self.seen = [] if seen is None else seen

    def __deepcopy__(self, memo):
        return BatchCounter(self.seen)

    @property
    def batches(self):
        return len(self.seen)

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(batch)


def _tuner(tmp_path, build=build_model, goal=None, name="t", **kwargs):
    return kt.RandomSearch(
        WeightedHyperModel(build, **kwargs),
        objective=goal or objective("balanced_accuracy"),
        max_trials=3,
        seed=1,
        directory=str(tmp_path),
        project_name=name,
    )


def test_class_weight_passed_to_search_or_compiled_in_build_model_is_refused(tmp_path):
    tuner = _tuner(tmp_path)
    counter = BatchCounter()
    with pytest.raises(
        kt.errors.FatalValueError, match=r"got class_weight=\{2: 200\}, which would replace the weighting .* strategies="
    ):
        tuner.search(X, Y, epochs=1, validation_data=(X, Y), class_weight={2: 200}, callbacks=[counter], verbose=0)
    assert counter.batches == 0
    assert not [t for t in tuner.oracle.trials.values() if t.status == "COMPLETED"]

    def compiled_with_weights(hp):
        model = build_model(hp)
        model.compile("sgd", "sparse_categorical_crossentropy", class_weight="balanced")
        return model

    # Found when the tuner populates its search space, before any search.
    with pytest.raises(kt.errors.FatalValueError, match=r"compiled class_weight='balanced'"):
        _tuner(tmp_path, compiled_with_weights, name="compiled")


def test_an_objective_the_model_does_not_log_stops_the_search_at_its_first_batch(tmp_path, monkeypatch):
    def without_imbalance_metrics(hp):
        model = build_model(hp)
        model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    tuner = _tuner(tmp_path, without_imbalance_metrics)
    counter = BatchCounter()
    with pytest.raises(
        kt.errors.FatalValueError,
        match=r"objective 'val_balanced_accuracy' is not a metric this model logs: it logs "
        r"\['accuracy', 'loss'\].*imbalance_metrics",
    ):
        tuner.search(X, Y, epochs=3, batch_size=16, validation_data=(X, Y), callbacks=[counter], verbose=0)
    assert counter.batches == 1  # one batch, not three epochs of every trial
    with pytest.raises(kt.errors.FatalValueError, match=r"scored on validation data, but `search\(\)` got neither"):
        _tuner(tmp_path, name="noval").search(X, Y, epochs=1, callbacks=[counter], verbose=0)
    assert counter.batches == 1
    # A metric Keras logs, with its inferred direction, is a valid objective; the
    # per-batch check rides along the first trial only.
    tuner = _tuner(tmp_path, without_imbalance_metrics, goal=objective("accuracy"), name="accuracy")
    made = []
    original_init = tuning._ObjectiveCheck.__init__
    monkeypatch.setattr(tuning._ObjectiveCheck, "__init__", lambda self, *args: made.append(1) or original_init(self, *args))
    tuner.search(X, Y, epochs=1, validation_data=(X, Y), verbose=0)
    assert len(made) == 1
    scores = [t.score for t in tuner.oracle.trials.values()]
    assert len(scores) == 3 and tuner.oracle.get_best_trials(1)[0].score == max(scores)


def test_deferral_is_conditional_on_a_weighting_and_the_space_is_whole_before_the_search(tmp_path):
    tuner = _tuner(tmp_path, deferred_epochs=(0, 1), strategies=("none", "balanced"))
    space = {p.name: p for p in tuner.oracle.get_space().space}
    assert set(space) == {"units", "class_weight", "deferred_reweighting_epoch"}
    (condition,) = space["deferred_reweighting_epoch"].conditions
    assert condition.name == "class_weight" and list(condition.values) == ["balanced"]
    tuner.oracle.max_trials = 6
    tuner.search(X, Y, epochs=1, validation_data=(X, Y), verbose=0)
    seen = set()
    for trial in tuner.oracle.trials.values():
        hp = trial.hyperparameters
        seen.add(hp.values["class_weight"])
        assert hp.is_active("deferred_reweighting_epoch") == (hp.values["class_weight"] != "none")
    assert seen == {"none", "balanced"}


# ----------------------------------------------------------- method families

COUNTS = np.bincount(Y, minlength=3)


def build_logits(hp):
    inputs = keras.Input((6,))
    h = keras.layers.Dense(hp.Choice("units", [4, 8]), activation="relu")(inputs)
    model = WeightedModel(inputs, keras.layers.Dense(3)(h))
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=imbalance_metrics(3))
    return model


def _families(**kwargs):
    return WeightedHyperModel(build_logits, sampling_powers=(0.0, 0.5), losses=tuning.LOSS_FAMILIES, counts=COUNTS, **kwargs)


def _fixed(**values):
    """HyperParameters with `values` chosen (and the rest at their defaults)."""
    hp = kt.HyperParameters()
    for name, value in values.items():
        hp.Fixed(name, value)
    return hp


def test_the_method_family_is_a_choice_and_each_familys_hyperparameters_are_conditional_on_it():
    hp = kt.HyperParameters()
    _families().build(hp)
    space = {p.name: p for p in hp.space}
    assert list(space["method"].values) == ["reweighting", "sampling", "loss"]
    for name, family in (("class_weight", "reweighting"), ("sampling_power", "sampling"), ("loss", "loss")):
        (condition,) = space[name].conditions
        assert (condition.name, list(condition.values)) == ("method", [family])
    # Nested: the power is conditional on the family and on the strategy.
    assert [(c.name, list(c.values)) for c in space["power"].conditions] == [
        ("method", ["reweighting"]),
        ("class_weight", ["inverse_power"]),
    ]
    for method, active in (("reweighting", "class_weight"), ("sampling", "sampling_power"), ("loss", "loss")):
        hp = _fixed(method=method)
        _families().build(hp)
        assert {n for n in ("class_weight", "sampling_power", "loss") if hp.is_active(n)} == {active}
    # Only re-weighting searched: the space is as before, with no `method`.
    hp = kt.HyperParameters()
    WeightedHyperModel(build_logits).build(hp)
    assert "method" not in hp.values and "class_weight" in hp.values


def _twin(model):
    """A plain `keras.Model` copy of `model`'s network and weights (no shared layers)."""
    twin = keras.models.clone_model(keras.Model(model.inputs, model.outputs[0]))
    twin.set_weights(model.get_weights())
    return twin


def _logit_reference(model, log_prior):
    """Plain Keras: the same weights, `log_prior` added to the logits, cross-entropy (Menon et al.'s form)."""
    inputs = keras.Input((6,))
    logits = _twin(model)(inputs)
    adjusted = keras.layers.Lambda(lambda z: z + np.asarray(log_prior, "float32"))(logits)
    reference = keras.Model(inputs, adjusted)
    reference.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return reference


@pytest.mark.parametrize("family", ["logit_adjusted", "balanced_softmax"])
def test_logit_adjusted_families_train_as_cross_entropy_on_prior_shifted_logits(family, tmp_path):
    hypermodel = _families()
    hp = _fixed(method="loss", loss=family, units=4)
    model = hypermodel.build(hp)
    reference = _logit_reference(model, np.log(COUNTS / COUNTS.sum()))
    history = hypermodel.fit(hp, model, X, Y, epochs=2, batch_size=32, shuffle=False, verbose=0)
    expected = reference.fit(X, Y, epochs=2, batch_size=32, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"], expected.history["loss"], rtol=1e-4)
    assert model.default_class_weight is None
    # The model saves and reloads with its family loss.
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.evaluate(X, Y, verbose=0)[0], model.evaluate(X, Y, verbose=0)[0], rtol=1e-5)


def test_ldam_drw_trains_with_margins_and_balanced_weights_from_its_deferred_epoch():
    hypermodel = _families(deferred_fraction=0.5)
    hp = _fixed(method="loss", loss="ldam_drw", units=4)
    model = hypermodel.build(hp)
    # NumPy reference margins (Cao et al.): m_c ∝ n_c^(-1/4), the largest 0.5.
    margins = COUNTS**-0.25 * (0.5 / (COUNTS**-0.25).max())
    reference = _twin(model)

    def ldam_reference(y_true, logits):
        one_hot = keras.ops.one_hot(keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32"), 3)
        return keras.losses.categorical_crossentropy(one_hot, logits - one_hot * margins.astype("float32"), from_logits=True)

    reference.compile("sgd", ldam_reference)
    weights = COUNTS.sum() / (3 * COUNTS)  # "balanced"
    history = hypermodel.fit(hp, model, X, Y, epochs=4, batch_size=32, shuffle=False, verbose=0)
    first = reference.fit(X, Y, epochs=2, batch_size=32, shuffle=False, verbose=0)
    then = reference.fit(
        X, Y, initial_epoch=2, epochs=4, batch_size=32, shuffle=False, verbose=0, sample_weight=per_sample(weights, Y)
    )
    np.testing.assert_allclose(history.history["loss"], first.history["loss"] + then.history["loss"], rtol=1e-4)
    assert history.history["class_weight_alpha"] == [0.0, 0.0, 1.0, 1.0]


class LabelShares(keras.metrics.Metric):
    """The share of class `c` among the labels a model trained on (an independent count)."""

    def __init__(self, c, **kwargs):
        super().__init__(name=f"share_{c}", **kwargs)
        self.c = c
        self.hits = self.add_variable((), initializer="zeros", name="hits")
        self.total = self.add_variable((), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y = keras.ops.reshape(keras.ops.cast(y_true, "int32"), (-1,))
        self.hits.assign_add(keras.ops.sum(keras.ops.cast(y == self.c, "float32")))
        self.total.assign_add(keras.ops.cast(keras.ops.shape(y)[0], "float32"))

    def result(self):
        return self.hits / self.total


def test_the_sampling_family_trains_on_class_balanced_batches():
    def build_counting(hp):
        model = build_logits(hp)
        model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=[LabelShares(2)])
        return model

    hypermodel = WeightedHyperModel(build_counting, sampling_powers=(0.0,))
    hp = _fixed(method="sampling", units=4)
    model = hypermodel.build(hp)
    counter = BatchCounter()
    history = hypermodel.fit(hp, model, X, Y, epochs=2, batch_size=16, callbacks=[counter], verbose=0)
    # Class 2 is 7% of Y; power 0 draws each class with probability 1/3
    # (240 draws: sd 0.03, so > 0.2 is a 4-sd margin).
    assert COUNTS[2] / len(Y) < 0.1 and history.history["share_2"][-1] > 0.2
    assert counter.batches == 2 * 8  # an epoch is len(Y) draws: ceil(120 / 16) batches
    assert model.default_class_weight is None


def test_method_family_configuration_errors(tmp_path):
    with pytest.raises(ValueError, match=r"needs the training class counts: pass `counts=count_labels"):
        WeightedHyperModel(build_logits, losses=("logit_adjusted",))
    with pytest.raises(ValueError, match=r"Expected `losses` among .*Received: losses=\['focal'\]"):
        WeightedHyperModel(build_logits, losses=("focal",), counts=COUNTS)
    with pytest.raises(
        ValueError, match=r"Expected `sampling_powers` to be values in \[0, 1\]. Received: sampling_powers=\[2.0\]"
    ):
        WeightedHyperModel(build_logits, sampling_powers=(2,))
    with pytest.raises(ValueError, match=r"need a single-output model; `outputs=\['a', 'b'\]`"):
        WeightedHyperModel(build_logits, sampling_powers=(0.0,), outputs=["a", "b"])
    with pytest.raises(ValueError, match=r"Expected `counts` to be at least 2 positive"):
        WeightedHyperModel(build_logits, losses=("balanced_softmax",), counts=[5, 0, 3])
    # A loss family replaces a cross-entropy on logits only.
    with pytest.raises(
        kt.errors.FatalValueError, match=r"must be `keras.losses.SparseCategoricalCrossentropy\(from_logits=True\)`"
    ):
        WeightedHyperModel(build_model, losses=("logit_adjusted",), counts=COUNTS).build(_fixed(method="loss"))
    # Sampling draws from arrays.
    hypermodel = WeightedHyperModel(build_logits, sampling_powers=(0.0,))
    hp = _fixed(method="sampling")
    with pytest.raises(kt.errors.FatalValueError, match=r"needs NumPy arrays `x` and `y`. Received: x of type list"):
        hypermodel.fit(hp, hypermodel.build(hp), [[1.0] * 6], epochs=1, verbose=0)
    with pytest.raises(kt.errors.FatalValueError, match=r"needs one integer class index >= 0 per sample"):
        hypermodel.fit(hp, hypermodel.build(hp), X, np.eye(3)[Y], epochs=1, verbose=0)
    with pytest.raises(kt.errors.FatalValueError, match=r"pass `validation_data` to `search\(\)` instead of `validation_split`"):
        hypermodel.fit(hp, hypermodel.build(hp), X, Y, validation_split=0.2, epochs=1, verbose=0)


def test_a_search_over_the_families_keeps_each_trials_method_in_its_best_model(tmp_path):
    tuner = kt.RandomSearch(
        _families(),
        objective=objective("balanced_accuracy"),
        max_trials=8,
        seed=2,
        directory=str(tmp_path),
        project_name="families",
    )
    tuner.search(X, Y, epochs=1, batch_size=32, validation_data=(X, Y), verbose=0)
    trials = [t for t in tuner.oracle.trials.values() if t.status == "COMPLETED"]
    assert {t.hyperparameters.values["method"] for t in trials} == {"reweighting", "sampling", "loss"}
    expected = {
        "logit_adjusted": "LogitAdjustedCrossentropy",
        "balanced_softmax": "BalancedSoftmaxCrossentropy",
        "ldam_drw": "LDAMLoss",
    }
    for trial in trials:
        values = trial.hyperparameters.values
        model = tuner.load_model(trial)
        loss = model._compile_arguments["loss"]
        if values["method"] == "loss":
            assert type(loss).__name__ == expected[values["loss"]]
            assert (model.default_class_weight == "balanced") == (values["loss"] == "ldam_drw")
        else:
            assert isinstance(loss, keras.losses.SparseCategoricalCrossentropy)
