"""WeightedModel: class, sample and temporal weights inside the training step."""

import numpy as np

import keras
from keras import ops
from keras.src import backend as keras_backend
from keras.src.models.functional import Functional
from keras.src.models.model import Trainer as BackendTrainer
from keras.src.models.model import functional_init_arguments
from keras.src.losses.loss import unscale_loss_for_distribution
from keras.src.saving.serialization_lib import SerializableDict

from weighted_models.backends import step_class
from weighted_models.data import (
    DataSource,
    LabelChecker,
    checked_validation_data,
    label_errors_as_value_errors,
)
from weighted_models.outputs import (
    build_output_specs,
    flatten_by_output,
    flatten_predictions,
    pack_like,
    split_class_weight,
)
from weighted_models.strategies import (
    LabelCounts,
    check_strategy,
    is_strategy,
    table_from_strategy,
    table_from_weights,
)
from weighted_models.weighting import (
    REDUCTIONS,
    element_weights,
    loss_reduction,
    per_element_loss,
    reduce_weighted_loss,
)


class _ClassWeightTables(keras.metrics.Metric):
    """Holds the class-weight tables as variables of the model's metrics.

    The tables must be state of the step, not constants traced into it: a
    new `fit` or a schedule changes their values without a retrace. As
    metric variables they are part of the state every backend threads
    through its step (JAX's stateless step included) and never part of the
    model's weights. The holder reports nothing and `reset_state` keeps
    the tables.
    """

    def __init__(self):
        super().__init__(name="class_weight_tables")

    def table(self, shape, name):
        return self.add_variable(shape=shape, initializer="ones", dtype="float32",
                                 aggregation="only_first_replica", name=name)

    def update_state(self, *args, **kwargs):
        raise NotImplementedError("Class-weight tables are set with assign_class_weight_tables().")

    def reset_state(self):
        pass

    def result(self):
        return {}


class _WeightingState:
    """Weighting state of a model, kept out of Keras's automatic tracking.

    The class-weight tables live in variables (see `_ClassWeightTables`), so
    new weights (a new `fit`, a schedule) never retrace the step; they are
    not model weights.
    """

    def __init__(self):
        self.loss = None
        self.loss_weights = None
        self.class_weight = None
        self.label_mode = None
        self.reduction = "auto"
        self.validation_class_weight = False
        self.step_training = True
        self.reset()
        self.fit_tables = None

    def reset(self):
        self.data_key = None
        self.specs = None
        self.spec_key = None
        self.output_names = None
        self.trackers = {}
        self.train_tables = None
        self.eval_tables = None
        self.store = _ClassWeightTables()
        self.variables = {}

    def tables(self, which, values):
        """Assigns `values` (one NumPy table or None per output) to variables."""
        tables = []
        for spec, value in zip(self.specs, values):
            if value is None:
                tables.append(None)
                continue
            key = (which, spec.name, spec.table_shape)
            if key not in self.variables:
                self.variables[key] = self.store.table(spec.table_shape, f"{which}_{spec.name}")
            self.variables[key].assign(value)
            tables.append(self.variables[key])
        return tables


def _symbolic(value):
    if value is None:
        return None
    shape = tuple(getattr(value, "shape", np.shape(value)))
    dtype = getattr(value, "dtype", None)
    dtype = keras_backend.standardize_dtype(dtype if dtype is not None else "float32")
    return keras.KerasTensor((None,) + tuple(shape[1:]), dtype=dtype)


def _inject_functional(cls):
    """Puts FunctionalWeightedModel under a subclass built with inputs/outputs.

    Keras's own injection rewrites the bases of every class up to `Model`,
    which would turn WeightedModel itself functional; this stops there.
    """
    if cls is WeightedModel:
        return FunctionalWeightedModel
    if cls is object or not issubclass(cls, WeightedModel):
        return cls
    cls.__bases__ = tuple(_inject_functional(base) for base in cls.__bases__)
    return cls


def _unwrap_model(args, kwargs):
    """`WeightedModel(model)` -> the model's inputs and outputs."""
    model = None
    if len(args) == 1 and isinstance(args[0], keras.Model) and not kwargs.get("outputs"):
        model, args = args[0], ()
    elif "model" in kwargs:
        kwargs = dict(kwargs)
        model = kwargs.pop("model")
    if model is None:
        return args, kwargs
    if not isinstance(model, keras.Model):
        raise TypeError(f"Expected a keras.Model to wrap. Received: {type(model).__name__}")
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        inputs = outputs = None
    if not inputs or not outputs:
        raise TypeError(
            "WeightedModel(model) wraps a built functional or Sequential "
            f"model. '{model.name}' has no symbolic inputs/outputs (is it "
            "subclassed, or an unbuilt Sequential?). Subclass WeightedModel "
            "instead, or build the Sequential model with an Input."
        )
    kwargs = dict(kwargs)
    kwargs.setdefault("name", model.name)
    inputs = inputs[0] if len(inputs) == 1 else inputs
    outputs = outputs[0] if len(outputs) == 1 else outputs
    return (), dict(kwargs, inputs=inputs, outputs=outputs)


def _restore_int_keys(value, output_names):
    """JSON turns integer class keys into strings; turn them back."""
    if isinstance(value, dict):
        restored = {}
        for key, item in value.items():
            if isinstance(key, str) and key.lstrip("-").isdigit() and key not in output_names:
                key = int(key)
            restored[key] = _restore_int_keys(item, output_names)
        return restored
    if isinstance(value, list):
        return [_restore_int_keys(v, output_names) for v in value]
    return value


@keras.saving.register_keras_serializable(package="weighted_models")
class WeightedModel(step_class(), keras.Model):
    """A `keras.Model` that applies class, sample and temporal weights in its step.

    Build it like any Keras model: functionally (`WeightedModel(inputs,
    outputs)`), by subclassing (`class Net(WeightedModel)` with a `call`), or
    by wrapping a built functional/Sequential model (`WeightedModel(model)`,
    which shares its layers). Then `compile`, `fit` and `evaluate` take the
    Keras arguments plus:

    - `class_weight` for any number of outputs: a dict `{class: weight}` or
      a list of weights (single output), per-output dicts or lists keyed by
      output name or in output order, or the strategy `"balanced"` computed
      from the training labels. Classes missing from a dict weigh 1.0.
    - `sample_weight` of shape `(N,)` or `(N, T)`, or per output; class and
      sample weights multiply.
    - label modes `sparse`, `categorical` (one-hot or soft: expected weight),
      `binary` and `multilabel` (per-label negative/positive weights applied
      before the label axis is averaged), each also temporal; detected from
      the loss and static shapes, overridable with `label_mode`.

    Class weights are looked up in the step from `y` (no per-sample weight
    array is built), for arrays, tensors, `tf.data`, `PyDataset` and Python
    generators alike. Labels and weights are checked on the host before they
    reach the step, so a label outside an output's classes raises the same
    `ValueError` on CPU, GPU and under XLA.

    Example:

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(64, 8)).astype("float32")
    >>> y_a = np.arange(64) % 3
    >>> y_b = (np.arange(64) % 8 == 0).astype("float32")[:, None]
    >>> inputs = keras.Input((8,))
    >>> h = keras.layers.Dense(16, activation="relu")(inputs)
    >>> a = keras.layers.Dense(3, activation="softmax", name="a")(h)
    >>> b = keras.layers.Dense(1, activation="sigmoid", name="b")(h)
    >>> model = WeightedModel(inputs, [a, b])
    >>> model.compile("adam", loss={"a": "sparse_categorical_crossentropy",
    ...                             "b": "binary_crossentropy"})
    >>> history = model.fit(x, {"a": y_a, "b": y_b}, verbose=0,
    ...                     class_weight={"a": "balanced", "b": {0: 1.0, 1: 7.0}})
    >>> sorted(history.history)
    ['a_loss', 'b_loss', 'loss']
    """

    def __new__(cls, *args, **kwargs):
        if cls is WeightedModel:
            args, kwargs = _unwrap_model(args, kwargs)
            if functional_init_arguments(args, kwargs):
                return keras.Model.__new__(FunctionalWeightedModel, *args, **kwargs)
        return keras.Model.__new__(cls, *args, **kwargs)

    def __init__(self, *args, **kwargs):
        args, kwargs = _unwrap_model(args, kwargs)
        if functional_init_arguments(args, kwargs):
            if not isinstance(self, Functional):
                _inject_functional(type(self))
            BackendTrainer.__init__(self)
            Functional.__init__(self, *args, **kwargs)
        else:
            keras.Model.__init__(self, *args, **kwargs)
        self._weighting = _WeightingState()

    # ------------------------------------------------------------------ compile

    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        loss_weights=None,
        metrics=None,
        weighted_metrics=None,
        run_eagerly=False,
        steps_per_execution=1,
        jit_compile="auto",
        auto_scale_loss=True,
        *,
        class_weight=None,
        label_mode=None,
        reduction="auto",
        validation_class_weight=False,
    ):
        """Configures the model for training, as `keras.Model.compile`, plus weighting.

        Args:
            optimizer, loss, loss_weights, metrics, weighted_metrics,
            run_eagerly, steps_per_execution, jit_compile, auto_scale_loss:
                as in `keras.Model.compile`. `loss` and `loss_weights` may be
                one value, a list in output order or a dict by output name.
            class_weight: class weights used by every `fit` that does not pass
                its own (same forms as `fit`'s `class_weight`). Saved with the
                model.
            label_mode: per-output label modes (`"sparse"`, `"categorical"`,
                `"binary"`, `"multilabel"`), overriding detection from the
                loss and shapes; required for class weights with custom losses.
            reduction: `"auto"` (default: each loss's own Keras reduction,
                `sum(w * l) / size(l)` for `"sum_over_batch_size"`, so losses
                and gradients equal built-in `fit` with the equivalent sample
                weights), or `"weighted_mean"` (`sum(w * l) / sum(w)`, `w`
                broadcast to the loss shape first), `"sum_over_batch_size"`
                or `"sum"` for every output.
            validation_class_weight: apply the training class weights to the
                validation loss and weighted metrics too, so that `loss` and
                `val_loss` are comparable (Keras never does).

        Raises:
            ValueError: an unknown reduction or strategy name.
            TypeError: a non-boolean `validation_class_weight`.
        """
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"Expected `reduction` to be one of {REDUCTIONS}. Received: reduction={reduction!r}"
            )
        if not isinstance(validation_class_weight, bool):
            raise TypeError(
                "Expected `validation_class_weight` to be a bool. Received: "
                f"validation_class_weight={validation_class_weight!r}"
            )
        if is_strategy(class_weight):
            check_strategy(class_weight, "all outputs")
        super().compile(
            optimizer=optimizer,
            loss=None,
            metrics=metrics,
            weighted_metrics=weighted_metrics,
            run_eagerly=run_eagerly,
            steps_per_execution=steps_per_execution,
            jit_compile=jit_compile,
            auto_scale_loss=auto_scale_loss,
        )
        self.loss = loss
        config = dict(self._compile_config.config)
        config.update(
            loss=loss,
            loss_weights=loss_weights,
            class_weight=class_weight,
            label_mode=label_mode,
            reduction=reduction,
            validation_class_weight=validation_class_weight,
        )
        self._compile_config = SerializableDict(**config)
        state = self._weighting
        state.reset()
        state.fit_tables = None
        state.loss, state.loss_weights = loss, loss_weights
        state.class_weight, state.label_mode = class_weight, label_mode
        state.reduction, state.validation_class_weight = reduction, validation_class_weight

    def get_compile_config(self):
        config = super().get_compile_config()
        if config and self._weighting.fit_tables is not None:
            config["fitted_class_weight"] = [
                None if t is None else np.asarray(t).tolist() for t in self._weighting.fit_tables
            ]
        return config

    def compile_from_config(self, config):
        config = keras.saving.deserialize_keras_object(config)
        fitted = config.pop("fitted_class_weight", None)
        names = list(getattr(self, "output_names", None) or [])
        config["class_weight"] = _restore_int_keys(config.get("class_weight"), names)
        self.compile(**config)
        if fitted is not None:
            self._weighting.fit_tables = [
                None if t is None else np.asarray(t, "float32") for t in fitted
            ]
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.trainable_variables)

    # ------------------------------------------------------------ output specs

    def _output_names_for(self, y_pred):
        names = getattr(self, "output_names", None)
        if isinstance(y_pred, dict):
            return list(names) if names and set(names) == set(y_pred) else list(y_pred)
        flat = flatten_predictions(y_pred, None)
        if names and len(names) == len(flat):
            return list(names)
        found = []
        for i, tensor in enumerate(flat):
            history = getattr(tensor, "_keras_history", None)
            found.append(history.operation.name if history else f"output_{i}")
        return found if len(set(found)) == len(found) else [f"output_{i}" for i in range(len(flat))]

    def _specs_for(self, y, y_pred):
        """The specs built at the door (or now, for a step run outside fit)."""
        if self._weighting.specs is None:
            self._build_specs(y, y_pred)
        return self._weighting.specs

    def _build_specs(self, y, y_pred):
        state = self._weighting
        names = self._output_names_for(y_pred)
        flat_y = flatten_by_output(y, names, what="y")
        key = (tuple(names), tuple(None if t is None else tuple(t.shape[1:]) for t in flat_y))
        if state.spec_key == key:
            return state.specs
        specs = build_output_specs(
            names, y, y_pred,
            loss=state.loss, loss_weights=state.loss_weights, label_mode=state.label_mode,
        )
        if state.output_names != names:
            with_loss = [s.name for s in specs if s.loss is not None]
            state.trackers = (
                {n: keras.metrics.Mean(name=f"{n}_loss") for n in with_loss}
                if len(with_loss) > 1 else {}
            )
        state.specs, state.spec_key, state.output_names = specs, key, names
        state.train_tables = state.eval_tables = None
        return specs

    def _prepare(self, source):
        """Builds the output specs from a batch of `source`; returns a checker."""
        state = self._weighting
        x, y, sw = source.spec_batch()
        x_sym, y_sym, sw_sym = keras.tree.map_structure(_symbolic, (x, y, sw))
        # Same input, label and sample-weight signature as last time: the specs
        # still hold, and a symbolic pass through the model (milliseconds) is
        # saved.
        data_key = repr(keras.tree.map_structure(
            lambda t: None if t is None else (t.shape, t.dtype), (x_sym, y_sym, sw_sym)
        ))
        if state.specs is None or state.data_key != data_key:
            y_pred = keras_backend.compute_output_spec(self, x_sym, training=False)
            self._build_specs(y_sym, y_pred)
            if state.data_key is not None:
                # A new signature: trace anew rather than let the traced step
                # relax to shapes of unknown rank, which the weighting needs.
                self.train_function = self.test_function = None
            state.data_key = data_key
        return LabelChecker(state.specs)

    def _resolve_tables(self, class_weight, source, checker, validation_split=0.0):
        """One NumPy table (or None) per output for a `class_weight` argument."""
        state = self._weighting
        per_output = split_class_weight(class_weight, state.output_names)
        tables = [None] * len(state.specs)
        counters = {}
        for i, (spec, value) in enumerate(zip(state.specs, per_output)):
            if value is None:
                continue
            if spec.label_mode is None:
                loss_name = getattr(spec.loss, "name", None)
                raise ValueError(
                    f"Output '{spec.name}': class weights need to know how labels "
                    f"map to classes, and loss {loss_name!r} does not say. Pass "
                    f"label_mode={{'{spec.name}': 'sparse' | 'categorical' | "
                    f"'binary' | 'multilabel'}} to compile()."
                )
            if is_strategy(value):
                check_strategy(value, spec.name)
                counters[i] = LabelCounts(spec.label_mode, spec.num_classes, name=spec.name)
            else:
                tables[i] = table_from_weights(value, spec)
        if counters:
            for y, sw in source.label_batches(validation_split):
                checker(y, sw)
                labels, weights = checker.flatten(y, sw)
                for i, counter in counters.items():
                    counter.update(labels[i], weights[i])
            for i, counter in counters.items():
                tables[i] = table_from_strategy(per_output[i], counter.counts, state.specs[i])
        return tables

    def _set_tables(self, train=None, evaluation=None):
        state = self._weighting
        before = (
            None if state.train_tables is None else [t is None for t in state.train_tables],
            None if state.eval_tables is None else [t is None for t in state.eval_tables],
        )
        n = len(state.specs)
        state.train_tables = state.tables("train", train or [None] * n)
        state.eval_tables = state.tables("eval", evaluation or [None] * n)
        after = ([t is None for t in state.train_tables], [t is None for t in state.eval_tables])
        if before != after:
            # Which outputs carry tables is part of the traced step: retrace.
            self.train_function = None
            self.test_function = None

    # ------------------------------------------------- class-weight tables

    @property
    def default_class_weight(self):
        """The class weights every `fit` uses unless it passes its own (see `compile`)."""
        return self._weighting.class_weight

    def set_class_weight(self, class_weight):
        """Sets the model's default class weights, as `compile(class_weight=...)` does.

        The value is saved with the model and used by every `fit` that does
        not pass its own; Keras Tuner integration sets the tuned weighting
        this way.

        Args:
            class_weight: any form `fit` accepts, or `None`.

        Raises:
            ValueError: an unknown strategy name.
        """
        if not self.compiled:
            raise ValueError("Call `compile()` before `set_class_weight()`.")
        if is_strategy(class_weight):
            check_strategy(class_weight, "all outputs")
        self._weighting.class_weight = class_weight
        self._compile_config.config["class_weight"] = class_weight


    @property
    def class_weight_tables(self):
        """The class-weight tables of the last `fit`, one per output, or `None`.

        A list in output order of NumPy tables (see `weighted_models.strategies`
        for their shapes), `None` for outputs trained without class weights.
        """
        tables = self._weighting.fit_tables
        return None if tables is None else [None if t is None else np.array(t) for t in tables]

    def assign_class_weight_tables(self, tables):
        """Sets the class weights in force for training, without retracing the step.

        Callbacks use it to change class weights during `fit` (see
        `weighted_models.callbacks.ClassWeightScheduler`). Only the values
        change: outputs that started `fit` without class weights cannot gain
        them (that would change the traced step), and shapes must match.

        Args:
            tables: one table per output (a list in output order or a dict by
                output name); `None` entries keep an output as it is.

        Raises:
            ValueError: before any `fit`, for an output that has no class
                weights in this `fit`, or a table of the wrong shape.
        """
        state = self._weighting
        if state.train_tables is None:
            raise ValueError("Class-weight tables exist once `fit` has started.")
        for spec, variable, value in zip(
            state.specs, state.train_tables,
            flatten_by_output(tables, state.output_names, what="tables"),
        ):
            if value is None:
                continue
            if variable is None:
                raise ValueError(
                    f"Output '{spec.name}' has no class weights in this fit, so "
                    f"they cannot be scheduled. Give it class weights in `fit` or "
                    f"`compile` (a schedule then moves them from uniform)."
                )
            value = np.asarray(value, dtype="float32")
            if value.shape != spec.table_shape or not np.all(np.isfinite(value)) or np.any(value < 0):
                raise ValueError(
                    f"Output '{spec.name}': expected a table of shape "
                    f"{spec.table_shape} with finite weights >= 0. Received "
                    f"shape {value.shape}: {value.ravel()[:5].tolist()}."
                )
            variable.assign(value)

    # ------------------------------------------------------ in-step helpers

    def compute_sample_weight(self, y, y_pred, sample_weight=None, training=True):
        """Per-output weights for a batch: class weights times sample weights.

        Call it in a custom `train_step` to weight the loss the way
        WeightedModel does. Class weights come from the tables of the running
        `fit` (when `training`) or of validation/`evaluate` (otherwise).

        Args:
            y: labels of the batch (one array, a list or a dict by output).
            y_pred: the model's predictions for the batch.
            sample_weight: the batch's sample weights (`(B,)`, `(B, T)`, or
                per output), or `None`.
            training: whether the weights are for training.

        Returns:
            Weights in the structure of `y_pred`: for each output a tensor of
            the shape of its per-element losses, or `None` where no weights
            apply.

        Raises:
            ValueError: sample weights that do not fit an output.
        """
        state = self._weighting
        specs = self._specs_for(y, y_pred)
        names = state.output_names
        tables = state.train_tables if training else state.eval_tables
        tables = tables or [None] * len(specs)
        labels = flatten_by_output(y, names, what="y")
        preds = flatten_predictions(y_pred, names)
        weights = flatten_by_output(sample_weight, names, what="sample_weight", broadcast=True)
        out = []
        for spec, y_t, y_p, sw, table in zip(specs, labels, preds, weights, tables):
            if y_t is None or (table is None and sw is None):
                out.append(None)
                continue
            dtype = spec.loss.dtype if spec.loss is not None else "float32"
            out.append(
                element_weights(
                    y_t, table=table, sample_weight=sw, label_mode=spec.label_mode,
                    pred_rank=spec.pred_rank, weight_shape=spec.weight_shape(y_p.shape),
                    name=spec.name, dtype=dtype,
                )
            )
        return pack_like(out, y_pred, names)

    def compute_weighted_loss(self, y, y_pred, sample_weight=None):
        """The total weighted loss of a batch, regularisation losses included.

        Also updates the per-output loss trackers (`<output>_loss` logs),
        weighted by the dynamic batch size so that a partial last batch
        counts for what it holds.

        Args:
            y: labels of the batch.
            y_pred: the model's predictions.
            sample_weight: per-element weights as returned by
                `compute_sample_weight`, or `None`.

        Returns:
            A scalar tensor.

        Raises:
            ValueError: when there is no loss to compute.
        """
        state = self._weighting
        specs = self._specs_for(y, y_pred)
        names = state.output_names
        labels = flatten_by_output(y, names, what="y")
        preds = flatten_predictions(y_pred, names)
        weights = flatten_by_output(sample_weight, names, what="sample_weight", broadcast=True)
        losses = []
        for spec, y_t, y_p, w in zip(specs, labels, preds, weights):
            if spec.loss is None:
                continue
            values, mask = per_element_loss(spec.loss, y_t, y_p, label_mode=spec.label_mode)
            value = reduce_weighted_loss(
                values, w, mask, reduction=loss_reduction(spec.loss, state.reduction)
            )
            tracker = state.trackers.get(spec.name)
            if tracker is not None:
                tracker.update_state(
                    unscale_loss_for_distribution(value), sample_weight=ops.shape(y_p)[0]
                )
            if spec.loss_weight is not None:
                value = value * spec.loss_weight
            losses.append(value)
        total = [sum(losses[1:], losses[0])] if losses else []
        total += [self._aggregate_additional_loss(loss) for loss in self.losses]
        if not total:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        return total[0] if len(total) == 1 else ops.sum(total)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras's `compute_loss`, weighted: `compute_weighted_loss` of `compute_sample_weight`."""
        del x
        # Keras's JAX and PyTorch steps then call `compute_metrics` with the raw
        # sample weights; it needs to know which tables this step uses.
        self._weighting.step_training = training
        weights = self.compute_sample_weight(y, y_pred, sample_weight, training=training)
        return self.compute_weighted_loss(y, y_pred, weights)

    def metric_sample_weight(self, sample_weight):
        """Per-output weights for `weighted_metrics`, from `compute_sample_weight`.

        Metrics score one value per sample (or timestep), so the per-label
        weights of `multilabel` outputs are averaged over the label axis.
        """
        state = self._weighting
        names = state.output_names
        flat = flatten_by_output(sample_weight, names, what="sample_weight", broadcast=True)
        if all(w is None for w in flat):
            return None
        out = []
        for spec, w in zip(state.specs, flat):
            if w is not None and spec.label_mode == "multilabel":
                w = ops.mean(w, axis=-1)
            out.append(w)
        return pack_like(out, sample_weight, names)

    @property
    def metrics(self):
        metrics = super().metrics
        state = getattr(self, "_weighting", None)
        if state is None:
            return metrics
        # Keras's order: loss, compiled metrics, per-output losses, the rest.
        at = 1 + (self._compile_metrics is not None) if self.compiled else 0
        ours = list(state.trackers.values()) + ([state.store] if state.variables else [])
        return metrics[:at] + ours + metrics[at:]

    # ------------------------------------------------------------ front door

    def _class_weight_or_default(self, class_weight):
        return self._weighting.class_weight if class_weight is None else class_weight

    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch=0,
        steps_per_epoch=None,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
    ):
        """Trains the model, as `keras.Model.fit`, with weights applied in the step.

        Args:
            class_weight: `None` (the `compile` class weights, if any), a dict
                `{class: weight}`, a list of weights, a strategy name such as
                `"balanced"` (computed from the training labels, after
                `validation_split`), or per-output values in a dict keyed by
                output name or a list in output order. Works with every data
                source and together with `sample_weight` (they multiply).
            sample_weight: `(N,)`, `(N, T)` or per-output sample weights, for
                array inputs (other sources yield them as the third element).
            Other arguments: as in `keras.Model.fit`.

        Returns:
            A `History` object.

        Raises:
            ValueError: labels outside an output's classes, negative or
                non-finite weights, class-weight keys beyond an output's
                classes, unknown output names, sample weights that do not fit,
                a strategy that cannot see the labels.
        """
        self._assert_compile_called("fit")
        source = DataSource(x, y, sample_weight)
        if validation_split and source.kind != "arrays":
            raise ValueError(
                "`validation_split` is only supported for array inputs. "
                f"Received x of type {type(x).__name__}."
            )
        checker = self._prepare(source)
        x, y, sample_weight = source.checked(checker)
        tables = self._resolve_tables(
            self._class_weight_or_default(class_weight), source, checker, validation_split
        )
        self._weighting.fit_tables = tables
        self._set_tables(
            train=tables, evaluation=tables if self._weighting.validation_class_weight else None
        )
        validation_data = checked_validation_data(validation_data, checker)
        with label_errors_as_value_errors():
            return super().fit(
                x=x, y=y, batch_size=batch_size, epochs=epochs, verbose=verbose,
                callbacks=callbacks, validation_split=validation_split,
                validation_data=validation_data, shuffle=shuffle,
                sample_weight=sample_weight, initial_epoch=initial_epoch,
                steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
                validation_batch_size=validation_batch_size, validation_freq=validation_freq,
            )

    def _eval_tables_for(self, class_weight, source, checker):
        state = self._weighting
        if class_weight is not None:
            return self._resolve_tables(class_weight, source, checker)
        if not state.validation_class_weight:
            return None
        if state.fit_tables is not None and len(state.fit_tables) == len(state.specs):
            return state.fit_tables
        return self._resolve_tables(state.class_weight, source, checker)

    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        steps=None,
        callbacks=None,
        return_dict=False,
        class_weight=None,
        **kwargs,
    ):
        """Evaluates the model, as `keras.Model.evaluate`, optionally class-weighted.

        Args:
            class_weight: class weights for this evaluation (same forms as in
                `fit`; strategies are computed from the labels given here).
                When `None`, class weights apply only if the model was
                compiled with `validation_class_weight=True`: those of the
                last `fit` (or of `compile`).
            Other arguments: as in `keras.Model.evaluate`.

        Returns:
            As `keras.Model.evaluate`.

        Raises:
            ValueError: as in `fit`.
        """
        if kwargs.get("_use_cached_eval_dataset"):
            # The validation pass of `fit`: data and tables were set by `fit`.
            return super().evaluate(
                x=x, y=y, batch_size=batch_size, verbose=verbose,
                sample_weight=sample_weight, steps=steps, callbacks=callbacks,
                return_dict=return_dict, **kwargs,
            )
        self._assert_compile_called("evaluate")
        source = DataSource(x, y, sample_weight)
        checker = self._prepare(source)
        x, y, sample_weight = source.checked(checker)
        self._set_tables(
            train=self._weighting.fit_tables,
            evaluation=self._eval_tables_for(class_weight, source, checker),
        )
        with label_errors_as_value_errors():
            return super().evaluate(
                x=x, y=y, batch_size=batch_size, verbose=verbose,
                sample_weight=sample_weight, steps=steps, callbacks=callbacks,
                return_dict=return_dict, **kwargs,
            )

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """As `keras.Model.train_on_batch`, with weights applied in the step."""
        self._assert_compile_called("train_on_batch")
        source = DataSource(x, y, sample_weight)
        checker = self._prepare(source)
        x, y, sample_weight = source.checked(checker)
        tables = self._resolve_tables(self._class_weight_or_default(class_weight), source, checker)
        self._weighting.fit_tables = tables
        self._set_tables(
            train=tables, evaluation=tables if self._weighting.validation_class_weight else None
        )
        return super().train_on_batch(x, y, sample_weight=sample_weight, return_dict=return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """As `keras.Model.test_on_batch`, optionally class-weighted (see `evaluate`)."""
        self._assert_compile_called("test_on_batch")
        source = DataSource(x, y, sample_weight)
        checker = self._prepare(source)
        x, y, sample_weight = source.checked(checker)
        self._set_tables(
            train=self._weighting.fit_tables,
            evaluation=self._eval_tables_for(class_weight, source, checker),
        )
        return super().test_on_batch(x, y, sample_weight=sample_weight, return_dict=return_dict)


@keras.saving.register_keras_serializable(package="weighted_models")
class FunctionalWeightedModel(WeightedModel, Functional):
    """A WeightedModel built from inputs and outputs (what `WeightedModel(inputs, outputs)` returns)."""
