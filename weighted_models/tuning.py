"""Keras Tuner integration: the weighting is a hyperparameter like any other.

- `WeightedHyperModel` wraps a model-building function `build_model(hp)`
  (architecture, optimizer, loss, metrics) and searches the weighting with
  it: the class-weight strategy (none, balanced, inverse power with its
  power — "sqrt" is 0.5 —, effective number with its beta) and the epoch at
  which deferred re-weighting starts; optionally the method family too
  (re-weighting, class-balanced sampling with its power, or a
  long-tail loss), as conditional hyperparameters. Works with every Keras
  Tuner tuner.
- `objective(name)` gives Keras Tuner objectives for imbalance, by name, with
  their direction: validation balanced accuracy, macro F1, PR-AUC.
- `weighted_models.hyperas.hyperas_tuner` runs a Hyperas-style model
  function with `{{choice(...)}}` markers under Keras Tuner, unchanged.
"""

import contextlib

import keras
import keras_tuner as kt
import numpy as np
from keras_tuner.engine.metrics_tracking import infer_metric_direction

from weighted_models.callbacks import DeferredReweighting
from weighted_models.losses import BalancedSoftmaxCrossentropy, LDAMLoss, LogitAdjustedCrossentropy
from weighted_models.model import WeightedModel
from weighted_models.sampling import ClassBalancedSampler
from weighted_models.strategies import EffectiveNumber, InversePower

SEARCHABLE = ("none", "balanced", "inverse_power", "effective_number")
LOSS_FAMILIES = ("logit_adjusted", "balanced_softmax", "ldam_drw")

_DIRECTIONS = {
    "balanced_accuracy": "max",
    "macro_f1": "max",
    "weighted_f1": "max",
    "pr_auc": "max",
    "sensitivity": "max",
    "specificity": "max",
    "loss": "min",
}


def objective(name, *, output=None, validation=True, direction=None):
    """A Keras Tuner objective for a metric the model logs, with its direction.

    Args:
        name: a metric's name as `fit` logs it without output or `val_`
            prefix: the imbalance metrics (`"balanced_accuracy"`,
            `"macro_f1"`, `"weighted_f1"`, `"pr_auc"`, `"sensitivity"`,
            `"specificity"`; compile them with `imbalance_metrics`), `"loss"`,
            or any metric Keras logs (`"accuracy"`, `"auc"`, ...).
        output: the output name, for multi-output models.
        validation: score on the validation data (`val_` prefix).
        direction: `"min"` or `"max"`; inferred where Keras Tuner infers it
            (Keras's built-in metrics) and for the imbalance metrics.

    Returns:
        A `keras_tuner.Objective`.

    Raises:
        ValueError: a direction that is neither given nor inferable, or not
            `"min"`/`"max"`.

    Examples:
        >>> goal = objective("balanced_accuracy", output="tags")
        >>> goal.name, goal.direction
        ('val_tags_balanced_accuracy', 'max')
        >>> objective("accuracy").direction
        'max'
    """
    if direction is None:
        direction = _DIRECTIONS.get(name) or infer_metric_direction(name)
        if direction is None:
            raise ValueError(
                f"Cannot infer whether objective {name!r} is minimised or maximised. Pass direction='min' or direction='max'."
            )
    if direction not in ("min", "max"):
        raise ValueError(f"Expected direction 'min' or 'max'. Received: direction={direction!r}")
    full = (f"{output}_" if output else "") + name
    return kt.Objective(("val_" if validation else "") + full, direction=direction)


def imbalance_metrics(num_classes):
    """The metrics behind the imbalance objectives: balanced accuracy, macro F1, PR-AUC."""
    from weighted_models.metrics import PRAUC, BalancedAccuracy, MacroF1

    return [BalancedAccuracy(num_classes), MacroF1(num_classes), PRAUC(num_classes)]


class WeightedHyperModel(kt.HyperModel):
    """A HyperModel whose class weighting is searched with the model.

    Hyperparameters added (per output when `outputs` is given, prefixed
    `<output>/`):

    - `class_weight`: one of `strategies` (`"none"`, `"balanced"`,
      `"inverse_power"`, `"effective_number"`);
    - `power` (inverse power only): a float in `power_range`;
    - `beta` (effective number only): one of `betas`;
    - `deferred_reweighting_epoch`: one of `deferred_epochs` (0: weights
      from the first epoch), when more than one is given.

    **Method families.** With `sampling_powers` or `losses`, a `method`
    hyperparameter first chooses the family, and each family's own
    hyperparameters are conditional on it:

    - `method="reweighting"`: the class weights above (with `"none"` among
      the strategies, this family includes plain training);
    - `method="sampling"`: `sampling_power`, one of `sampling_powers`; `fit`
      draws batches with `ClassBalancedSampler` (power `q`: 1 instance-, 0.5
      square-root, 0 class-balanced) from the array `x` and `y` the search
      gets, with no class weights (they would count the correction twice);
    - `method="loss"`: `loss`, one of `losses`, replacing the compiled
      cross-entropy: `"logit_adjusted"` (`LogitAdjustedCrossentropy`, tau
      1), `"balanced_softmax"` (`BalancedSoftmaxCrossentropy`) or
      `"ldam_drw"` (`LDAMLoss` with `ldam_scale`, plus balanced class weights
      from epoch `int(deferred_fraction * epochs)` of each `fit` on). These
      need the training `counts`, and `build_model` must compile a
      cross-entropy on logits (`SparseCategoricalCrossentropy(from_logits=
      True)` or `CategoricalCrossentropy(from_logits=True)`), whose
      sparseness the replacement keeps.

    The method families need a single-output model (no `outputs`).

    The chosen class weights become the model's `compile` class weights, so
    the best model reloads (`tuner.get_best_models()`, or `model.save` and
    `keras.models.load_model`) with its weighting and retrains with it;
    `hypermodel.fit(best_hp, model, ...)` also restores deferred re-weighting.

    Args:
        build_model: a function `build_model(hp)` returning a compiled
            `WeightedModel` (architecture, optimizer, loss, metrics).
        strategies: the strategies to search.
        power_range: `(min, max)` of the inverse power.
        betas: effective-number betas to search.
        deferred_epochs: start epochs of deferred re-weighting to search.
        outputs: output names to weight separately; `None` weights every
            output with one shared choice.
        sampling_powers: sampling powers `q` in `[0, 1]` to search under
            `method="sampling"`; `None` leaves sampling out.
        losses: loss families (from `LOSS_FAMILIES`) to search under
            `method="loss"`; `None` leaves them out.
        counts: the training class counts (`count_labels(y_train,
            num_classes=C)`), needed by `losses`.
        ldam_scale: the LDAM loss's `scale` (1 for an ordinary `Dense`
            layer's logits, 30 for cosine logits as in Cao et al.).
        deferred_fraction: where the re-weighting of `"ldam_drw"` starts, as
            a fraction of `fit`'s epochs.

    Raises:
        ValueError: an unknown strategy or loss family, a bad range, power or
            epoch, `losses` without `counts`, or method families with
            `outputs`.

    Examples:
        ```python
        def build_model(hp):
            inputs = keras.Input((20,))
            h = keras.layers.Dense(hp.Choice("units", [16, 32]), activation="relu")(inputs)
            model = WeightedModel(inputs, keras.layers.Dense(4, activation="softmax")(h))
            model.compile("adam", "sparse_categorical_crossentropy", metrics=imbalance_metrics(4))
            return model

        tuner = kt.RandomSearch(WeightedHyperModel(build_model), objective=objective("balanced_accuracy"),
                                max_trials=10)
        tuner.search(x, y, epochs=5, validation_data=(x_val, y_val))
        ```
    """

    def __init__(
        self,
        build_model,
        *,
        strategies=SEARCHABLE,
        power_range=(0.25, 1.0),
        betas=(0.9, 0.99, 0.999, 0.9999),
        deferred_epochs=(0,),
        outputs=None,
        sampling_powers=None,
        losses=None,
        counts=None,
        ldam_scale=1.0,
        deferred_fraction=0.75,
        name=None,
        tunable=True,
    ):
        super().__init__(name=name, tunable=tunable)
        unknown = [s for s in strategies if s not in SEARCHABLE]
        if unknown or not strategies:
            raise ValueError(f"Expected `strategies` among {SEARCHABLE}. Received: {list(strategies)}")
        if not 0 <= power_range[0] <= power_range[1]:
            raise ValueError(f"Expected 0 <= min <= max in `power_range`. Received: {power_range}")
        if any(not 0 <= b < 1 for b in betas):
            raise ValueError(f"Expected every beta in [0, 1). Received: betas={list(betas)}")
        if any(not isinstance(e, int) or e < 0 for e in deferred_epochs) or not deferred_epochs:
            raise ValueError(f"Expected `deferred_epochs` to be ints >= 0. Received: {list(deferred_epochs)}")
        if sampling_powers is not None:
            sampling_powers = [float(q) for q in sampling_powers]
            if not sampling_powers or any(not 0.0 <= q <= 1.0 for q in sampling_powers):
                raise ValueError(
                    f"Expected `sampling_powers` to be values in [0, 1]. Received: sampling_powers={sampling_powers}"
                )
        if losses is not None:
            losses = list(losses)
            unknown = [name for name in losses if name not in LOSS_FAMILIES]
            if unknown or not losses:
                raise ValueError(f"Expected `losses` among {LOSS_FAMILIES}. Received: losses={losses}")
            if counts is None:
                raise ValueError(
                    "Searching loss families needs the training class counts: pass `counts=count_labels(y_train, num_classes=C)`."
                )
            counts = np.asarray(counts, "float64")
            if counts.ndim != 1 or counts.size < 2 or np.any(~np.isfinite(counts)) or np.any(counts <= 0):
                raise ValueError(
                    f"Expected `counts` to be at least 2 positive, finite class counts. Received: counts={counts.tolist()}"
                )
        if (sampling_powers or losses) and outputs is not None:
            raise ValueError(
                "The method families (`sampling_powers`, `losses`) need a single-output model; "
                f"`outputs={list(outputs)}` weights several outputs separately."
            )
        if not (np.isfinite(ldam_scale) and ldam_scale > 0):
            raise ValueError(f"Expected `ldam_scale` > 0 and finite. Received: ldam_scale={ldam_scale!r}")
        if not 0.0 <= deferred_fraction <= 1.0:
            raise ValueError(f"Expected `deferred_fraction` in [0, 1]. Received: deferred_fraction={deferred_fraction!r}")
        self.build_model = build_model
        self.sampling_powers = sampling_powers
        self.losses = losses
        self.counts = None if counts is None else counts.tolist()
        self.ldam_scale = float(ldam_scale)
        self.deferred_fraction = float(deferred_fraction)
        self.families = ["reweighting"] + ["sampling"] * bool(sampling_powers) + ["loss"] * bool(losses)
        self.strategies = list(strategies)
        self.power_range = tuple(float(p) for p in power_range)
        self.betas = [float(b) for b in betas]
        self.deferred_epochs = list(deferred_epochs)
        self.outputs = outputs
        self._logged_objectives = set()  # objective names a trial's logs have shown

    def _strategy(self, hp, prefix):
        name = f"{prefix}class_weight"
        choice = hp.Choice(name, self.strategies)
        if "inverse_power" in self.strategies:
            with hp.conditional_scope(name, ["inverse_power"]):
                power = hp.Float(f"{prefix}power", *self.power_range)
        if "effective_number" in self.strategies:
            with hp.conditional_scope(name, ["effective_number"]):
                beta = hp.Choice(f"{prefix}beta", self.betas)
        if choice == "none":
            return None
        if choice == "inverse_power":
            return InversePower(power)
        if choice == "effective_number":
            return EffectiveNumber(beta)
        return choice

    def method(self, hp):
        """The method family that `hp` chose (`"reweighting"` when only that is searched)."""
        if len(self.families) == 1:
            return "reweighting"
        return hp.Choice("method", self.families)

    def _family(self, hp, family):
        """Declares the hyperparameters inside it as conditional on the method family."""
        if len(self.families) == 1:
            return contextlib.nullcontext()
        return hp.conditional_scope("method", [family])

    def sampling_power(self, hp):
        """The sampling power `q` that `hp` chose, or `None` outside `method="sampling"`."""
        if not self.sampling_powers:
            return None
        with self._family(hp, "sampling"):
            return hp.Choice("sampling_power", self.sampling_powers)

    def loss_family(self, hp):
        """The loss family that `hp` chose, or `None` outside `method="loss"`."""
        if not self.losses:
            return None
        with self._family(hp, "loss"):
            return hp.Choice("loss", self.losses)

    def class_weight(self, hp):
        """The `class_weight` that the hyperparameters `hp` stand for."""
        with self._family(hp, "reweighting"):
            return self._class_weight(hp)

    def _class_weight(self, hp):
        if self.outputs is None:
            return self._strategy(hp, "")
        weights = {out: self._strategy(hp, f"{out}/") for out in self.outputs}
        return None if all(w is None for w in weights.values()) else weights

    def _deferred_epoch(self, hp):
        """The deferred re-weighting start epoch; drawn only when a weighting is."""
        with self._family(hp, "reweighting"):
            return self._deferred_epoch_choice(hp)

    def _deferred_epoch_choice(self, hp):
        if len(self.deferred_epochs) == 1:
            return self.deferred_epochs[0]
        weighted = [s for s in self.strategies if s != "none"]
        if not weighted:
            return 0
        if self.outputs is None:
            # Conditional on the weighting: nothing to defer under "none".
            with hp.conditional_scope("class_weight", weighted):
                start = hp.Choice("deferred_reweighting_epoch", self.deferred_epochs)
            return start or 0
        # One start for every output: drawn whatever each output chose.
        return hp.Choice("deferred_reweighting_epoch", self.deferred_epochs)

    def build(self, hp):
        model = self.build_model(hp)
        if not isinstance(model, WeightedModel):
            raise kt.errors.FatalTypeError(
                "`build_model(hp)` must return a WeightedModel. Received: "
                f"{type(model).__name__}. Build it with WeightedModel(inputs, outputs)."
            )
        if not model.compiled:
            raise kt.errors.FatalValueError("`build_model(hp)` must return a compiled WeightedModel (optimizer, loss, metrics).")
        if model.default_class_weight is not None:
            raise kt.errors.FatalValueError(
                f"`build_model(hp)` compiled class_weight={model.default_class_weight!r}, which "
                f"the weighting this WeightedHyperModel tunes would replace. {_FIXED_WEIGHTS_HINT}"
            )
        # Every hyperparameter is declared here, so the search space is whole from the start.
        method = self.method(hp)
        class_weight = self.class_weight(hp)
        self._deferred_epoch(hp)
        self.sampling_power(hp)
        family = self.loss_family(hp)
        if method == "loss":
            model = self._with_family_loss(model, family)
            class_weight = "balanced" if family == "ldam_drw" else None
        try:
            model.set_class_weight(class_weight)
        except ValueError as error:
            raise kt.errors.FatalValueError(str(error)) from error
        if model.built and not model.optimizer.built:
            # Keras Tuner reloads a trial's checkpoint into a freshly built
            # model: with its optimizer built, the optimizer's saved state is
            # restored too, instead of Keras warning that it skips it.
            model.optimizer.build(model.trainable_variables)
        return model

    def fit(self, hp, model, *args, callbacks=None, **kwargs):
        if kwargs.get("class_weight") is not None:
            raise kt.errors.FatalValueError(
                f"`search()` got class_weight={kwargs['class_weight']!r}, which would replace the "
                f"weighting this WeightedHyperModel tunes in every trial (trials would record one "
                f"weighting and train with another). {_FIXED_WEIGHTS_HINT}"
            )
        callbacks = list(callbacks or [])
        names = _objective_names(callbacks)
        validating = kwargs.get("validation_data") is not None or kwargs.get("validation_split")
        for name in names:
            if name.startswith("val_") and not validating:
                raise kt.errors.FatalValueError(
                    f"The objective {name!r} is scored on validation data, but `search()` got "
                    f"neither `validation_data` nor `validation_split`."
                )
        unverified = [n for n in names if n not in self._logged_objectives]
        if unverified:
            # A per-batch hook makes Keras read the logs back every batch, so
            # only the first fit of a search carries it.
            callbacks.append(_ObjectiveCheck(unverified, self._logged_objectives))
        method = self.method(hp)
        if method == "sampling":
            args, kwargs = self._sampled(hp, args, kwargs)
        elif method == "loss":
            if self.loss_family(hp) == "ldam_drw":
                start = int(self.deferred_fraction * kwargs.get("epochs", 1))
                callbacks.append(DeferredReweighting(start_epoch=start))
        else:
            start = self._deferred_epoch(hp)
            if start > 0 and self.class_weight(hp) is not None:
                callbacks.append(DeferredReweighting(start_epoch=start))
        return model.fit(*args, callbacks=callbacks, **kwargs)

    def _with_family_loss(self, model, family):
        """`model` compiled again with the loss family in place of its cross-entropy."""
        arguments = dict(model._compile_arguments)
        loss = arguments["loss"]
        sparse = isinstance(loss, keras.losses.SparseCategoricalCrossentropy)
        if not (
            isinstance(loss, (keras.losses.SparseCategoricalCrossentropy, keras.losses.CategoricalCrossentropy))
            and loss.get_config().get("from_logits")
        ):
            raise kt.errors.FatalValueError(
                "Searching loss families replaces the compiled loss, which must be "
                "`keras.losses.SparseCategoricalCrossentropy(from_logits=True)` or "
                f"`keras.losses.CategoricalCrossentropy(from_logits=True)`. Received: loss={loss!r}"
            )
        if family == "logit_adjusted":
            arguments["loss"] = LogitAdjustedCrossentropy(self.counts, tau=1.0, sparse=sparse)
        elif family == "balanced_softmax":
            arguments["loss"] = BalancedSoftmaxCrossentropy(self.counts, sparse=sparse)
        else:
            arguments["loss"] = LDAMLoss(self.counts, scale=self.ldam_scale, sparse=sparse)
        model.compile(**arguments)
        return model

    def _sampled(self, hp, args, kwargs):
        """`fit`'s arguments with `x`, `y` replaced by a `ClassBalancedSampler`."""
        kwargs = dict(kwargs)
        args = list(args)
        x = args.pop(0) if args else kwargs.pop("x", None)
        y = args.pop(0) if args else kwargs.pop("y", None)
        if y is None or not all(isinstance(a, np.ndarray) for a in keras.tree.flatten(x)):
            raise kt.errors.FatalValueError(
                "The sampling family draws batches from arrays: `search()` needs NumPy arrays "
                f"`x` and `y`. Received: x of type {type(x).__name__}, y of type {type(y).__name__}."
            )
        if args:
            raise kt.errors.FatalValueError(
                "The sampling family replaces `x` and `y` by a sampler: pass `fit`'s other arguments "
                f"to `search()` by keyword. Received {len(args)} more positional argument(s)."
            )
        if kwargs.get("validation_split"):
            raise kt.errors.FatalValueError(
                "The sampling family cannot split validation data off a sampler: pass "
                "`validation_data` to `search()` instead of `validation_split`."
            )
        try:
            sampler = ClassBalancedSampler(
                x,
                y,
                batch_size=kwargs.pop("batch_size", None) or 32,
                power=self.sampling_power(hp),
                sample_weight=kwargs.pop("sample_weight", None),
            )
        except ValueError as error:  # the same data fails every trial: stop the search
            raise kt.errors.FatalValueError(str(error)) from error
        kwargs.pop("shuffle", None)  # the sampler draws a new order every epoch
        return [sampler], kwargs


_FIXED_WEIGHTS_HINT = (
    "Choose the strategies it searches with `WeightedHyperModel(..., strategies=...)`; to train "
    "every trial with fixed class weights instead, compile them in `build_model` and pass "
    "`build_model` to the tuner directly (without WeightedHyperModel)."
)


def _objective_names(callbacks):
    """Names of the tuner's objective(s), read from its checkpoint callback."""
    names = []
    for callback in callbacks:
        goal = getattr(callback, "objective", None)
        if isinstance(goal, kt.Objective):
            goals = getattr(goal, "objectives", None) or [goal]
            # "default_objective": the value a custom `HyperModel.fit` returns.
            names += [o.name for o in goals if o.name != "default_objective"]
    return names


class _ObjectiveCheck(keras.callbacks.Callback):
    """Stops the search at the first batch when the model does not log the objective.

    Names found in the logs are added to `verified` (the hypermodel's), so
    later trials skip the check.
    """

    def __init__(self, names, verified):
        super().__init__()
        self.names = names
        self.verified = verified

    def on_train_batch_end(self, batch, logs=None):
        if batch != 0 or logs is None:
            return
        for name in self.names:
            if name.removeprefix("val_") not in logs:
                raise kt.errors.FatalValueError(
                    f"The objective {name!r} is not a metric this model logs: it logs "
                    f"{sorted(logs)}{' (with a val_ prefix on validation data)' if name.startswith('val_') else ''}. "
                    f"Compile the metric the objective names (e.g. "
                    f"`metrics=imbalance_metrics(num_classes)`) or choose one of these."
                )
        self.verified.update(self.names)


def load_best_model(tuner, path=None):
    """The best model of a search, as a compiled WeightedModel with its tuned weighting.

    Args:
        tuner: a tuner that searched a `WeightedHyperModel`.
        path: if given, the model is also saved there (`.keras`).

    Returns:
        The best `WeightedModel`; its `fit` retrains with the tuned class
        weights.
    """
    model = tuner.get_best_models(1)[0]
    if path is not None:
        model.save(path)
        model = keras.models.load_model(path)
    return model
