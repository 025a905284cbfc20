"""Run Hyperas-style model functions under Keras Tuner, unchanged.

Hyperas (unmaintained) rewrites the source of a model function whose
hyperparameters are written as `{{choice([32, 64])}}` markers, and runs it
under hyperopt. `hyperas_tuner(create_model, data)` does the same under Keras
Tuner, with Hyperas's semantics:

- `data()` runs once per search, before the first trial, and its local
  variables are visible to the model function (Hyperas pastes its body into
  the module it generates); `data_args` are its arguments.
- Each marker becomes a Keras Tuner hyperparameter named after what it tunes
  (`Conv1D.filters`, `Dropout.rate`, `fit.batch_size`; see
  `weighted_models.hyperas_markers`); markers are found by parsing the code,
  so a marker in a comment or a string is not one.
- The function's returned `{"loss": ..., "status": STATUS_OK, "model": model}`
  is the trial's result (`loss` is minimised, as hyperopt does; `model` is
  saved for `get_best_models()`). Functions and classes defined beside the
  model function, those given as `functions=[...]` and `custom_objects` are
  known when the best models are loaded (custom losses, metrics, `Lambda`
  functions).
- Hyperas's `minimize` keywords are accepted: `max_evals`, `rseed`, `algo`,
  `trials`, `notebook_name`, `verbose`, `keep_temp` are mapped with a one-line
  `HyperasMigrationWarning`; `return_space` is refused with what to use.
  `eval_space=True` makes `best_run()` give the chosen options rather than
  their indexes.

Distributions (hyperopt semantics -> Keras Tuner):

| marker | becomes |
|---|---|
| `choice([a, b, ...])` | `hp.Choice(name, [a, b, ...])`; options that are not all str, all bool, all int or all float are chosen by index (any Python values work) |
| `pchoice([(p, a), ...])` | `hp.Choice` over the options: Keras Tuner has no weighted choice, the probabilities are not used (warned) |
| `uniform(a, b)` | `hp.Float(name, a, b)` |
| `uniformint(a, b)` | `hp.Int(name, a, b)` |
| `quniform(a, b, q)` | `hp.Int(name, a, b, step=q)` when `a`, `b`, `q` are integers, else `hp.Float(name, a, b, step=q)` |
| `loguniform(a, b)` | `hp.Float(name, exp(a), exp(b), sampling="log")`: hyperopt's bounds are logarithms |
| `qloguniform(a, b, q)` | as `loguniform`, the value rounded to a multiple of `q` |
| `randint(n)`, `randint(a, b)` | `hp.Int(name, 0, n - 1)`, `hp.Int(name, a, b - 1)` |
| `normal(m, s)` | `hp.Float(name, m - 3 s, m + 3 s)`: Keras Tuner has no normal prior; the range holds 99.7% of the normal's mass and is searched uniformly |
| `qnormal(m, s, q)` | as `normal`, with step `q` |
| `lognormal(m, s)` | `hp.Float(name, exp(m - 3 s), exp(m + 3 s), sampling="log")` |
| `qlognormal(m, s, q)` | as `lognormal`, the value rounded to a multiple of `q` |

Hyperband is refused: a Hyperas function fixes its own epochs, which
Hyperband needs to set.
"""

import ast
import inspect
import math
import os
import sys
import textwrap
import warnings

import keras
import keras_tuner as kt

from weighted_models.hyperas_markers import rewrite

__all__ = ["HyperasFunction", "HyperasMigrationWarning", "HyperasTuner", "hyperas_tuner", "rewrite"]


class HyperasMigrationWarning(UserWarning):
    """A Hyperas argument mapped to its Keras Tuner counterpart (one line: what it became)."""


def _note(message):
    warnings.warn(message, HyperasMigrationWarning, stacklevel=3)


def _snap(value, q):
    """hyperopt's quantisation, `round(value / q) * q` (an int for integral q)."""
    snapped = round(value / q) * q
    return int(snapped) if float(q).is_integer() else snapped


class _Space:
    """The functions markers call, bound to one trial's hyperparameters.

    Records, per name, how a recorded value maps to what the function
    received (`evaluate`): the option for a choice by index, the rounded
    value for the quantised log distributions.
    """

    def __init__(self, hp, evaluations):
        self.hp = hp
        self.evaluations = evaluations

    def choice(self, name, options):
        options = list(options)
        kinds = {type(o) for o in options}
        if len(kinds) == 1 and kinds <= {str, bool, int, float}:
            return self.hp.Choice(name, options)
        self.evaluations[name] = lambda index, options=options: options[index]
        return options[self.hp.Choice(name, list(range(len(options))))]

    def pchoice(self, name, weighted):
        return self.choice(name, [option for _, option in weighted])

    def uniform(self, name, low, high):
        return self.hp.Float(name, low, high)

    def uniformint(self, name, low, high, q=1):
        return self.hp.Int(name, int(low), int(high), step=int(q))

    def quniform(self, name, low, high, q):
        if all(float(v).is_integer() for v in (low, high, q)):
            return self.hp.Int(name, int(low), int(high), step=int(q))
        return self.hp.Float(name, low, high, step=q)

    def loguniform(self, name, low, high):
        return self.hp.Float(name, math.exp(low), math.exp(high), sampling="log")

    def qloguniform(self, name, low, high, q):
        self.evaluations[name] = lambda value: _snap(value, q)
        return _snap(self.loguniform(name, low, high), q)

    def randint(self, name, low, high=None):
        low, high = (0, low) if high is None else (low, high)
        return self.hp.Int(name, int(low), int(high) - 1)

    def normal(self, name, mu, sigma):
        return self.hp.Float(name, mu - 3 * sigma, mu + 3 * sigma)

    def qnormal(self, name, mu, sigma, q):
        return self.quniform(name, _snap(mu - 3 * sigma, q), _snap(mu + 3 * sigma, q), q)

    def lognormal(self, name, mu, sigma):
        return self.hp.Float(name, math.exp(mu - 3 * sigma), math.exp(mu + 3 * sigma), sampling="log")

    def qlognormal(self, name, mu, sigma, q):
        self.evaluations[name] = lambda value: _snap(value, q)
        return _snap(self.lognormal(name, mu, sigma), q)


class HyperasFunction:
    """A Hyperas model function made runnable with Keras Tuner hyperparameters.

    Args:
        model_fn: the Hyperas model function, or its source as a string.
        functions: functions (and classes) the model function uses, made
            visible to it as Hyperas's `functions=[...]` did.

    Raises:
        ValueError: a marker that is not a Hyperas distribution, source that is
            not valid Python, or a function without markers.

    Examples:
        >>> f = HyperasFunction("def f(x):\\n    return {'loss': x * {{uniform(0, 1)}}}")
        >>> f.names
        ['loss']
    """

    def __init__(self, model_fn, functions=()):
        if callable(model_fn):
            source = textwrap.dedent(inspect.getsource(model_fn))
            namespace = dict(model_fn.__globals__)
            self.module = model_fn.__module__
            name = model_fn.__name__
        else:
            source = textwrap.dedent(model_fn)
            namespace, self.module, name = {}, None, None
        self.functions = {f.__name__: f for f in functions}
        namespace.update(self.functions)
        new_source, markers = rewrite(source, namespace)
        if name is None:
            defined = [n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]
            if not defined:
                raise ValueError("The Hyperas source defines no function.")
            name = defined[0]
        self.names = [m.name for m in markers]
        if not self.names:
            raise ValueError(f"'{name}' has no Hyperas markers such as {{{{choice([...])}}}} to tune.")
        for marker in markers:
            if marker.distribution == "pchoice":
                _note(
                    f"{marker.text} (line {marker.line}): Keras Tuner has no weighted choice; "
                    f"'{marker.name}' chooses among the options uniformly."
                )
        namespace.setdefault("STATUS_OK", "ok")
        namespace.setdefault("STATUS_FAIL", "fail")
        self.namespace = namespace
        self.evaluations = {}
        exec(compile(new_source, f"<hyperas {name}>", "exec"), namespace)
        self.function = namespace[name]

    def __call__(self, hp, *args):
        self.namespace["__hyperas__"] = _Space(hp, self.evaluations)
        return self.function(*args)

    def evaluate(self, values):
        """Recorded hyperparameter values as the function received them.

        Choices made by index become the chosen options and quantised log
        distributions their rounded values (Hyperas's `eval_space=True`).
        """
        return {k: self.evaluations[k](v) if k in self.evaluations else v for k, v in values.items()}

    def custom_objects(self):
        """Functions and classes defined beside the model function or given as `functions`."""
        found = {}
        for value in list(self.namespace.values()) + list(self.functions.values()):
            beside = self.module is not None and getattr(value, "__module__", None) == self.module
            if (inspect.isfunction(value) or inspect.isclass(value)) and (beside or value in self.functions.values()):
                found[value.__name__] = value  # the name Keras saves a function or class by
        return found


def _call_keeping_locals(function, args):
    """`function(*args)` and its local variables when it returned (Hyperas's `data()`)."""
    code = getattr(function, "__code__", None)
    if code is None:
        return function(*args), {}
    kept = {}

    def profile(frame, event, arg):
        if event == "return" and frame.f_code is code:
            kept.clear()
            kept.update(frame.f_locals)

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        result = function(*args)
    finally:
        sys.setprofile(previous)
    return result, kept


class HyperasTuner(kt.Tuner):
    """A Keras Tuner tuner whose trials run a Hyperas model function.

    Built by `hyperas_tuner`; `search()` takes no data (it is bound).
    """

    def __init__(self, model_fn, data, oracle, *, data_args=(), functions=(), custom_objects=None, eval_space=False, **kwargs):
        self.hyperas_function = HyperasFunction(model_fn, functions)
        self.data = data
        self.data_args = tuple(data_args)
        self.custom_objects = dict(custom_objects or {})
        self.eval_space = eval_space
        self._data_values = None
        super().__init__(oracle=oracle, **kwargs)

    def on_search_begin(self):
        super().on_search_begin()
        self._data_values = None
        self._load_data()

    def _load_data(self):
        """Runs `data()` once per search; its locals join the model function's globals."""
        if self._data_values is not None:
            return self._data_values
        if callable(self.data):
            values, local_variables = _call_keeping_locals(self.data, self.data_args)
            self.hyperas_function.namespace.update(local_variables)
        else:
            values = self.data
        if not isinstance(values, (tuple, list)):
            values = (values,)
        self._data_values = tuple(values)
        return self._data_values

    def run_trial(self, trial, *args, **kwargs):
        result = self.hyperas_function(trial.hyperparameters, *self._load_data())
        if not isinstance(result, dict) or "loss" not in result:
            raise kt.errors.FatalValueError(
                "A Hyperas model function must return a dict with a 'loss' (and "
                f"'status', 'model'). Received: {type(result).__name__}."
            )
        if result.get("status", "ok") != "ok":
            raise kt.errors.FailedTrialError(f"The model function returned status {result['status']!r}.")
        model = result.get("model")
        if isinstance(model, keras.Model):
            model.save(self._model_path(trial.trial_id))
        return {"loss": float(result["loss"])}

    def _model_path(self, trial_id):
        return os.path.join(self.get_trial_dir(trial_id), "model.keras")

    def load_model(self, trial):
        path = self._model_path(trial.trial_id)
        if not os.path.exists(path):
            raise ValueError(f"Trial {trial.trial_id} returned no 'model' to load (its result dict has no 'model' key).")
        custom_objects = {**self.hyperas_function.custom_objects(), **self.custom_objects}
        try:
            return keras.models.load_model(path, custom_objects=custom_objects)
        except TypeError as error:
            raise TypeError(
                f"The model of trial {trial.trial_id} could not be loaded: {error} Define the "
                f"missing function or class beside the model function, or pass it in "
                f"`hyperas_tuner(..., custom_objects={{name: object}})`."
            ) from error

    def get_best_models(self, num_models=1):
        completed = [t for t in self.oracle.trials.values() if t.status == "COMPLETED"]
        if not completed:
            failed = [t for t in self.oracle.trials.values() if t.status in ("FAILED", "INVALID")]
            last = (failed[-1].message or "").strip().splitlines() if failed else []
            raise ValueError(
                f"No trial completed ({len(failed)} failed), so there is no best model."
                + (f" The last failure: {last[-1]}" if last else "")
            )
        return super().get_best_models(num_models)

    def best_run(self, eval_space=None):
        """The best trial's hyperparameter values, as Hyperas's `best_run`.

        Args:
            eval_space: give chosen options rather than their indexes (and
                rounded values of quantised log distributions); defaults to
                the tuner's `eval_space`.

        Returns:
            dict name -> value.
        """
        values = dict(self.get_best_hyperparameters(1)[0].values)
        use = self.eval_space if eval_space is None else eval_space
        return self.hyperas_function.evaluate(values) if use else values


_RENAMED = {"max_evals": "max_trials", "rseed": "seed"}
_ALGORITHMS = {"rand": "random", "tpe": "bayesian"}


def _algorithm(algo):
    module = getattr(algo, "__module__", "") or ""
    name = module.rsplit(".", 1)[-1] if module.startswith("hyperopt") else str(algo)
    if name in _ALGORITHMS:
        return name
    raise ValueError(
        f"algo={algo!r} has no Keras Tuner counterpart. Use tuner='random' (hyperopt's "
        f"rand.suggest) or tuner='bayesian' (Bayesian optimisation, the closest to tpe.suggest)."
    )


def hyperas_tuner(
    model=None,
    data=None,
    *,
    tuner=None,
    max_trials=None,
    seed=None,
    data_args=(),
    functions=(),
    custom_objects=None,
    eval_space=False,
    **kwargs,
):
    """A Keras Tuner tuner running a Hyperas model function, unchanged.

    Hyperas's `optim.minimize(model=..., data=..., algo=..., max_evals=...,
    trials=Trials(), ...)` call becomes `hyperas_tuner(...)` with the same
    arguments, then `search()`; Hyperas's keywords are mapped with a note
    (`HyperasMigrationWarning`).

    Args:
        model: the Hyperas model function (or its source).
        data: Hyperas's `data` function (run once per search; its local
            variables are visible to `model`), or the arguments of `model`
            as a tuple.
        tuner: `"random"` (default) or `"bayesian"`.
        max_trials: number of trials (Hyperas's `max_evals`); default 10.
        seed: random seed of the search (Hyperas's `rseed`).
        data_args: arguments of `data`.
        functions: functions the model function uses that are not defined
            beside it (Hyperas's `functions`).
        custom_objects: objects the saved models need to load, beyond
            those defined beside the model function.
        eval_space: `best_run()` gives options, not indexes.
        **kwargs: for `keras_tuner.Tuner` (`directory`, `project_name`,
            `overwrite`, ...), or Hyperas's `algo`, `max_evals`, `rseed`,
            `trials`, `notebook_name`, `verbose`, `keep_temp`.

    Returns:
        A `HyperasTuner`: call `search()`, then `best_run()`,
        `get_best_hyperparameters()` and `get_best_models()`.

    Raises:
        ValueError: unsupported markers, tuner or Hyperas arguments.

    Examples:
        ```python
        tuner = hyperas_tuner(create_model, data, algo=tpe.suggest, max_evals=20,
                              trials=Trials(), directory="search")  # notes say what they became
        tuner.search()
        best_run, best_model = tuner.best_run(), tuner.get_best_models(1)[0]
        ```
    """
    if model is None:
        raise TypeError("hyperas_tuner() needs the model function: hyperas_tuner(create_model, data).")
    if data is None:
        raise TypeError("hyperas_tuner() needs `data`: Hyperas's data function or the model function's arguments.")
    given = {"max_trials": max_trials, "seed": seed}
    for old, new in _RENAMED.items():
        if old in kwargs:
            value = kwargs.pop(old)
            if given[new] is not None:
                raise ValueError(f"Pass either Hyperas's `{old}` or `{new}`, not both.")
            given[new] = value
            _note(f"Hyperas's {old}={value!r} is Keras Tuner's {new}={value!r}.")
    if "algo" in kwargs:
        algo = kwargs.pop("algo")
        name = _algorithm(algo)
        if tuner is not None:
            raise ValueError("Pass either Hyperas's `algo` or `tuner`, not both.")
        tuner = _ALGORITHMS[name]
        _note(
            "algo=rand.suggest is tuner='random'."
            if name == "rand"
            else "algo=tpe.suggest: TPE is not in Keras Tuner; Bayesian optimisation (tuner='bayesian') searches instead."
        )
    if "trials" in kwargs:
        trials = kwargs.pop("trials")
        if trials is not None and len(trials):
            raise ValueError(
                "A hyperopt `trials` object with results cannot be resumed by Keras Tuner. Keras "
                "Tuner keeps its trials in `directory`/`project_name`: run the same search again "
                "to resume it."
            )
        _note(
            "trials=Trials(): Keras Tuner records the trials in directory/project_name "
            "(read them in tuner.oracle.trials; a search resumes from there)."
        )
    if "notebook_name" in kwargs:
        kwargs.pop("notebook_name")
        _note("notebook_name is not needed: the model function's source is read from the notebook.")
    if "keep_temp" in kwargs:
        kwargs.pop("keep_temp")
        _note("keep_temp: no temporary module is written; the rewritten function is kept in memory.")
    if "verbose" in kwargs:
        verbose = kwargs.pop("verbose")
        _note(f"verbose={verbose!r} applies to search(): pass search(verbose=...) (0, 1 or 2).")
    if "return_space" in kwargs:
        raise ValueError(
            "return_space has no counterpart: the search space is tuner.oracle.get_space() "
            "(tuner.search_space_summary() prints it)."
        )
    tuner = tuner or "random"
    max_trials = 10 if given["max_trials"] is None else given["max_trials"]
    objective = kt.Objective("loss", direction="min")
    if tuner == "random":
        oracle = kt.oracles.RandomSearchOracle(objective=objective, max_trials=max_trials, seed=given["seed"])
    elif tuner == "bayesian":
        oracle = kt.oracles.BayesianOptimizationOracle(objective=objective, max_trials=max_trials, seed=given["seed"])
    else:
        raise ValueError(
            f"Expected tuner 'random' or 'bayesian'. Received: tuner={tuner!r}"
            + (" (Hyperband sets the epochs of each trial; a Hyperas function fixes its own)." if tuner == "hyperband" else ".")
        )
    return HyperasTuner(
        model,
        data,
        oracle,
        data_args=data_args,
        functions=functions,
        custom_objects=custom_objects,
        eval_space=eval_space,
        **kwargs,
    )
