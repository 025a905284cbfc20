"""WeightedModel: class, sample and temporal weights inside the training step."""

import contextlib
import types

import keras
import numpy as np

from weighted_models.backends import step_class
from weighted_models.compile_loss import WeightedCompileLoss
from weighted_models.data import (
    DataSource,
    InvalidLabelsError,
    LabelChecker,
    checked_validation_data,
    label_errors_as_value_errors,
)
from weighted_models.keras_internals import (
    Functional,
    Trainer,
    compute_output_spec,
    functional_init_arguments,
)
from weighted_models.outputs import check_output_keys, split_class_weight
from weighted_models.strategies import (
    LabelCounts,
    check_strategy,
    is_strategy,
    table_from_strategy,
    table_from_weights,
)
from weighted_models.weighting import REDUCTIONS


def _symbolic(value):
    if value is None:
        return None
    shape = tuple(getattr(value, "shape", np.shape(value)))
    dtype = getattr(value, "dtype", None)
    dtype = keras.backend.standardize_dtype(dtype if dtype is not None else "float32")
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

    Examples:
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
            Trainer.__init__(self)
            Functional.__init__(self, *args, **kwargs)
        else:
            keras.Model.__init__(self, *args, **kwargs)
        self._weighting_options = dict(_DEFAULT_OPTIONS)
        self._fit_tables = None
        self._data_key = None

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
        batch_checks=True,
    ):
        """Configures the model for training, as `keras.Model.compile`, plus weighting.

        The loss is Keras's own `CompileLoss` (`WeightedCompileLoss`
        subclasses it), so every loss structure Keras takes works the same.

        `optimizer`, `loss`, `loss_weights`, `metrics`, `weighted_metrics`,
        `run_eagerly`, `steps_per_execution`, `jit_compile` and
        `auto_scale_loss` are as in `keras.Model.compile`.

        Args:
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
            batch_checks: check the labels and sample weights of every
                streamed batch (`tf.data`, PyDataset, generators, DataLoader)
                before it is trained on (default). `False` is for trusted
                data: it saves the check's cost per step (about 3% of a small
                MLP's TensorFlow step on CPU) and loses the refusal of bad
                streamed batches: an out-of-range label then fails inside the
                loss with Keras's own error on CPU, or, on GPU and under XLA,
                is looked up as class 0 or a clamped class and trains silently;
                a negative or non-finite sample weight trains silently. Arrays
                are checked once when `fit` starts either way.

        Raises:
            ValueError: an unknown reduction or strategy name, or class
                weights without a loss.
            TypeError: a non-boolean `validation_class_weight` or `batch_checks`.
        """
        if reduction not in REDUCTIONS:
            raise ValueError(f"Expected `reduction` to be one of {REDUCTIONS}. Received: reduction={reduction!r}")
        if not isinstance(validation_class_weight, bool):
            raise TypeError(
                f"Expected `validation_class_weight` to be a bool. Received: validation_class_weight={validation_class_weight!r}"
            )
        if not isinstance(batch_checks, bool):
            raise TypeError(f"Expected `batch_checks` to be a bool. Received: batch_checks={batch_checks!r}")
        if is_strategy(class_weight):
            check_strategy(class_weight, "all outputs")
        keras_arguments = dict(
            optimizer=optimizer,
            loss=loss,
            loss_weights=loss_weights,
            metrics=metrics,
            weighted_metrics=weighted_metrics,
            run_eagerly=run_eagerly,
            steps_per_execution=steps_per_execution,
            jit_compile=jit_compile,
            auto_scale_loss=auto_scale_loss,
        )
        super().compile(**keras_arguments)
        if loss is not None:
            self._compile_loss = WeightedCompileLoss(
                loss,
                loss_weights,
                output_names=self._compile_loss.output_names,
                label_mode=label_mode,
                reduction=reduction,
            )
        self._weighting_options = dict(
            class_weight=class_weight,
            label_mode=label_mode,
            reduction=reduction,
            validation_class_weight=validation_class_weight,
            batch_checks=batch_checks,
        )
        # The arguments as given, so that a compiled model can be compiled
        # again with one of them changed (WeightedHyperModel's loss search).
        # A read-only mapping, not a dict: Keras would track the metrics in a
        # dict attribute as the model's own and log them after a recompile.
        self._compile_arguments = types.MappingProxyType({**keras_arguments, **self._weighting_options})
        self._fit_tables = None
        self._data_key = None

    def get_compile_config(self):
        config = super().get_compile_config()
        if config:
            config.update(keras.saving.serialize_keras_object(self._weighting_options))
            if self._fit_tables is not None:
                config["fitted_class_weight"] = [None if t is None else np.asarray(t).tolist() for t in self._fit_tables]
        return config

    def compile_from_config(self, config):
        config = keras.saving.deserialize_keras_object(config)
        fitted = config.pop("fitted_class_weight", None)
        names = list(getattr(self, "output_names", None) or [])
        config["class_weight"] = _restore_int_keys(config.get("class_weight"), names)
        self.compile(**config)
        if fitted is not None:
            self._fit_tables = [None if t is None else np.asarray(t, "float32") for t in fitted]
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.trainable_variables)

    @property
    def _weighted_loss(self):
        loss = getattr(self, "_compile_loss", None)
        return loss if isinstance(loss, WeightedCompileLoss) else None

    # ---------------------------------------------------------- the step hooks

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras's `compute_loss`, with class and sample weights per output.

        The compiled loss (`WeightedCompileLoss`, Keras's `CompileLoss`)
        routes every loss to its output as Keras does; each output's loss is
        multiplied element by element by its class weights (from `y` and the
        tables of the running `fit`, or of evaluation when not `training`)
        times its sample weights. Override it as in Keras: a subclass that
        calls `super().compute_loss(...)` gets the weighted loss.

        Args:
            x: as in `keras.Model.compute_loss`.
            y: as in `keras.Model.compute_loss`.
            y_pred: as in `keras.Model.compute_loss`.
            sample_weight: as in `keras.Model.compute_loss`.
            training: as in `keras.Model.compute_loss`.

        Returns:
            The total loss as a scalar tensor, regularisation losses included.
        """
        loss = self._weighted_loss
        if loss is None:
            return super().compute_loss(x, y, y_pred, sample_weight, training=training)
        with loss.step(y, y_pred, sample_weight, training):
            return super().compute_loss(x, y, y_pred, sample_weight, training=training)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Keras's `compute_metrics`, with `weighted_metrics` weighted as the loss.

        The per-output weights that `compute_loss` applied in this step are
        reused (computed once per step); outputs without class or sample
        weights are scored as Keras scores them.
        """
        loss = self._weighted_loss
        if loss is not None:
            sample_weight = loss.metric_sample_weight(y, y_pred, sample_weight)
        return super().compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def compute_sample_weight(self, y, y_pred, sample_weight=None, training=True):
        """Per-output weights for a batch: class weights times sample weights.

        The weights `compute_loss` applies, for a custom `train_step` that
        wants to see or log them (the loss itself comes from
        `self.compute_loss`, the metrics from `self.compute_metrics`).

        Args:
            y: labels of the batch.
            y_pred: the model's predictions for the batch.
            sample_weight: the batch's sample weights, or `None`.
            training: whether the weights are for training (else evaluation).

        Returns:
            Weights in the structure of `y_pred`: per output a tensor of the
            shape of its per-element losses, or `None` where no weights apply.

        Raises:
            ValueError: before the model has seen data in `fit`/`evaluate`.
        """
        loss = self._weighted_loss
        if loss is None or loss.routes is None:
            raise ValueError(
                "compute_sample_weight() needs the routes of the compiled loss, "
                "which `fit`, `evaluate` or `train_on_batch` set from the data."
            )
        return loss.element_weights_for(y, y_pred, sample_weight, training=training)

    @property
    def metrics(self):
        metrics = super().metrics
        loss = self._weighted_loss
        if loss is not None and loss.has_tables:
            metrics = metrics + [loss.table_store]
        return metrics

    # ---------------------------------------------------------------- routing

    def _route(self, source):
        """Routes a data source's labels to the compiled losses; returns a checker.

        A symbolic pass of `compute_loss` over a batch's shapes (overrides
        included) builds Keras's `CompileLoss` and records, for every loss,
        which labels, predictions and sample weights reach it.
        """
        loss = self._weighted_loss
        x, y, sw = source.spec_batch()
        if loss is None or y is None:
            return None
        x, y, sw = keras.tree.map_structure(_symbolic, (x, y, sw))
        data_key = repr(keras.tree.map_structure(lambda t: None if t is None else (t.shape, t.dtype), (x, y, sw)))
        if loss.routes is not None and data_key == self._data_key:
            return LabelChecker(loss.specs, loss.routes)

        recorded = []

        def probe(x, y, sample_weight):
            y_pred = self(x, training=False) if self._call_has_training_arg else self(x)
            with loss.recording(y, y_pred, sample_weight) as recording:
                value = self._compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False)
            recorded.append(recording)
            return keras.ops.zeros(()) if value is None else value

        compute_output_spec(probe, x, y, sw)
        recording = recorded[-1]
        changed = loss.set_routes(recording)
        if changed or (self._data_key is not None and data_key != self._data_key):
            # A new signature: trace anew rather than let the traced step
            # relax to shapes of unknown rank, which the weighting needs.
            self.train_function = self.test_function = None
        self._data_key = data_key
        return LabelChecker(loss.specs, loss.routes)

    def _check_dataset(self, dataset, checker):
        """Places the check of a tf.data source's batches; returns the dataset to fit.

        - TensorFlow: graph ops at the start of the step, or, when the step
          is XLA-compiled (XLA drops failures), in the TensorFlow function
          around it (`backends/tensorflow.py`); the pipeline is left as it is.
        - JAX and PyTorch: NumPy on the batch Keras has just converted in
          Python, before the step function runs (`backends/host_checks.py`).

        Each catches a bad batch before anything is computed from it.
        """
        if keras.backend.backend() == "tensorflow":
            self._step_checker = checker
            return dataset
        self._host_checker = checker
        return dataset

    def _batch_checker(self, source, checker):
        """The checker for `source`'s data: arrays always; streamed batches unless `batch_checks=False`."""
        return checker if source.kind == "arrays" or self._weighting_options["batch_checks"] else None

    def _sync_step_checks(self):
        # The TensorFlow step checks batches only for tf.data sources (others
        # are checked on the host): trace anew when that changes.
        wanted = getattr(self, "_step_checker", None) is not None
        if getattr(self, "_step_checks_traced", None) != wanted:
            self.train_function = self.test_function = None
            self._step_checks_traced = wanted

    @contextlib.contextmanager
    def _checking_call(self):
        """Scope of one fit/evaluate: the checks its admission places end with it."""
        self._host_checker = self._step_checker = None
        try:
            with label_errors_as_value_errors():
                yield
        finally:
            self._host_checker = None

    def _admit(self, x, y, sample_weight, *, class_weight, training, validation_split=0.0):
        """The door of fit/evaluate/train_on_batch/test_on_batch.

        Routes and checks the data, resolves the class-weight tables and sets
        them for this call. Returns `(x, y, sample_weight, checker)` with the
        data wrapped for checking where it streams.
        """
        source = DataSource(x, y, sample_weight)
        if validation_split and source.kind != "arrays":
            raise ValueError(f"`validation_split` is only supported for array inputs. Received x of type {type(x).__name__}.")
        if source.kind == "arrays":
            _check_output_keys(self, y, sample_weight)
            _check_numeric_labels(self, source.y)
        checker = self._route(source)
        x, y, sample_weight = source.checked(self._batch_checker(source, checker), self._check_dataset)
        options = self._weighting_options
        if training:
            if class_weight is None:
                class_weight = options["class_weight"]
            tables = self._resolve_tables(class_weight, source, checker, validation_split)
            self._fit_tables = tables
            self._set_tables(train=tables, evaluation=tables if options["validation_class_weight"] else None)
        else:
            self._set_tables(train=self._fit_tables, evaluation=self._eval_tables_for(class_weight, source, checker))
        return x, y, sample_weight, checker

    def _resolve_tables(self, class_weight, source, checker, validation_split=0.0):
        """One NumPy table (or None) per flat loss for a `class_weight` argument."""
        loss = self._weighted_loss
        if class_weight is None:
            return None
        if loss is None or checker is None:
            raise ValueError(
                "class_weight needs a compiled loss and labels to weight: compile "
                "the model with a `loss` and pass `y`. Received loss="
                f"{getattr(self, 'loss', None)!r}."
            )
        targets = loss.targets()
        per_target = dict(zip(targets, split_class_weight(class_weight, targets)))
        tables = [None] * len(loss.specs)
        counters = {}
        for i, (name, spec) in enumerate(zip(loss.target_names, loss.specs)):
            value = per_target[name]
            if value is None:
                continue
            if spec is None or loss.routes[i].y_index is None:
                raise ValueError(
                    f"Output '{name}': class weights cannot be routed to this "
                    f"output's loss: its labels are not a part of `y` as given (a "
                    f"`compute_loss` override that computes them?), so they cannot "
                    f"be checked before the step. Pass the labels in `y`, or weight "
                    f"the output with `sample_weight`."
                )
            if spec.label_mode is None:
                raise ValueError(
                    f"Output '{name}': class weights need to know how labels "
                    f"map to classes, and loss {loss.flat_losses[i].name!r} does "
                    f"not say. Pass label_mode={{'{name}': 'sparse' | "
                    f"'categorical' | 'binary' | 'multilabel'}} to compile()."
                )
            if is_strategy(value):
                check_strategy(value, name)
                counters[i] = LabelCounts(spec.label_mode, spec.num_classes, name=name, ignore_class=spec.ignore_class)
            else:
                tables[i] = table_from_weights(value, spec)
        if counters:
            for y, sw in source.label_batches(validation_split):
                checker(y, sw)
                per_loss = checker.per_loss(y, sw)
                for i, counter in counters.items():
                    _, labels, weights = per_loss[i]
                    counter.update(labels, weights)
            for i, counter in counters.items():
                tables[i] = table_from_strategy(per_target[loss.target_names[i]], counter.counts, loss.specs[i])
        return tables

    def _eval_tables_for(self, class_weight, source, checker):
        loss = self._weighted_loss
        if class_weight is not None:
            return self._resolve_tables(class_weight, source, checker)
        if not self._weighting_options["validation_class_weight"] or loss is None:
            return None
        if self._fit_tables is not None and len(self._fit_tables) == len(loss.specs or []):
            return self._fit_tables
        return self._resolve_tables(self._weighting_options["class_weight"], source, checker)

    def _set_tables(self, train=None, evaluation=None):
        loss = self._weighted_loss
        if loss is None or loss.specs is None:
            return
        n = len(loss.specs)
        if train is not None and len(train) != n:
            train = None  # tables of another routing (a loaded model's, say)
        changed = loss.assign_tables("train", train or [None] * n)
        changed = loss.assign_tables("eval", evaluation or [None] * n) or changed
        if changed:
            # Which outputs carry tables is part of the traced step: retrace.
            self.train_function = self.test_function = None

    # ------------------------------------------------- class-weight tables

    @property
    def default_class_weight(self):
        """The class weights every `fit` uses unless it passes its own (see `compile`)."""
        return self._weighting_options["class_weight"]

    def set_class_weight(self, class_weight):
        """Sets the model's default class weights, as `compile(class_weight=...)` does.

        The value is saved with the model and used by every `fit` that does
        not pass its own; Keras Tuner integration sets the tuned weighting
        this way.

        Args:
            class_weight: any form `fit` accepts, or `None`.

        Raises:
            ValueError: an unknown strategy name, or a model not compiled.
        """
        if not self.compiled:
            raise ValueError("Call `compile()` before `set_class_weight()`.")
        if is_strategy(class_weight):
            check_strategy(class_weight, "all outputs")
        self._weighting_options["class_weight"] = class_weight

    @property
    def class_weight_tables(self):
        """The class-weight tables of the last `fit` by output name, or `None`.

        A dict output name -> NumPy table (see `weighted_models.strategies`
        for their shapes), `None` for outputs trained without class weights;
        its order is Keras's output order (that of the `<output>_loss` logs,
        which Keras sorts for dict outputs).

        Examples:
            ```python
            model.fit(x, {"tags": y_tags, "alarm": y_alarm}, class_weight={"tags": "balanced"})
            model.class_weight_tables["tags"]   # the balanced table of "tags"
            model.class_weight_tables["alarm"]  # None: trained without class weights
            ```
        """
        loss, tables = self._weighted_loss, self._fit_tables
        if tables is None or loss is None or loss.target_names is None:
            return None
        first = {}
        for name, table in zip(loss.target_names, tables):
            first.setdefault(name, table)
        return {n: None if first[n] is None else np.array(first[n]) for n in loss.targets()}

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
        loss = self._weighted_loss
        if loss is None or loss.train_tables is None or self._fit_tables is None:
            raise ValueError("Class-weight tables exist once `fit` has started.")
        targets = loss.targets()
        if isinstance(tables, dict):
            check_output_keys(tables, targets, what="tables")
            by_name = tables
        else:
            tables = list(tables)
            if len(tables) != len(targets):
                raise ValueError(
                    f"`tables` given as a list must have one entry per output "
                    f"({len(targets)}: {targets}). Received {len(tables)} entries."
                )
            by_name = dict(zip(targets, tables))
        for name, spec, variable in zip(loss.target_names, loss.specs, loss.train_tables):
            value = by_name.get(name)
            if value is None:
                continue
            if variable is None:
                raise ValueError(
                    f"Output '{name}' has no class weights in this fit, so "
                    f"they cannot be scheduled. Give it class weights in `fit` or "
                    f"`compile` (a schedule then moves them from uniform)."
                )
            value = np.asarray(value, dtype="float32")
            if value.shape != spec.table_shape or not np.all(np.isfinite(value)) or np.any(value < 0):
                raise ValueError(
                    f"Output '{name}': expected a table of shape "
                    f"{spec.table_shape} with finite weights >= 0. Received "
                    f"shape {value.shape}: {value.ravel()[:5].tolist()}."
                )
            variable.assign(value)

    # ------------------------------------------------------------ front door

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

        The arguments not listed below are as in `keras.Model.fit`.

        Args:
            class_weight: `None` (the `compile` class weights, if any), a dict
                `{class: weight}`, a list of weights, a strategy name such as
                `"balanced"` (computed from the training labels, after
                `validation_split`), or per-output values in a dict keyed by
                output name or a list in output order. Works with every data
                source and together with `sample_weight` (they multiply).
            sample_weight: `(N,)`, `(N, T)` or per-output sample weights, for
                array inputs (other sources yield them as the third element).

        Returns:
            A `History` object.

        Raises:
            ValueError: labels outside an output's classes, negative or
                non-finite weights, class-weight keys beyond an output's
                classes, unknown output names, sample weights that do not fit,
                a strategy that cannot see the labels.
        """
        self._assert_compile_called("fit")
        with self._checking_call():
            x, y, sample_weight, checker = self._admit(
                x,
                y,
                sample_weight,
                class_weight=class_weight,
                training=True,
                validation_split=validation_split,
            )
            validation_data = checked_validation_data(
                validation_data, checker, self._check_dataset, streamed=self._weighting_options["batch_checks"]
            )
            self._sync_step_checks()
            return super().fit(
                x=x,
                y=y,
                batch_size=batch_size,
                epochs=epochs,
                verbose=verbose,
                callbacks=callbacks,
                validation_split=validation_split,
                validation_data=validation_data,
                shuffle=shuffle,
                sample_weight=sample_weight,
                initial_epoch=initial_epoch,
                steps_per_epoch=steps_per_epoch,
                validation_steps=validation_steps,
                validation_batch_size=validation_batch_size,
                validation_freq=validation_freq,
            )

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

        The arguments not listed below are as in `keras.Model.evaluate`.

        Args:
            class_weight: class weights for this evaluation (same forms as in
                `fit`; strategies are computed from the labels given here).
                When `None`, class weights apply only if the model was
                compiled with `validation_class_weight=True`: those of the
                last `fit` (or of `compile`).

        Returns:
            As `keras.Model.evaluate`.

        Raises:
            ValueError: as in `fit`.
        """
        if kwargs.get("_use_cached_eval_dataset"):
            # The validation pass of `fit`, admitted (and checked) by `fit`.
            return super().evaluate(
                x=x,
                y=y,
                batch_size=batch_size,
                verbose=verbose,
                sample_weight=sample_weight,
                steps=steps,
                callbacks=callbacks,
                return_dict=return_dict,
                **kwargs,
            )
        self._assert_compile_called("evaluate")
        with self._checking_call():
            x, y, sample_weight, _ = self._admit(x, y, sample_weight, class_weight=class_weight, training=False)
            self._sync_step_checks()
            return super().evaluate(
                x=x,
                y=y,
                batch_size=batch_size,
                verbose=verbose,
                sample_weight=sample_weight,
                steps=steps,
                callbacks=callbacks,
                return_dict=return_dict,
                **kwargs,
            )

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """As `keras.Model.train_on_batch`, with weights applied in the step."""
        self._assert_compile_called("train_on_batch")
        x, y, sample_weight, _ = self._admit(x, y, sample_weight, class_weight=class_weight, training=True)
        return super().train_on_batch(x, y, sample_weight=sample_weight, return_dict=return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """As `keras.Model.test_on_batch`, optionally class-weighted (see `evaluate`)."""
        self._assert_compile_called("test_on_batch")
        x, y, sample_weight, _ = self._admit(x, y, sample_weight, class_weight=class_weight, training=False)
        return super().test_on_batch(x, y, sample_weight=sample_weight, return_dict=return_dict)


_DEFAULT_OPTIONS = dict(class_weight=None, label_mode=None, reduction="auto", validation_class_weight=False, batch_checks=True)


def _check_output_keys(model, y, sample_weight):
    """Labels and sample weights keyed by names that are no output: an error."""
    names = list(getattr(model, "output_names", None) or [])
    try:
        structure = model.output  # a functional model's (possibly nested) outputs
    except (AttributeError, ValueError):
        structure = None
    if isinstance(structure, dict):
        names += list(structure)
    if not names:
        return
    check_output_keys(y, names, what="y")
    check_output_keys(sample_weight, names, what="sample_weight")


def _check_numeric_labels(model, y):
    """String, bytes or object labels: the documented error, naming the output."""
    if y is None:
        return
    names = list(getattr(model, "output_names", None) or [])
    if isinstance(y, dict):
        named = list(y.items())
    elif isinstance(y, (list, tuple)) and len(y) == len(names) and len(names) > 1:
        named = list(zip(names, y))
    else:
        named = [(names[0] if len(names) == 1 else "y", y)]
    for name, labels in named:
        for leaf in keras.tree.flatten(labels):
            dtype = getattr(leaf, "dtype", None)
            if isinstance(leaf, (str, bytes)) or (isinstance(dtype, np.dtype) and dtype.kind in "USOV"):
                raise InvalidLabelsError(
                    f"Output '{name}': labels must be numeric. Received dtype "
                    f"{dtype if dtype is not None else type(leaf).__name__}; encode string labels "
                    f"as class indices first (e.g. `np.unique(y, return_inverse=True)`)."
                )


@keras.saving.register_keras_serializable(package="weighted_models")
class FunctionalWeightedModel(WeightedModel, Functional):
    """A WeightedModel built from inputs and outputs (what `WeightedModel(inputs, outputs)` returns)."""
