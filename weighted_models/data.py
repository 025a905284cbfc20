"""The door: every data source WeightedModel accepts, with its batches checked.

`fit` and `evaluate` accept NumPy arrays and tensors, `tf.data.Dataset`
(2- and 3-tuples), `keras.utils.PyDataset`, Python generators and torch
`DataLoader`s. This module gives all of them one interface:

- `spec_batch()`: a batch (or the whole arrays) to read static shapes from;
- `label_batches()`: the labels, batch by batch, for strategies such as
  `"balanced"` (a generator can be read only once, so it has none);
- `checked(checker)`: the data with every batch of labels and sample weights
  checked before it reaches the training step: arrays once, PyDataset,
  generator and DataLoader batches with vectorised NumPy as they are read,
  `tf.data` pipelines with TensorFlow ops added to the pipeline (no Python
  per batch, so the pipeline keeps its speed and stays serialisable).

Labels are checked here, not in the step, because inside a compiled step an
out-of-range label cannot raise: XLA drops assertions, a GPU gather returns
0 and XLA clamps the index. Checking at the door catches it the same way on
every device and under `jit_compile`.
"""

import contextlib
import copy
import inspect
import itertools
import re
import time

import keras
import numpy as np



class InvalidLabelsError(ValueError):
    """Labels or sample weights that an output cannot accept."""


def _is_tf_dataset(x):
    if not type(x).__module__.startswith("tensorflow"):
        return False
    import tensorflow as tf

    return isinstance(x, tf.data.Dataset)


def _as_numpy(structure):
    def convert(v):
        if v is None:
            return None
        if hasattr(v, "detach"):  # torch tensors
            v = v.detach().cpu()
        return np.asarray(v)

    return keras.tree.map_structure(convert, structure)


def _unpack(batch):
    return keras.utils.unpack_x_y_sample_weight(batch)


def _describe(values, limit=5):
    values = np.unique(values.ravel())
    shown = ", ".join(repr(v.item()) for v in values[:limit])
    return shown + (", ..." if values.size > limit else "")


_CHUNK = 1 << 20  # values checked at a time: bounds the temporaries of a check


def _bad_values(values, is_bad):
    """The distinct values where `is_bad` holds (as float64), or None if none.

    Works through `values` in chunks of `_CHUNK`, so checking 10 million
    labels needs a few MB of temporaries, not several copies of the labels.
    """
    flat = values.reshape(-1)
    found = []
    for start in range(0, flat.size, _CHUNK):
        chunk = flat[start:start + _CHUNK].astype("float64")
        bad = is_bad(chunk)
        if bad.any():
            found.append(np.unique(chunk[bad]))
    return np.concatenate(found) if found else None


class LabelChecker:
    """Checks labels and sample weights of a batch against the compiled losses.

    Sparse labels must be integers in `[0, num_classes)` (or the loss's
    `ignore_class`); one-hot, soft, binary and multi-hot labels must lie in
    `[0, 1]`; sample weights must be finite and `>= 0`. Losses without a
    label mode (regression) only have their sample weights checked.

    Args:
        specs: one `OutputSpec` (or `None`) per flat loss of the compiled loss.
        routes: one `Route` per flat loss: where its labels and sample
            weights are in a batch.
    """

    def __init__(self, specs, routes):
        self.specs = list(specs)
        self.routes = list(routes)

    def per_loss(self, y, sample_weight):
        """`(spec, labels, sample_weight)` of every flat loss for one batch."""
        flat_y = [] if y is None else keras.tree.flatten(y)
        flat_sw = [] if sample_weight is None else keras.tree.flatten(sample_weight)
        found = []
        for spec, route in zip(self.specs, self.routes):
            y_t = None if route.y_index is None or route.y_index >= len(flat_y) else flat_y[route.y_index]
            sw = None if route.sw_index is None or route.sw_index >= len(flat_sw) else flat_sw[route.sw_index]
            found.append((spec, y_t, sw))
        return found

    def check_output(self, spec, y, sample_weight):
        """Raises `InvalidLabelsError` for bad labels or sample weights."""
        if y is not None and spec is not None and spec.label_mode is not None:
            y = np.asarray(y)
            if y.size:
                self._check_labels(spec, y)
        if sample_weight is not None:
            self.check_sample_weight(spec.name if spec is not None else None, sample_weight)

    @staticmethod
    def check_sample_weight(name, sample_weight):
        bad = _bad_values(np.asarray(sample_weight), lambda w: ~np.isfinite(w) | (w < 0))
        if bad is not None:
            where = f"Output '{name}'" if name else "`sample_weight`"
            raise InvalidLabelsError(
                f"{where}: sample weights must be finite and >= 0. Received {_describe(bad)}."
            )

    def _check_labels(self, spec, y):
        if not np.issubdtype(y.dtype, np.number) and y.dtype != bool:
            raise InvalidLabelsError(
                f"Output '{spec.name}': labels must be numeric. Received dtype {y.dtype}."
            )
        if spec.label_mode == "sparse":
            n, ignore = spec.num_classes, spec.ignore_class
            if np.issubdtype(y.dtype, np.integer) and 0 <= y.min() and y.max() < n:
                return  # the common case: two reductions, no temporary arrays
            bad = _bad_values(y, lambda v: (~np.isfinite(v) | (v < 0) | (v >= n)
                                            | (v != np.floor(v))) & (v != (ignore if ignore is not None else np.nan)))
            if bad is not None:
                also = "" if ignore is None else f" or the ignored class {ignore}"
                raise InvalidLabelsError(
                    f"Output '{spec.name}': labels must be class indices in "
                    f"[0, {n}) ({n} classes){also}. Received labels {_describe(bad)}."
                )
            return
        bad = _bad_values(y, lambda v: ~np.isfinite(v) | (v < 0) | (v > 1))
        if bad is not None:
            raise InvalidLabelsError(
                f"Output '{spec.name}': {spec.label_mode} labels must lie in "
                f"[0, 1]. Received labels {_describe(bad)}."
            )

    def __call__(self, y, sample_weight=None):
        for spec, y_t, sw in self.per_loss(y, sample_weight):
            self.check_output(spec, y_t, sw)
        if sample_weight is not None:
            for sw in keras.tree.flatten(sample_weight):
                if sw is not None:
                    self.check_sample_weight(None, sw)


class _CheckedPyDataset(keras.utils.PyDataset):
    """A PyDataset whose batches are checked as they are read."""

    def __init__(self, dataset, checker):
        super().__init__(
            workers=dataset.workers,
            use_multiprocessing=dataset.use_multiprocessing,
            max_queue_size=dataset.max_queue_size,
        )
        self.dataset = dataset
        self.checker = checker

    def __len__(self):
        return len(self.dataset)

    @property
    def num_batches(self):
        return self.dataset.num_batches

    def __getitem__(self, index):
        batch = self.dataset[index]
        _, y, sw = _unpack(batch)
        if y is not None:
            self.checker(y, sw)
        return batch

    def on_epoch_begin(self):
        self.dataset.on_epoch_begin()

    def on_epoch_end(self):
        self.dataset.on_epoch_end()


def _checked_generator(generator, checker):
    for batch in generator:
        _, y, sw = _unpack(batch)
        if y is not None:
            checker(y, sw)
        yield batch


def _tf_describe(bad, limit=5):
    """`_describe` in graph ops: the distinct bad values, sorted, as float64 reprs."""
    import tensorflow as tf

    values = tf.sort(tf.unique(tf.cast(bad, tf.float64)).y)
    shown = tf.strings.as_string(values[:limit], shortest=True)
    # Python's float repr keeps ".0" on integral values ("3.0", not "3").
    shown = tf.strings.regex_replace(shown, r"^(-?[0-9]+)$", r"\1.0")
    more = tf.where(tf.size(values) > limit, ", ...", "")
    return tf.strings.join([tf.strings.reduce_join(shown, separator=", "), more])


def _tf_assert(is_bad, values, message):
    """An op that fails the pipeline with `InvalidLabelsError` if `is_bad` anywhere.

    The message (`message` + the bad values + ".") is only formatted when a
    value is bad: a good batch costs one reduction.
    """
    import tensorflow as tf

    def fail():
        text = tf.strings.join(["InvalidLabelsError: ", message,
                                _tf_describe(tf.boolean_mask(values, is_bad)), "."])
        with tf.control_dependencies([tf.debugging.Assert(False, [text])]):
            return tf.constant(False)

    return tf.cond(tf.reduce_any(is_bad), fail, lambda: tf.constant(True))


def _tf_checks(checker, y, sample_weight):
    """The `LabelChecker`'s checks as TensorFlow ops: one assertion op per check."""
    import tensorflow as tf

    ops = []

    def weight_check(name, w):
        w = tf.reshape(tf.cast(w, tf.float64), [-1])
        where = f"Output '{name}'" if name else "`sample_weight`"
        ops.append(_tf_assert(~tf.math.is_finite(w) | (w < 0), w,
                              f"{where}: sample weights must be finite and >= 0. Received "))

    for spec, labels, sw in checker.per_loss(y, sample_weight):
        if labels is not None and spec is not None and spec.label_mode is not None:
            if not (labels.dtype.is_integer or labels.dtype.is_floating or labels.dtype.is_bool):
                raise InvalidLabelsError(
                    f"Output '{spec.name}': labels must be numeric. "
                    f"Received dtype {labels.dtype.name}."
                )
            v = tf.reshape(tf.cast(labels, tf.float64), [-1])
            if spec.label_mode == "sparse":
                n, ignore = spec.num_classes, spec.ignore_class
                bad = (v < 0) | (v >= n)
                if labels.dtype.is_floating:
                    bad = bad | ~tf.math.is_finite(v) | (v != tf.floor(v))
                if ignore is not None:
                    bad = bad & (v != ignore)
                also = "" if ignore is None else f" or the ignored class {ignore}"
                message = (f"Output '{spec.name}': labels must be class indices in "
                           f"[0, {n}) ({n} classes){also}. Received labels ")
            else:
                bad = ~tf.math.is_finite(v) | (v < 0) | (v > 1)
                message = (f"Output '{spec.name}': {spec.label_mode} labels must lie in "
                           f"[0, 1]. Received labels ")
            ops.append(_tf_assert(bad, v, message))
        if sw is not None:
            weight_check(spec.name if spec is not None else None, sw)
    if sample_weight is not None:
        for sw in keras.tree.flatten(sample_weight):
            if sw is not None:
                weight_check(None, sw)
    return ops


def _checked_dataset(dataset, checker):
    """`dataset` with every batch checked by TensorFlow ops in the pipeline.

    No Python runs per batch (no `numpy_function`): the pipeline keeps its
    parallelism, releases the GIL and stays serialisable (tf.data service,
    distributed input). A bad batch fails the iterator before the step sees it;
    `label_errors_as_value_errors` turns that failure into `InvalidLabelsError`.
    """
    import tensorflow as tf

    @tf.autograph.experimental.do_not_convert
    def check(*element):
        batch = element if len(element) > 1 else element[0]
        x, y, sw = _unpack(batch)
        if y is None:
            return batch
        ops = _tf_checks(checker, y, sw)
        if ops:
            with tf.control_dependencies(ops):
                y = tf.nest.map_structure(tf.identity, y)
        return (x, y) if sw is None else (x, y, sw)

    return dataset.map(check)


def _is_torch_dataloader(x):
    if not type(x).__module__.startswith("torch"):
        return False
    import torch

    return isinstance(x, torch.utils.data.DataLoader)


def _checked_dataloader(loader, checker):
    """The same DataLoader, its batches checked as they are read (Keras still
    sees a DataLoader: its length, workers and re-iteration per epoch)."""

    class CheckedDataLoader(type(loader)):
        def __iter__(self):
            for batch in super().__iter__():
                _, y, sw = _unpack(batch)
                if y is not None:
                    checker(_as_numpy(y), _as_numpy(sw))
                yield batch

    checked = copy.copy(loader)
    checked.__class__ = CheckedDataLoader
    return checked


def _per_output_sample_weight(y, sample_weight):
    """Sample weights in the structure of a multi-output `y`, as Keras's arrays need.

    One array applies to every output (Keras's adapter would refuse a `(N, T)`
    one); outputs missing from a per-output dict or list are unweighted (ones).
    """
    if not isinstance(sample_weight, (dict, list, tuple)):
        return keras.tree.map_structure(lambda _: sample_weight, y)
    n = len(np.asarray(keras.tree.flatten(y)[0]))
    if isinstance(y, dict) and isinstance(sample_weight, dict):
        if not set(sample_weight) <= set(y):
            return sample_weight  # unknown names: the checker names them
        return {k: sample_weight[k] if sample_weight.get(k) is not None else np.ones(n, "float32") for k in y}
    if isinstance(y, (list, tuple)) and isinstance(sample_weight, (list, tuple)) and len(y) == len(sample_weight):
        return type(sample_weight)(np.ones(n, "float32") if w is None else w for w in sample_weight)
    return sample_weight


def _with_progress(dataset, total, after_seconds=2.0):
    """`(y, sample_weight)` of each batch; a progress bar once counting takes a while."""
    started, bar = time.monotonic(), None
    for i, batch in enumerate(dataset):
        _, y, sw = _unpack(batch)
        yield _as_numpy(y), _as_numpy(sw)
        if bar is None and time.monotonic() - started > after_seconds:
            bar = keras.utils.Progbar(total, unit_name="batch")
            print("Counting labels for class_weight (one pass over the dataset)")
        if bar is not None:
            bar.update(i + 1)


class DataSource:
    """The data given to `fit` or `evaluate`, whatever its kind.

    Args:
        x: inputs: arrays/tensors (or structures of them), a
            `tf.data.Dataset`, a `keras.utils.PyDataset` or a generator.
        y: labels, for array inputs only.
        sample_weight: sample weights, for array inputs only.

    Raises:
        TypeError: a data source WeightedModel does not accept.
    """

    def __init__(self, x, y=None, sample_weight=None):
        self.x, self.y, self.sample_weight = x, y, sample_weight
        if _is_tf_dataset(x):
            self.kind = "dataset"
        elif isinstance(x, keras.utils.PyDataset):
            self.kind = "pydataset"
        elif inspect.isgenerator(x) or (
            hasattr(x, "__next__") and hasattr(x, "__iter__") and not hasattr(x, "shape")
        ):
            self.kind = "generator"
        elif _is_torch_dataloader(x):
            self.kind = "dataloader"
        else:
            self.kind = "arrays"
        if self.kind == "arrays" and isinstance(y, (dict, list, tuple)) and sample_weight is not None:
            self.sample_weight = _per_output_sample_weight(y, sample_weight)
        if self.kind != "arrays" and (y is not None or sample_weight is not None):
            raise ValueError(
                f"`y` and `sample_weight` are taken from the data when `x` is a "
                f"{type(x).__name__}; do not pass them separately."
            )
        self._peeked = None

    def spec_batch(self):
        """`(x, y, sample_weight)` whose static shapes describe a batch."""
        if self.kind == "arrays":
            return self.x, self.y, self.sample_weight
        if self.kind == "dataset":
            spec = self.x.element_spec
            return _unpack(spec if isinstance(spec, tuple) else spec)
        if self.kind == "pydataset":
            return _unpack(self.x[0])
        if self.kind == "dataloader":
            return _unpack(_as_numpy(next(iter(self.x))))
        if self._peeked is None:
            first = next(self.x)
            self._peeked = first
            self.x = itertools.chain([first], self.x)
        return _unpack(self._peeked)

    def label_batches(self, validation_split=0.0):
        """Yields `(y, sample_weight)` batches, for computed strategies.

        Raises:
            ValueError: for generators, which can be read only once.
        """
        if self.kind == "arrays":
            y, sw = self.y, self.sample_weight
            if validation_split:
                n = len(np.asarray(keras.tree.flatten(y)[0]))
                split_at = int(np.floor(n * (1.0 - validation_split)))
                y = keras.tree.map_structure(lambda a: np.asarray(a)[:split_at], y)
                if sw is not None:
                    sw = keras.tree.map_structure(lambda a: np.asarray(a)[:split_at], sw)
            yield y, sw
        elif self.kind == "dataset":
            import tensorflow as tf

            cardinality = int(self.x.cardinality())
            if cardinality == tf.data.INFINITE_CARDINALITY:
                raise ValueError(
                    "A computed class_weight strategy (such as 'balanced') counts "
                    "the training labels, but this tf.data.Dataset repeats forever. "
                    "Pass explicit class weights (a dict or list), count a finite "
                    "part with weighted_models.compute_class_weight(strategy, "
                    "dataset.take(n)), or compute them from the labels with "
                    "compute_class_weight(strategy, labels)."
                )
            yield from _with_progress(self.x, cardinality if cardinality >= 0 else None)
        elif self.kind == "dataloader":
            for batch in self.x:
                _, y, sw = _unpack(batch)
                yield _as_numpy(y), _as_numpy(sw)
        elif self.kind == "pydataset":
            n = self.x.num_batches
            if n is None:
                raise ValueError(
                    "A computed class_weight strategy needs to read the labels "
                    "once, but this PyDataset has no length. Pass explicit weights."
                )
            for i in range(n):
                _, y, sw = _unpack(self.x[i])
                yield y, sw
        else:
            raise ValueError(
                "A computed class_weight strategy (such as 'balanced') needs "
                "the training labels, but a Python generator can be read only "
                "once. Pass explicit class weights, or use a tf.data.Dataset "
                "or PyDataset."
            )

    def checked(self, checker):
        """Returns `(x, y, sample_weight)` with every batch checked."""
        if checker is None:
            return self.x, self.y, self.sample_weight
        if self.kind == "arrays":
            if self.y is not None:
                checker(_as_numpy(self.y), _as_numpy(self.sample_weight))
            return self.x, self.y, self.sample_weight
        if self.kind == "dataset":
            return _checked_dataset(self.x, checker), None, None
        if self.kind == "pydataset":
            return _CheckedPyDataset(self.x, checker), None, None
        if self.kind == "dataloader":
            return _checked_dataloader(self.x, checker), None, None
        return _checked_generator(self.x, checker), None, None


def checked_validation_data(validation_data, checker):
    """Checks (or wraps for checking) `validation_data` as `fit` receives it."""
    if validation_data is None or checker is None:
        return None
    if isinstance(validation_data, (tuple, list)):
        if len(validation_data) not in (2, 3):
            raise ValueError(
                "`validation_data` as a tuple must be (x, y) or "
                f"(x, y, sample_weight). Received {len(validation_data)} items."
            )
        x, y, sw = (tuple(validation_data) + (None,))[:3]
        DataSource(x, y, sw).checked(checker)
        return validation_data
    x, _, _ = DataSource(validation_data).checked(checker)
    return x


# A label error from a tf.data pipeline: the Assert's text, C-escaped, then "]".
_TF_LABEL_ERROR = re.compile(r"InvalidLabelsError: (.*?)\]?(?:\n|$)")


@contextlib.contextmanager
def label_errors_as_value_errors():
    """Re-raises label errors found inside a tf.data pipeline as `ValueError`."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 - filtered below, re-raised otherwise
        if isinstance(error, InvalidLabelsError):
            raise
        match = _TF_LABEL_ERROR.search(str(error))
        if match is None:
            raise
        message = match.group(1).replace("\\'", "'").replace('\\"', '"')
        raise InvalidLabelsError(message) from None
