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
0 and XLA clamps the index. Checking before the step catches it the same way on
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
        chunk = flat[start : start + _CHUNK].astype("float64")
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
        # One loss reading bare `y` (and bare `sample_weight`): no tree walks.
        self._bare = len(self.routes) == 1 and self.routes[0].y_index == 0
        self._bare_sw = self._bare and self.routes[0].sw_index == 0

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
        sample_weight = np.asarray(sample_weight)
        if not sample_weight.size:
            return
        if sample_weight.dtype.kind in "iub" or (
            sample_weight.dtype.kind == "f" and np.finfo(sample_weight.dtype).max >= sample_weight.max()
        ):
            # The common case, two reductions: NaN fails the comparisons.
            if sample_weight.dtype.kind == "u" or sample_weight.min() >= 0:
                return
        bad = _bad_values(sample_weight, lambda w: ~np.isfinite(w) | (w < 0))
        if bad is not None:
            where = f"Output '{name}'" if name else "`sample_weight`"
            raise InvalidLabelsError(f"{where}: sample weights must be finite and >= 0. Received {_describe(bad)}.")

    def _check_labels(self, spec, y):
        if spec.label_mode == "sparse" and y.dtype.kind in "iu":
            # One reduction: negative labels read as unsigned are huge.
            if y.view(f"u{y.itemsize}").max() < spec.num_classes:
                return
        if not np.issubdtype(y.dtype, np.number) and y.dtype != bool:
            raise InvalidLabelsError(f"Output '{spec.name}': labels must be numeric. Received dtype {y.dtype}.")
        if spec.label_mode == "sparse":
            n, ignore = spec.num_classes, spec.ignore_class
            if y.dtype.kind == "f" and y.size <= _CHUNK and 0 <= y.min() and y.max() < n and np.array_equal(y, np.floor(y)):
                return  # float labels of a batch: one small temporary
            bad = _bad_values(
                y,
                lambda v: (
                    (~np.isfinite(v) | (v < 0) | (v >= n) | (v != np.floor(v)))
                    & (v != (ignore if ignore is not None else np.nan))
                ),
            )
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
                f"Output '{spec.name}': {spec.label_mode} labels must lie in [0, 1]. Received labels {_describe(bad)}."
            )

    def __call__(self, y, sample_weight=None):
        if (
            self._bare
            and type(y) is np.ndarray
            and (sample_weight is None or (self._bare_sw and type(sample_weight) is np.ndarray))
        ):
            self.check_output(self.specs[0], y, sample_weight)
            return
        checked = set()
        for spec, y_t, sw in self.per_loss(y, sample_weight):
            self.check_output(spec, y_t, None if id(sw) in checked else sw)
            checked.add(id(sw))
        if sample_weight is not None:
            for sw in keras.tree.flatten(sample_weight):
                if sw is not None and id(sw) not in checked:
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


def _tf_label_checks(checker, y, sample_weight):
    """The `LabelChecker`'s checks as TensorFlow ops, in the host check's order.

    Returns a list of `(ok, values, is_bad, message)`: `ok` an elementwise
    bool computed with as few ops as a good batch allows; `is_bad(values)`
    the exact elementwise test and `message` the text before the bad values,
    used only to explain a failure.
    """
    import tensorflow as tf

    checks = []

    def weight_check(name, w):
        w = tf.cast(w, tf.float32) if not w.dtype.is_floating else w
        # sqrt is NaN below 0 and keeps inf and NaN: two ops cover every case.
        ok = tf.math.is_finite(tf.sqrt(w))
        where = f"Output '{name}'" if name else "`sample_weight`"
        checks.append(
            (ok, w, lambda v: ~tf.math.is_finite(v) | (v < 0), f"{where}: sample weights must be finite and >= 0. Received ")
        )

    for spec, labels, sw in checker.per_loss(y, sample_weight):
        if labels is not None and spec is not None and spec.label_mode is not None:
            if not (labels.dtype.is_integer or labels.dtype.is_floating or labels.dtype.is_bool):
                raise InvalidLabelsError(f"Output '{spec.name}': labels must be numeric. Received dtype {labels.dtype.name}.")
            if spec.label_mode == "sparse":
                n, ignore = spec.num_classes, spec.ignore_class
                if labels.dtype.is_bool:
                    ok = None if n >= 2 else ~labels
                elif labels.dtype.is_integer:
                    # One comparison: negative labels wrap to huge unsigned values.
                    ok = tf.cast(labels, tf.uint64) < n
                    if ignore is not None:
                        ok = ok | tf.equal(labels, tf.cast(ignore, labels.dtype))
                else:
                    ok = (labels >= 0) & (labels < n) & tf.equal(labels, tf.floor(labels))
                    if ignore is not None:
                        ok = ok | tf.equal(labels, ignore)

                def is_bad(v, n=n, ignore=ignore):
                    bad = ~tf.math.is_finite(v) | (v < 0) | (v >= n) | (v != tf.floor(v))
                    return bad if ignore is None else bad & (v != ignore)

                also = "" if ignore is None else f" or the ignored class {ignore}"
                message = f"Output '{spec.name}': labels must be class indices in [0, {n}) ({n} classes){also}. Received labels "
            else:
                ok = None if labels.dtype.is_bool else (labels >= 0) & (labels <= 1)  # NaN fails

                def is_bad(v):
                    return ~tf.math.is_finite(v) | (v < 0) | (v > 1)

                message = f"Output '{spec.name}': {spec.label_mode} labels must lie in [0, 1]. Received labels "
            if ok is not None:
                checks.append((ok, labels, is_bad, message))
        if sw is not None:
            weight_check(spec.name if spec is not None else None, sw)
    if sample_weight is not None:
        for sw in keras.tree.flatten(sample_weight):
            if sw is not None:
                weight_check(None, sw)
    return checks


def _tf_failure(checks):
    """Fails with the first failing check's message (only runs for a bad batch).

    The failure is raised by `StringToNumber` on the message, a stateless op
    whose error quotes its input: unlike `Assert` (stateful), it leaves the
    check function stateless, so tf.data still runs it in parallel with the
    rest of the pipeline, and the pipeline stays serialisable.
    """
    import tensorflow as tf

    texts = []
    for _, values, is_bad, message in checks:
        v = tf.reshape(tf.cast(values, tf.float64), [-1])
        texts.append(tf.strings.join(["InvalidLabelsError: ", message, _tf_describe(tf.boolean_mask(v, is_bad(v))), "."]))
    first = tf.argmin(tf.cast(tf.stack([tf.reduce_all(ok) for ok, *_ in checks]), tf.int32))
    return tf.strings.to_number(tf.gather(tf.stack(texts), first), tf.float32)


def checked_batch(checker, x, y, sample_weight, guard_inputs=False):
    """`(x, y)` with the checker's TensorFlow checks (graph ops) ahead of them.

    A good batch costs two or three elementwise ops per check, one reduction
    and one conditional; a bad one fails with `InvalidLabelsError`'s message
    (see `label_errors_as_value_errors`). The labels pass through the
    conditional (a data dependency: the check cannot be pruned), so the loss,
    the gradients and every update wait for it. With `guard_inputs`, the
    inputs do too, so that a forward pass writing state (batch-norm
    statistics) cannot see a bad batch either; it costs the step the overlap
    of the forward pass with the check. Used in the training step
    (TensorFlow; ahead of the step when it is XLA-compiled) and in the
    pipeline (`checked_dataset`).
    """
    import tensorflow as tf

    checks = _tf_label_checks(checker, y, sample_weight)
    if not checks:
        return x, y
    masks = [ok if ok.shape.rank == 1 else tf.reshape(ok, [-1]) for ok, *_ in checks]
    ok = tf.reduce_all(masks[0] if len(masks) == 1 else tf.concat(masks, 0))  # one reduction
    leaves = keras.tree.flatten((x, y))
    first = 0 if guard_inputs else len(keras.tree.flatten(x))
    dense = [i for i, leaf in enumerate(leaves) if i >= first and isinstance(leaf, tf.Tensor)]

    # The failure's formatting is one function call in the step's graph: when
    # TensorFlow lowers the conditional, a good batch then skips one node
    # rather than the few dozen that format the message.
    explain = tf.function(
        lambda oks, values: _tf_failure(
            [(ok, v, is_bad, message) for ok, v, (_, _, is_bad, message) in zip(oks, values, checks)]
        ),
        autograph=False,
    )

    def fail():
        # Raises; never returns a value.
        n = explain([ok for ok, *_ in checks], [values for _, values, *_ in checks])
        return [
            tf.logical_and(leaves[i], tf.math.is_finite(n))
            if leaves[i].dtype.is_bool
            else leaves[i] + tf.cast(n, leaves[i].dtype)
            for i in dense
        ]

    passed = tf.cond(ok, lambda: [leaves[i] for i in dense], fail)
    for i, leaf in zip(dense, passed):
        leaves[i] = leaf
    return keras.tree.pack_sequence_as((x, y), leaves)


def checked_dataset(dataset, checker):
    """`dataset` with every batch checked by TensorFlow ops in a map.

    No Python runs per batch (no `numpy_function`): the pipeline releases the
    GIL and stays serialisable. A map stage has a cost of its own in tf.data
    (see `weighted-models bench input_pipeline`), so `WeightedModel.fit` does
    not use it (it checks in or just ahead of the step); it is the default of
    `DataSource.checked` for callers that give no other placement.
    """
    import tensorflow as tf

    @tf.autograph.experimental.do_not_convert
    def check(*element):
        batch = element if len(element) > 1 else element[0]
        x, y, sw = _unpack(batch)
        if y is None:
            return batch
        x, y = checked_batch(checker, x, y, sw)
        return (x, y) if sw is None else (x, y, sw)

    return dataset.map(check)


def host_checked_step_input(data, checker):
    """Checks the batches a JAX or PyTorch step function receives, on the host.

    Keras's JAX and PyTorch trainers convert every `tf.data` batch to NumPy
    (or CPU tensors) in Python before the step; the check runs on those arrays,
    vectorised, adding no stage to the pipeline. `data` is what Keras hands the
    step function: an iterator of batches, a list of batches or one batch.
    """

    def check(batch):
        if type(batch) is tuple and 2 <= len(batch) <= 3 and type(batch[1]) is np.ndarray:
            # `(x, y)` or `(x, y, sample_weight)` of arrays: Keras's JAX batches.
            y, sw = batch[1], batch[2] if len(batch) == 3 else None
            checker(y, sw if sw is None or type(sw) is np.ndarray else _as_numpy(sw))
            return batch
        _, y, sw = _unpack(batch)
        if y is not None:
            checker(_as_numpy(y), _as_numpy(sw))
        return batch

    if hasattr(data, "__next__"):
        return _CheckingIterator(data, check)
    if isinstance(data, list):
        for batch in data:
            check(batch)
        return data
    return check(data)


class _CheckingIterator:
    def __init__(self, iterator, check):
        self.iterator, self.check = iterator, check

    def __iter__(self):
        return self

    def __next__(self):
        return self.check(next(self.iterator))


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
        elif inspect.isgenerator(x) or (hasattr(x, "__next__") and hasattr(x, "__iter__") and not hasattr(x, "shape")):
            self.kind = "generator"
        elif _is_torch_dataloader(x):
            self.kind = "dataloader"
        else:
            self.kind = "arrays"
        if self.kind == "arrays" and isinstance(y, (dict, list, tuple)) and sample_weight is not None:
            self.sample_weight = _per_output_sample_weight(y, sample_weight)
        if self.kind != "arrays" and (y is not None or sample_weight is not None):
            raise ValueError(
                f"`y` and `sample_weight` are taken from the data when `x` is a {type(x).__name__}; do not pass them separately."
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

    def checked(self, checker, check_dataset=None):
        """Returns `(x, y, sample_weight)` with every batch checked.

        `check_dataset(dataset, checker)` places the check of a tf.data
        pipeline (default: TensorFlow ops in the pipeline).
        """
        if checker is None:
            return self.x, self.y, self.sample_weight
        if self.kind == "arrays":
            if self.y is not None:
                checker(_as_numpy(self.y), _as_numpy(self.sample_weight))
            return self.x, self.y, self.sample_weight
        if self.kind == "dataset":
            return (check_dataset or checked_dataset)(self.x, checker), None, None
        if self.kind == "pydataset":
            return _CheckedPyDataset(self.x, checker), None, None
        if self.kind == "dataloader":
            return _checked_dataloader(self.x, checker), None, None
        return _checked_generator(self.x, checker), None, None


def checked_validation_data(validation_data, checker, check_dataset=None, *, streamed=True):
    """Checks (or wraps for checking) `validation_data` as `fit` receives it.

    With `streamed=False` (`compile(batch_checks=False)`), arrays are checked
    and streamed data is returned as it is.
    """
    if validation_data is None or checker is None:
        return None
    if isinstance(validation_data, (tuple, list)):
        if len(validation_data) not in (2, 3):
            raise ValueError(
                f"`validation_data` as a tuple must be (x, y) or (x, y, sample_weight). Received {len(validation_data)} items."
            )
        x, y, sw = (tuple(validation_data) + (None,))[:3]
        DataSource(x, y, sw).checked(checker)
        return validation_data
    if not streamed:
        return validation_data
    x, _, _ = DataSource(validation_data).checked(checker, check_dataset)
    return x


# A label error from a tf.data pipeline: the text after the marker, to the line's end.
_TF_LABEL_ERROR = re.compile(r"InvalidLabelsError: (.*?)(?:\n|$)")


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
        raise InvalidLabelsError(match.group(1)) from None
