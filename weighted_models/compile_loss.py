"""The compiled loss of a WeightedModel: Keras's `CompileLoss`, plus weights.

`WeightedCompileLoss` is what `WeightedModel.compile(loss=...)` creates in
place of Keras's `CompileLoss`, and it *is* one (a subclass): Keras's own code
routes loss structures to outputs (one loss, lists, dicts, nested structures,
`None` entries, partial labels, the `"crossentropy"` shortcut) and raises
Keras's errors. It adds, per flat loss (one loss applied to one output):

- a spec (`OutputSpec`: label mode, classes, `ignore_class`) decided from the
  loss and the static shapes it meets;
- a route: which leaf of `y`, `y_pred` and `sample_weight` reaches it, so that
  labels can be checked on the host and class weights given per output name;
- its class-weight tables (training and evaluation), held in variables;
- a per-output loss tracker weighted by the dynamic batch size.

Inside the step, a flat loss with neither class nor sample weights is computed
by the Keras loss itself (so unweighted training is Keras's, bit for bit);
otherwise its per-element losses are multiplied by the per-element weights of
`weighting.element_weights` and reduced by `weighting.reduce_weighted_loss`.
The weights of a step are kept for `compute_metrics`, so they are computed once
per step on every backend.
"""

import contextlib
import dataclasses

import keras
from keras import ops

from weighted_models.keras_internals import CompileLoss
from weighted_models.outputs import check_output_keys, loss_spec
from weighted_models.weighting import (
    element_weights,
    loss_reduction,
    per_element_loss,
    reduce_weighted_loss,
)


@dataclasses.dataclass(frozen=True)
class Route:
    """Where one flat loss finds its data in a batch.

    Attributes:
        y_index: index of its labels in `keras.tree.flatten(y)`, or `None`
            when the labels are not a leaf of `y` (a `compute_loss` override
            that transforms them).
        pred_index: index of its predictions in `keras.tree.flatten(y_pred)`
            of the model's output, or `None`.
        sw_index: index of its sample weights in
            `keras.tree.flatten(sample_weight)`, or `None` when there are none.
    """

    y_index: object
    pred_index: object
    sw_index: object


def _index_of(leaf, leaves):
    for i, candidate in enumerate(leaves):
        if candidate is leaf:
            return i
    return None


class _ClassWeightTables(keras.metrics.Metric):
    """Holds the class-weight tables as variables of the model's metrics.

    The tables must be state of the step, not constants traced into it: a new
    `fit` or a schedule changes their values without a retrace. As metric
    variables they are part of the state every backend threads through its
    step (JAX's stateless step included) and never part of the model's
    weights. The holder reports nothing and `reset_state` keeps the tables.
    """

    def __init__(self):
        super().__init__(name="class_weight_tables")

    def table(self, shape, name):
        return self.add_variable(shape=shape, initializer="ones", dtype="float32", aggregation="only_first_replica", name=name)

    def update_state(self, *args, **kwargs):
        raise NotImplementedError("Class-weight tables are set with assign_class_weight_tables().")

    def reset_state(self):
        pass

    def result(self):
        return {}


class _OutputLossTracker(keras.metrics.Mean):
    """`<output>_loss`: the mean of one output's loss, weighted by batch size.

    Keras weights each batch by the *static* batch size, which is unknown
    inside a compiled step, so a partial last batch counts like a full one and
    the per-output logs do not add up to `loss`. This tracker uses the dynamic
    batch size its flat loss saw.
    """

    def __init__(self, name, flat_loss):
        super().__init__(name=name)
        self._flat_loss = flat_loss

    def update_state(self, values, sample_weight=None):
        batch = self._flat_loss.batch_size
        return super().update_state(values, sample_weight=sample_weight if batch is None else batch)


class _FlatLoss:
    """One Keras loss applied to one output, weighted by its owner."""

    def __init__(self, loss, owner, index):
        self.loss = loss
        self.owner = owner
        self.index = index
        self.name = loss.name
        self._y_pred = None

    @property
    def batch_size(self):
        """The dynamic batch size of the last call (read by its tracker only)."""
        if self._y_pred is None:
            return None
        return ops.shape(keras.tree.flatten(self._y_pred)[0])[0]

    def __call__(self, y_true, y_pred, sample_weight=None):
        self._y_pred = y_pred
        return self.owner.flat_loss_value(self.index, y_true, y_pred, sample_weight)


class _Step:
    """What one call of `compute_loss` saw and computed, for `compute_metrics`."""

    def __init__(self, y, y_pred, sample_weight):
        self.y, self.sample_weight = y, sample_weight
        self.pred_leaves = keras.tree.flatten(y_pred)
        self.weights = {}  # flat loss index -> (pred leaf index, weights)


class _Recording:
    """The leaves of a symbolic batch, to find each flat loss's route."""

    def __init__(self, y, y_pred, sample_weight):
        self.y = keras.tree.flatten(y) if y is not None else []
        self.pred = keras.tree.flatten(y_pred)
        self.sw = keras.tree.flatten(sample_weight) if sample_weight is not None else []
        self.found = {}  # flat loss index -> (route, y_true, y_pred)


class WeightedCompileLoss(CompileLoss):
    """Keras's `CompileLoss` with class, sample and temporal weights per flat loss.

    Created by `WeightedModel.compile`; not usually built by hand.

    Args:
        loss, loss_weights, output_names: as Keras's `CompileLoss`.
        label_mode: per-output label modes (one value, a list in output order
            or a dict by output name), overriding detection from the loss.
        reduction: WeightedModel's `reduction` option (see `compile`).

    Examples:
        >>> import numpy as np
        >>> loss = WeightedCompileLoss("mse", output_names=["dense"])
        >>> float(loss(np.zeros((4, 2)), np.ones((4, 2))))
        1.0
    """

    def __init__(self, loss, loss_weights=None, output_names=None, *, label_mode=None, reduction="auto"):
        super().__init__(loss, loss_weights, output_names=output_names)
        self.label_mode = label_mode
        self.weight_reduction = reduction
        self.training = True
        self.table_store = _ClassWeightTables()
        self._table_variables = {}
        self.specs = None
        self.routes = None
        self.target_names = None
        self.train_tables = None
        self.eval_tables = None
        self._recording = None
        self._step = None

    # ------------------------------------------------------------------ build

    def build(self, y_true, y_pred):
        super().build(y_true, y_pred)
        self._flat_losses = [entry._replace(loss=_FlatLoss(entry.loss, self, i)) for i, entry in enumerate(self._flat_losses)]
        if self._metrics:
            self._metrics[:] = [
                _OutputLossTracker(metric.name, entry.loss) for metric, entry in zip(self._metrics, self._flat_losses)
            ]

    def targets(self, names=None):
        """The distinct output names the flat losses weight, in output order.

        Output order is `model.output_names` where every name is one of them
        (Keras's order for "a list in output order"), else the order of the
        flat losses.
        """
        names = list(dict.fromkeys(self.target_names if names is None else names))
        order = self.output_names if isinstance(self.output_names, (list, tuple)) else []
        if all(name in order for name in names):
            names.sort(key=list(order).index)
        return names

    @property
    def flat_losses(self):
        """The Keras losses of this model, one per (output, loss) pair."""
        return [entry.loss.loss for entry in self._flat_losses or []]

    # ------------------------------------------------------------- routing

    @contextlib.contextmanager
    def recording(self, y, y_pred, sample_weight):
        """Records the route and shapes of every flat loss called inside."""
        self._recording = _Recording(y, y_pred, sample_weight)
        try:
            yield self._recording
        finally:
            self._recording = None

    def set_routes(self, recording):
        """Builds specs, routes and target names from a symbolic pass.

        Returns:
            Whether anything changed (the traced steps must then be rebuilt).

        Raises:
            ValueError: labels whose shape does not fit an output's label
                mode, or an unknown label mode.
        """
        n = len(self._flat_losses)
        routes, specs, names = [], [], []
        for i, entry in enumerate(self._flat_losses):
            route, y_t, y_p = recording.found.get(i, (Route(None, None, None), None, None))
            routes.append(route)
            names.append(entry.name)
            specs.append(None if y_t is None else (entry.loss.loss, y_t, y_p))
        modes = _per_target(self.label_mode, names, self.targets(names), what="label_mode")
        specs = [
            None if s is None else loss_spec(name, s[0], s[1].shape, s[2].shape, override=mode)
            for name, s, mode in zip(names, specs, modes)
        ]
        changed = (specs, routes) != (self.specs, self.routes)
        self.specs, self.routes, self.target_names = specs, routes, names
        if changed:
            self.train_tables = self.eval_tables = [None] * n
        return changed

    def _spec(self, index, y_true, y_pred):
        if self._recording is None and self.specs is not None and self.specs[index] is not None:
            return self.specs[index]
        entry = self._flat_losses[index]
        mode = _per_target(self.label_mode, [entry.name], self.targets([entry.name]), what="label_mode")[0]
        return loss_spec(entry.name, entry.loss.loss, y_true.shape, y_pred.shape, override=mode)

    # -------------------------------------------------------------- tables

    def assign_tables(self, which, values):
        """Sets the class-weight tables (`which`: "train" or "eval").

        Args:
            which: "train" or "eval".
            values: one NumPy table or `None` per flat loss.

        Returns:
            Whether the set of flat losses with tables changed (the traced
            steps must then be rebuilt).
        """
        attr = f"{which}_tables"
        before = [t is None for t in getattr(self, attr) or []]
        tables = []
        for i, (spec, value) in enumerate(zip(self.specs, values)):
            if value is None:
                tables.append(None)
                continue
            key = (which, i, spec.table_shape)
            if key not in self._table_variables:
                self._table_variables[key] = self.table_store.table(spec.table_shape, f"{which}_{i}")
            self._table_variables[key].assign(value)
            tables.append(self._table_variables[key])
        setattr(self, attr, tables)
        return before != [t is None for t in tables]

    @property
    def has_tables(self):
        return bool(self._table_variables)

    # ----------------------------------------------------------------- step

    @contextlib.contextmanager
    def step(self, y, y_pred, sample_weight, training):
        """The context of one `compute_loss` call: which tables, what to keep."""
        self.training = training
        self._step = _Step(y, y_pred, sample_weight)
        yield

    def flat_loss_value(self, index, y_true, y_pred, sample_weight):
        """The (weighted) value of flat loss `index` on one batch."""
        loss = self._flat_losses[index].loss.loss
        if self._recording is not None:
            rec = self._recording
            sw_index = None if sample_weight is None else _index_of(sample_weight, rec.sw)
            route = Route(_index_of(y_true, rec.y), _index_of(y_pred, rec.pred), sw_index)
            rec.found[index] = (route, y_true, y_pred)
            if route.y_index is not None:
                self._spec(index, y_true, y_pred)  # labels that do not fit: our message, first
        tables = self.train_tables if self.training else self.eval_tables
        table = tables[index] if tables and self._recording is None else None
        if table is None and sample_weight is None:
            return loss(y_true, y_pred)  # Keras's own loss: masks, reduction, dtype
        spec = self._spec(index, y_true, y_pred)
        values, mask = per_element_loss(loss, y_true, y_pred, label_mode=spec.label_mode)
        if len(values.shape) == 0:
            raise ValueError(
                f"Output '{spec.name}': loss {loss.name!r} returns a scalar, so "
                f"per-element class or sample weights cannot be applied. Return "
                f"one loss per sample (reduce only the class axis), or train this "
                f"output without class_weight/sample_weight."
            )
        weights = element_weights(
            y_true,
            table=table,
            sample_weight=sample_weight,
            label_mode=spec.label_mode,
            pred_rank=len(y_pred.shape),
            weight_shape=tuple(values.shape),
            name=spec.name,
            dtype=loss.dtype,
            ignore_class=spec.ignore_class,
        )
        if self._step is not None:
            self._step.weights[index] = (_index_of(y_pred, self._step.pred_leaves), weights, spec.label_mode)
        return reduce_weighted_loss(values, weights, mask, reduction=loss_reduction(loss, self.weight_reduction))

    def metric_sample_weight(self, y, y_pred, sample_weight):
        """Weights for `compute_metrics`: those `compute_loss` used this step.

        Outputs whose loss was weighted get their per-element weights
        (averaged over the label axis for `multilabel` outputs, as metrics
        score one value per sample or timestep); the others keep the sample
        weights Keras would give them. Without any weighted output the sample
        weights are returned untouched. The weights of this step's
        `compute_loss` are reused; a `compute_metrics` without one (Keras's
        symbolic build, a custom step) computes them from the routes.
        """
        step, self._step = self._step, None
        if step is not None and step.y is y and step.sample_weight is sample_weight:
            found = {}
            for pred_index, weights, mode in step.weights.values():
                if pred_index is not None and pred_index not in found:
                    found[pred_index] = (weights, mode)
        elif self.routes is not None:
            found = self._flat_element_weights(y, y_pred, sample_weight, self.training)
        else:
            return sample_weight
        if not found:
            return sample_weight
        found = {i: ops.mean(w, axis=-1) if mode == "multilabel" else w for i, (w, mode) in found.items()}
        pred_leaves = keras.tree.flatten(y_pred)
        if len(pred_leaves) == 1:
            return found.get(0, sample_weight)
        raw = keras.tree.flatten(sample_weight) if keras.tree.is_nested(sample_weight) else [sample_weight] * len(pred_leaves)
        if len(raw) != len(pred_leaves):
            raw = [None] * len(pred_leaves)
        flat = [found.get(i, raw[i]) for i in range(len(pred_leaves))]
        return keras.tree.pack_sequence_as(y_pred, flat)

    def _flat_element_weights(self, y, y_pred, sample_weight, training):
        """`{pred leaf index: (weights, label mode)}` computed from the routes."""
        tables = (self.train_tables if training else self.eval_tables) or [None] * len(self.specs)
        flat_y = keras.tree.flatten(y) if y is not None else []
        flat_pred = keras.tree.flatten(y_pred)
        flat_sw = [] if sample_weight is None else keras.tree.flatten(sample_weight)
        found = {}
        for spec, route, table in zip(self.specs, self.routes, tables):
            if (
                spec is None
                or route.pred_index is None
                or route.y_index is None
                or route.pred_index >= len(flat_pred)
                or route.pred_index in found
            ):
                continue
            sw = None if route.sw_index is None else flat_sw[route.sw_index]
            if table is None and sw is None:
                continue
            y_p = flat_pred[route.pred_index]
            found[route.pred_index] = (
                element_weights(
                    flat_y[route.y_index],
                    table=table,
                    sample_weight=sw,
                    label_mode=spec.label_mode,
                    pred_rank=spec.pred_rank,
                    weight_shape=spec.weight_shape(y_p.shape),
                    name=spec.name,
                    ignore_class=spec.ignore_class,
                ),
                spec.label_mode,
            )
        return found

    def element_weights_for(self, y, y_pred, sample_weight=None, training=True):
        """Per-output weights of a batch, in the structure of `y_pred` (see
        `WeightedModel.compute_sample_weight`)."""
        found = self._flat_element_weights(y, y_pred, sample_weight, training)
        flat = [found[i][0] if i in found else None for i in range(len(keras.tree.flatten(y_pred)))]
        return keras.tree.pack_sequence_as(y_pred, flat)

    def get_config(self):
        raise NotImplementedError


def _per_target(value, names, distinct, *, what):
    """One entry of a per-output option for each flat loss (by target name).

    `distinct` are the target names in output order, for list values.
    """
    if value is None:
        return [None] * len(names)
    if isinstance(value, dict):
        check_output_keys(value, distinct, what=what)
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)):
        if len(value) != len(distinct):
            raise ValueError(
                f"`{what}` given as a list must have one entry per output "
                f"({len(distinct)}: {distinct}). Received {len(value)} entries."
            )
        by_name = dict(zip(distinct, value))
        return [by_name[name] for name in names]
    return [value] * len(names)
