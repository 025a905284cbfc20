"""Class-balanced sampling: batches drawn with per-class probabilities.

With `n_c` samples of class `c`, sampling with power `q` draws class `c`
with probability

    P_c = n_c ** q / sum_k n_k ** q

and a sample of that class uniformly, so `q = 1` is instance-balanced (every
sample equally likely, the usual shuffle), `q = 0.5` square-root sampling and
`q = 0` class-balanced (every class equally likely) (Kang et al.,
"Decoupling Representation and Classifier for Long-Tailed Recognition",
ICLR 2020). Progressively-balanced sampling moves from instance-balanced to
the target power over `progressive_epochs` epochs:

    P_c(t) = (1 - t / T) * n_c / N + (t / T) * P_c

**An epoch** is `epoch_size` samples (by default `N`, the size of the data
set, so an epoch has as many steps as without sampling), drawn with
replacement: with `q < 1` rare samples repeat within an epoch and some
frequent ones are not seen in it.

Resampling changes the expected loss the same way class weights `w_c ∝
P_c / (n_c / N)` do, but with gradients from whole batches of rare classes
instead of large weights on few samples; do not combine it with the
equivalent class weights, which would count the correction twice.
"""

import math

import keras
import numpy as np

from weighted_models.strategies import count_labels


def class_sampling_probabilities(counts, power=0.0, *, progress=1.0):
    """Per-class sampling probabilities `P_c` from counts.

    Args:
        counts: samples per class, shape `(C,)`.
        power: `q` in `P_c ∝ n_c ** q` (1 instance-balanced, 0 class-balanced).
        progress: `t / T` of progressively-balanced sampling, in `[0, 1]`: the
            mix of instance-balanced (`0`) and power-`q` (`1`) probabilities.

    Returns:
        A float64 array of `C` probabilities summing to 1; classes with no
        samples get 0.

    Raises:
        ValueError: negative or non-finite counts, no sample at all, `power`
            outside `[0, 1]` or `progress` outside `[0, 1]`.

    Examples:
        >>> class_sampling_probabilities([90, 10], power=0.0).tolist()
        [0.5, 0.5]
        >>> class_sampling_probabilities([90, 10], power=0.0, progress=0.5).tolist()
        [0.7, 0.3]
    """
    counts = np.asarray(counts, dtype="float64")
    if counts.ndim != 1 or np.any(~np.isfinite(counts)) or np.any(counts < 0) or counts.sum() <= 0:
        raise ValueError(f"Expected `counts` to be finite, >= 0 and not all 0. Received: counts={counts.tolist()}")
    if not 0.0 <= power <= 1.0:
        raise ValueError(f"Expected `power` in [0, 1]. Received: power={power!r}")
    if not 0.0 <= progress <= 1.0:
        raise ValueError(f"Expected `progress` in [0, 1]. Received: progress={progress!r}")
    present = counts > 0
    target = np.where(present, counts, 1.0) ** power * present  # absent classes: 0, also for q = 0
    target /= target.sum()
    instance = counts / counts.sum()
    return (1.0 - progress) * instance + progress * target


class ClassBalancedSampler(keras.utils.PyDataset):
    """Batches of arrays drawn with per-class probabilities, for `fit`.

    A `keras.utils.PyDataset`: give it to `fit` in place of `x` and `y`. Each
    epoch draws `epoch_size` row indices at once (one vectorised
    `Generator.choice`), and each batch is a slice of them, so no Python runs
    per sample. See the module docstring for the probabilities and for what
    an epoch is.

    Args:
        x: the inputs: an array, or a list or dict of arrays with `N` rows.
        y: integer class labels `(N,)`, or a dict of label arrays (then
            `output` names the one sampled on).
        batch_size: samples per batch.
        power: `q`: 1 instance-balanced, 0.5 square-root, 0 class-balanced.
        sample_weight: optional sample weights, drawn with their rows.
        progressive_epochs: if given, progressively-balanced sampling: from
            instance-balanced at epoch 0 to power `q` at this epoch and after.
        epoch_size: samples per epoch (default `N`).
        output: with dict labels, the output whose classes are balanced.
        num_classes: the number of classes (default: the largest label + 1).
        seed: an int, a `numpy.random.Generator`, or `None`.
        **kwargs: `workers`, `use_multiprocessing`, `max_queue_size`, as for
            `keras.utils.PyDataset`.

    Raises:
        ValueError: labels that are not 1-D integer class indices, arrays of
            different lengths, or a bad `power`, `epoch_size`, `batch_size` or
            `progressive_epochs`.

    Examples:
        ```python
        sampler = ClassBalancedSampler(x_train, y_train, batch_size=64, power=0.0)
        model.fit(sampler, epochs=30, validation_data=(x_val, y_val))
        ```
    """

    def __init__(
        self,
        x,
        y,
        *,
        batch_size=32,
        power=0.0,
        sample_weight=None,
        progressive_epochs=None,
        epoch_size=None,
        output=None,
        num_classes=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        labels = _sampled_labels(y, output)
        n = len(labels)
        for name, value in (("x", x), ("y", y), ("sample_weight", sample_weight)):
            for array in keras.tree.flatten(value) if value is not None else ():
                if len(array) != n:
                    raise ValueError(f"`{name}` has an array of {len(array)} rows; the labels have {n}.")
        if not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
            raise ValueError(f"Expected `batch_size` to be an int >= 1. Received: batch_size={batch_size!r}")
        epoch_size = n if epoch_size is None else epoch_size
        if not (isinstance(epoch_size, (int, np.integer)) and epoch_size >= 1):
            raise ValueError(f"Expected `epoch_size` to be an int >= 1. Received: epoch_size={epoch_size!r}")
        if progressive_epochs is not None and not (isinstance(progressive_epochs, (int, np.integer)) and progressive_epochs >= 1):
            raise ValueError(
                f"Expected `progressive_epochs` to be an int >= 1 or None. Received: progressive_epochs={progressive_epochs!r}"
            )
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.labels = labels
        self.counts = count_labels(labels, num_classes=num_classes)
        class_sampling_probabilities(self.counts, power)  # checks power
        self.power = float(power)
        self.batch_size = int(batch_size)
        self.epoch_size = int(epoch_size)
        self.progressive_epochs = progressive_epochs
        self.epochs_begun = 0  # epochs Keras has started on this sampler
        self.epoch = 0  # the epoch the current draw is for
        self._rng = np.random.default_rng(seed)
        self._draw()

    def probabilities(self, epoch=None):
        """The per-class sampling probabilities at `epoch` (default: the current draw's)."""
        epoch = self.epoch if epoch is None else epoch
        progress = 1.0 if self.progressive_epochs is None else min(1.0, epoch / self.progressive_epochs)
        return class_sampling_probabilities(self.counts, self.power, progress=progress)

    def _draw(self):
        per_class = self.probabilities() / np.maximum(self.counts, 1)
        per_row = per_class[self.labels]
        self.indices = self._rng.choice(len(self.labels), size=self.epoch_size, p=per_row / per_row.sum())

    def __len__(self):
        return math.ceil(self.epoch_size / self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"Batch {index} is out of range for {len(self)} batches.")
        rows = self.indices[index * self.batch_size : (index + 1) * self.batch_size]

        def take(value):
            return keras.tree.map_structure(lambda a: a[rows], value)

        if self.sample_weight is None:
            return take(self.x), take(self.y)
        return take(self.x), take(self.y), take(self.sample_weight)

    def on_epoch_begin(self):
        self.epochs_begun += 1

    def on_epoch_end(self):
        # Drawn here, where Keras's workers are stopped, for the next epoch.
        # Keras also ends an epoch when `fit` starts: then this redraws epoch 0.
        self.epoch = self.epochs_begun
        self._draw()


def _output_labels(y, output):
    """The labels balanced on: `y`, or `y[output]` for labels by output name."""
    if isinstance(y, dict):
        if output not in y:
            raise ValueError(f"With labels for several outputs, pass `output=` (one of {sorted(y)}). Received: output={output!r}")
        return y[output]
    if output is not None:
        raise ValueError(f"`output={output!r}` needs a dict of labels by output name.")
    return y


def _sampled_labels(y, output):
    labels = np.asarray(_output_labels(y, output))
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer) or (labels.size and labels.min() < 0):
        raise ValueError(
            "Class-balanced sampling needs one integer class index >= 0 per sample (shape (N,)). "
            f"Received labels of shape {labels.shape} and dtype {labels.dtype}."
        )
    return labels


def class_balanced_dataset(
    dataset, *, power=0.0, counts=None, num_classes=None, epoch_size=None, progressive_epochs=None, output=None, seed=None
):
    """A `tf.data.Dataset` of elements drawn with per-class probabilities.

    Each class's elements are cycled in a random order reshuffled on every
    pass (`filter`, `shuffle`, `repeat`), and `sample_from_datasets` picks the
    class of each element with probability `P_c` (see the module docstring):
    all graph ops, no Python per element. Batch the result yourself, e.g.
    `class_balanced_dataset(ds).batch(64)`. An epoch is `epoch_size`
    elements (by default the number of elements counted), freshly drawn on
    each pass.

    With `progressive_epochs=T` (progressively-balanced sampling), the
    probabilities move from instance-balanced to power `q` over `T` epochs,
    counted in elements drawn: elements `[e * epoch_size, (e + 1) *
    epoch_size)` are drawn with the probabilities of epoch `e` (progress
    `min(1, e / T)`). The schedule needs one pass that spans the epochs, so
    the result is then infinite: give `fit` `steps_per_epoch = epoch_size //
    batch_size` with an `epoch_size` that is a multiple of the batch size,
    and Keras's epochs are the schedule's.

    Every class's stream reads the source dataset to find its elements, so a
    class with `n_c` of `N` elements costs about `N / n_c` source reads per
    element drawn: `cache()` the source first when it fits in memory.

    Args:
        dataset: an unbatched dataset of `(x, y)` or `(x, y, sample_weight)`
            elements whose label is one integer class index (or a dict of
            labels; then `output` names the one balanced on).
        power: `q`: 1 instance-balanced, 0.5 square-root, 0 class-balanced.
        counts: the class counts, if known; otherwise they are counted in one
            pass (a finite dataset is needed for that).
        num_classes: the number of classes (default: the largest label + 1).
        epoch_size: elements per epoch (default: the total count).
        progressive_epochs: if given, progressively-balanced sampling over
            this many epochs (see above; the result is then infinite).
        output: with dict labels, the output whose classes are balanced.
        seed: an int or `None`.

    Returns:
        A `tf.data.Dataset` with the structure of `dataset`'s elements:
        `epoch_size` elements, or infinite with `progressive_epochs`.

    Raises:
        ValueError: an infinite dataset without `counts`, labels that are
            not scalar integer class indices, or a bad `power`,
            `epoch_size` or `progressive_epochs`.

    Examples:
        ```python
        balanced = class_balanced_dataset(train_ds.cache(), power=0.5).batch(64)
        model.fit(balanced, epochs=30)

        # Progressively balanced over 10 epochs of 6400 elements:
        progressive = class_balanced_dataset(train_ds.cache(), power=0.0, epoch_size=6400, progressive_epochs=10)
        model.fit(progressive.batch(64), epochs=30, steps_per_epoch=100)
        ```
    """
    import tensorflow as tf

    spec = dataset.element_spec
    if not isinstance(spec, tuple) or len(spec) not in (2, 3):
        raise ValueError(f"Expected a dataset of (x, y) or (x, y, sample_weight) elements. Received elements of {spec}")
    label_spec = _output_labels(spec[1], output)
    if not label_spec.dtype.is_integer or (label_spec.shape.rank not in (0, None) and label_spec.shape != (1,)):
        raise ValueError(
            "Class-balanced sampling needs one integer class index per element (unbatched, shape () or (1,)). "
            f"Received labels of shape {label_spec.shape} and dtype {label_spec.dtype.name}."
        )

    def label_of(*element):
        return tf.reshape(_output_labels(element[1], output), [])

    if counts is None:
        if dataset.cardinality() == tf.data.INFINITE_CARDINALITY:
            raise ValueError(
                "This dataset is infinite, so its classes cannot be counted. Pass `counts=` "
                "(e.g. count_labels(labels, num_classes=C)), or give a finite dataset (before `.repeat()`)."
            )
        counts = count_labels(dataset.map(label_of).batch(4096), num_classes=num_classes)
    counts = np.asarray(counts, dtype="float64")
    probabilities = class_sampling_probabilities(counts, power)
    epoch_size = int(counts.sum()) if epoch_size is None else epoch_size
    if not (isinstance(epoch_size, (int, np.integer)) and epoch_size >= 1):
        raise ValueError(f"Expected `epoch_size` to be an int >= 1. Received: epoch_size={epoch_size!r}")
    classes = [c for c in range(len(counts)) if counts[c] > 0]
    streams = [
        dataset.filter(lambda *e, c=c: tf.equal(tf.cast(label_of(*e), tf.int64), c))
        .shuffle(int(min(counts[c], 10_000)), seed=seed, reshuffle_each_iteration=True)
        .repeat()
        for c in classes
    ]
    if progressive_epochs is None:
        weights = [float(probabilities[c]) for c in classes]
        mixed = tf.data.Dataset.sample_from_datasets(streams, weights=weights, seed=seed, rerandomize_each_iteration=True)
        return mixed.take(epoch_size)
    if not (isinstance(progressive_epochs, (int, np.integer)) and progressive_epochs >= 1):
        raise ValueError(
            f"Expected `progressive_epochs` to be an int >= 1 or None. Received: progressive_epochs={progressive_epochs!r}"
        )
    # One row of class probabilities per epoch of the schedule, then the target for ever:
    # a dataset of per-element weights, all graph ops (no state, no callback).
    table = np.stack(
        [
            class_sampling_probabilities(counts, power, progress=epoch / progressive_epochs)[classes]
            for epoch in range(progressive_epochs + 1)
        ]
    ).astype("float32")
    schedule = tf.data.Dataset.from_tensor_slices(table[:-1]).flat_map(
        lambda row: tf.data.Dataset.from_tensors(row).repeat(epoch_size)
    )
    weights = schedule.concatenate(tf.data.Dataset.from_tensors(table[-1]).repeat())
    return tf.data.Dataset.sample_from_datasets(streams, weights=weights, seed=seed, rerandomize_each_iteration=True)
