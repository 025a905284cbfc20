"""Run Hyperas-style model functions under Keras Tuner, unchanged.

Hyperas (unmaintained) rewrites the source of a model function whose
hyperparameters are written as `{{choice([32, 64])}}` markers, and runs it
under hyperopt. `hyperas_tuner(create_model, data=...)` does the same under
Keras Tuner: each marker becomes a Keras Tuner hyperparameter, the function
runs once per trial with `data` as its arguments, and its returned
`{"loss": ..., "status": STATUS_OK, "model": model}` is the trial's result
(`loss` is minimised, as hyperopt does; `model` is kept for
`get_best_models()`).

Marker mapping (hyperopt semantics -> Keras Tuner):

| marker | becomes |
|---|---|
| `{{choice([a, b, ...])}}` | `hp.Choice(name, [a, b, ...])`; options that are not all str, all bool, all int or all float are chosen by index, so any Python values work |
| `{{uniform(a, b)}}` | `hp.Float(name, a, b)` |
| `{{quniform(a, b, q)}}` | `hp.Int(name, a, b, step=q)` when `a`, `b`, `q` are integers, else `hp.Float(name, a, b, step=q)` |
| `{{loguniform(a, b)}}` | `hp.Float(name, exp(a), exp(b), sampling="log")`: hyperopt's bounds are logarithms |
| `{{randint(n)}}` | `hp.Int(name, 0, n - 1)` |
| `{{normal(m, s)}}` | `hp.Float(name, m - 3 s, m + 3 s)`: Keras Tuner has no normal prior; the range holds 99.7% of the normal's mass and is searched uniformly |

Not supported, with a `ValueError` naming the marker and its line:
`qnormal`, `lognormal`, `qlognormal`, `qloguniform` (Keras Tuner has no
such priors), and any other function. Hyperband is refused too: a Hyperas
function fixes its own epochs, which Hyperband needs to set.

Names: a marker is named after the call or argument it sits in
(`Dropout({{uniform(0, 1)}})` -> `Dropout`, `optimizer={{choice(...)}}` ->
`optimizer`); repeated names get `_1`, `_2`, ... in source order.
"""

import ast
import inspect
import math
import os
import re
import textwrap

import keras
import keras_tuner as kt

_MARKER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_SUPPORTED = ("choice", "uniform", "quniform", "loguniform", "randint", "normal")
_UNSUPPORTED = ("qnormal", "lognormal", "qlognormal", "qloguniform", "pchoice")


class _Space:
    """The functions markers call, bound to one trial's hyperparameters."""

    def __init__(self, hp):
        self.hp = hp

    def choice(self, name, options):
        options = list(options)
        kinds = {type(o) for o in options}
        if len(kinds) == 1 and kinds <= {str, bool, int, float}:
            return self.hp.Choice(name, options)
        return options[self.hp.Choice(name, list(range(len(options))))]

    def uniform(self, name, low, high):
        return self.hp.Float(name, low, high)

    def quniform(self, name, low, high, q):
        if all(float(v).is_integer() for v in (low, high, q)):
            return self.hp.Int(name, int(low), int(high), step=int(q))
        return self.hp.Float(name, low, high, step=q)

    def loguniform(self, name, low, high):
        return self.hp.Float(name, math.exp(low), math.exp(high), sampling="log")

    def randint(self, name, upper):
        return self.hp.Int(name, 0, int(upper) - 1)

    def normal(self, name, mu, sigma):
        return self.hp.Float(name, mu - 3 * sigma, mu + 3 * sigma)


def _marker_name(source, start):
    """The call or argument name a marker at `start` sits in."""
    before = source[:start]
    match = re.search(r"(\w+)\s*=\s*$", before)
    if match:
        return match.group(1)
    depth = 0
    for i in range(len(before) - 1, -1, -1):
        char = before[i]
        if char in ")]}":
            depth += 1
        elif char in "([{":
            if depth == 0:
                if char != "(":
                    continue
                call = re.search(r"([A-Za-z_]\w*)\s*$", before[:i])
                return call.group(1) if call else "param"
            depth -= 1
    return "param"


def rewrite(source):
    """Rewrites Hyperas markers in `source` into calls of the trial's space.

    Args:
        source: the source of a Hyperas model function.

    Returns:
        `(new_source, names)`: the rewritten source and the hyperparameter
        names, in source order.

    Raises:
        ValueError: a marker that is not valid Python or not supported.

    Example:

    >>> new, names = rewrite("x = Dense({{choice([32, 64])}})")
    >>> names
    ['Dense']
    """
    names, seen, pieces, last = [], {}, [], 0
    for match in _MARKER.finditer(source):
        expression = match.group(1).strip()
        line = source.count("\n", 0, match.start()) + 1
        try:
            call = ast.parse(expression, mode="eval").body
        except SyntaxError as error:
            raise ValueError(f"Hyperas marker {{{{{expression}}}}} on line {line} is not valid Python: {error.msg}") from None
        function = call.func.id if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) else None
        if function not in _SUPPORTED:
            why = ("Keras Tuner has no such prior" if function in _UNSUPPORTED
                   else "it is not a Hyperas distribution")
            raise ValueError(
                f"Hyperas marker {{{{{expression}}}}} on line {line} is not supported: {why}. "
                f"Supported: {', '.join(_SUPPORTED)}. Replace it with one of them or with "
                f"a Keras Tuner hyperparameter."
            )
        base = _marker_name(source, match.start())
        count = seen.get(base, 0)
        seen[base] = count + 1
        name = base if count == 0 else f"{base}_{count}"
        names.append(name)
        args = expression[expression.index("(") + 1: expression.rindex(")")]
        pieces += [source[last:match.start()], f"__hyperas__.{function}({name!r}, {args})"]
        last = match.end()
    pieces.append(source[last:])
    return "".join(pieces), names


class HyperasFunction:
    """A Hyperas model function made runnable with Keras Tuner hyperparameters.

    Args:
        model_fn: the Hyperas model function (defined in a file), or its
            source as a string.
    """

    def __init__(self, model_fn):
        if callable(model_fn):
            source = textwrap.dedent(inspect.getsource(model_fn))
            namespace = dict(model_fn.__globals__)
            name = model_fn.__name__
        else:
            source = textwrap.dedent(model_fn)
            namespace = {}
            tree = ast.parse(source)
            functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
            if not functions:
                raise ValueError("The Hyperas source defines no function.")
            name = functions[0]
        new_source, self.names = rewrite(source)
        if not self.names:
            raise ValueError(f"'{name}' has no Hyperas markers such as {{{{choice([...])}}}} to tune.")
        namespace.setdefault("STATUS_OK", "ok")
        namespace.setdefault("STATUS_FAIL", "fail")
        self.namespace = namespace
        exec(compile(new_source, f"<hyperas {name}>", "exec"), namespace)
        self.function = namespace[name]

    def __call__(self, hp, *args):
        self.namespace["__hyperas__"] = _Space(hp)
        return self.function(*args)


class HyperasTuner(kt.Tuner):
    """A Keras Tuner tuner whose trials run a Hyperas model function.

    Built by `hyperas_tuner`; `search()` takes no arguments (the data is bound).
    """

    def __init__(self, model_fn, data, oracle, **kwargs):
        self.hyperas_function = HyperasFunction(model_fn)
        self.data = data
        super().__init__(oracle=oracle, **kwargs)

    def run_trial(self, trial, *args, **kwargs):
        data = self.data() if callable(self.data) else self.data
        result = self.hyperas_function(trial.hyperparameters, *data)
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
            raise ValueError(f"Trial {trial.trial_id} returned no 'model' to load.")
        return keras.models.load_model(path)


def hyperas_tuner(model_fn, data, *, tuner="random", max_trials=10, seed=None, **kwargs):
    """A Keras Tuner tuner running a Hyperas model function, unchanged.

    Args:
        model_fn: the Hyperas model function (or its source).
        data: the arguments of the function, e.g. `(x_train, y_train,
            x_test, y_test)`, or a function returning them (Hyperas's `data`).
        tuner: `"random"` or `"bayesian"`.
        max_trials: number of trials.
        seed: random seed of the search.
        **kwargs: for `keras_tuner.Tuner` (`directory`, `project_name`,
            `overwrite`, ...).

    Returns:
        A `HyperasTuner`: call `search()`, then `get_best_hyperparameters()`
        and `get_best_models()`.

    Raises:
        ValueError: unsupported markers or tuner.
    """
    objective = kt.Objective("loss", direction="min")
    if tuner == "random":
        oracle = kt.oracles.RandomSearchOracle(objective=objective, max_trials=max_trials, seed=seed)
    elif tuner == "bayesian":
        oracle = kt.oracles.BayesianOptimizationOracle(objective=objective, max_trials=max_trials, seed=seed)
    else:
        raise ValueError(
            f"Expected tuner 'random' or 'bayesian'. Received: tuner={tuner!r}"
            + (" (Hyperband sets the epochs of each trial; a Hyperas function fixes its own)."
               if tuner == "hyperband" else ".")
        )
    return HyperasTuner(model_fn, data, oracle, **kwargs)
