"""Long-tailed versions of balanced data sets, for experiments and benchmarks.

`make_long_tailed(x, y, ratio)` keeps, of class `c` (in `order`, most
frequent first), `n_max * ratio ** (-i / (C - 1))` samples for the class at
rank `i`: the exponential profile of Cui et al. (CVPR 2019) and Cao et al.
(NeurIPS 2019) used for long-tailed CIFAR, so the rarest class has `ratio`
times fewer samples than the most frequent one. `profile="step"` keeps
`n_max` samples of the first half of the classes and `n_max / ratio` of the
rest (Cao et al.'s step imbalance). Like imbalanced-learn's `make_imbalance`,
it only subsamples: no sample is duplicated or altered.
"""

import numpy as np

PROFILES = ("exponential", "step")


def long_tailed_counts(num_classes, ratio, n_max, *, profile="exponential"):
    """The number of samples each class rank keeps in a long-tailed data set.

    Args:
        num_classes: the number of classes `C` (at least 2).
        ratio: the imbalance ratio, most frequent over rarest count (>= 1).
        n_max: the count of the most frequent class.
        profile: `"exponential"` (`n_max * ratio ** (-i / (C - 1))` for rank
            `i`) or `"step"` (`n_max` for the first `C // 2` ranks, `n_max /
            ratio` for the others).

    Returns:
        An int64 array of `C` counts, most frequent first, each at least 1
        (counts are rounded down).

    Raises:
        ValueError: an argument out of range or an unknown profile.

    Examples:
        >>> long_tailed_counts(4, ratio=8, n_max=80).tolist()
        [80, 40, 20, 10]
        >>> long_tailed_counts(4, ratio=8, n_max=80, profile="step").tolist()
        [80, 80, 10, 10]
    """
    if not (isinstance(num_classes, (int, np.integer)) and num_classes >= 2):
        raise ValueError(f"Expected `num_classes` to be an int >= 2. Received: num_classes={num_classes!r}")
    if not (np.isfinite(ratio) and ratio >= 1):
        raise ValueError(f"Expected `ratio` >= 1 and finite. Received: ratio={ratio!r}")
    if not (isinstance(n_max, (int, np.integer)) and n_max >= 1):
        raise ValueError(f"Expected `n_max` to be an int >= 1. Received: n_max={n_max!r}")
    ranks = np.arange(num_classes)
    if profile == "exponential":
        counts = n_max * float(ratio) ** (-ranks / (num_classes - 1))
    elif profile == "step":
        counts = np.where(ranks < num_classes // 2, n_max, n_max / float(ratio))
    else:
        raise ValueError(f"Unknown profile {profile!r}. Expected one of {PROFILES}.")
    # A hair of slack so that n_max * ratio ** -1 lands on its integer.
    return np.maximum(1, np.floor(counts + 1e-9)).astype("int64")


def make_long_tailed(x, y, ratio, *, n_max=None, profile="exponential", order=None, seed=None, return_indices=False):
    """Subsamples `(x, y)` into a long-tailed data set.

    The class at rank `i` of `order` keeps `long_tailed_counts(...)[i]`
    samples, chosen at random without replacement; the result is shuffled.

    Args:
        x: the samples, an array (or anything indexable by an index array)
            with `len(y)` rows, or `None` to subsample the labels only.
        y: integer class labels, shape `(N,)`.
        ratio: the imbalance ratio, most frequent over rarest class (>= 1).
        n_max: samples kept of the most frequent class; by default the
            smallest class count in `y`, so every class can fill any rank.
        profile: `"exponential"` or `"step"` (see `long_tailed_counts`).
        order: the classes from most to least frequent; by default in
            increasing label order (class 0 the most frequent).
        seed: an int, a `numpy.random.Generator`, or `None`.
        return_indices: also return the indices of the kept rows.

    Returns:
        `(x_long_tailed, y_long_tailed)`, and the kept row indices when
        `return_indices` is true.

    Raises:
        ValueError: labels that are not a 1-D array of integers, `x` and `y`
            of different lengths, an `order` that is not a permutation of the
            classes in `y`, or a class with fewer samples than its rank needs.

    Examples:
        >>> y = np.repeat(np.arange(3), 100)
        >>> _, y_lt = make_long_tailed(None, y, ratio=100, seed=0)
        >>> np.bincount(y_lt).tolist()
        [100, 10, 1]
    """
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"Expected `y` to be a 1-D array of integer class labels. Received: shape {y.shape}, dtype {y.dtype}")
    if x is not None and len(x) != len(y):
        raise ValueError(f"`x` has {len(x)} rows but `y` has {len(y)} labels.")
    classes, available = np.unique(y, return_counts=True)
    if order is None:
        order = classes
    order = np.asarray(order)
    if sorted(order.tolist()) != classes.tolist():
        raise ValueError(f"Expected `order` to list each class of `y` once: {classes.tolist()}. Received: order={order.tolist()}")
    if n_max is None:
        n_max = int(available.min())
    counts = long_tailed_counts(len(classes), ratio, n_max, profile=profile)
    rng = np.random.default_rng(seed)
    kept = []
    for label, count in zip(order, counts):
        rows = np.flatnonzero(y == label)
        if len(rows) < count:
            raise ValueError(
                f"Class {label} has {len(rows)} samples but its rank needs {count} (n_max={n_max}, ratio={ratio}). "
                f"Lower `n_max` or reorder the classes."
            )
        kept.append(rng.choice(rows, size=count, replace=False))
    indices = rng.permutation(np.concatenate(kept))
    result = (None if x is None else x[indices], y[indices])
    return result + (indices,) if return_indices else result
