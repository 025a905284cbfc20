"""Long-tailed data sets against the published CIFAR-LT sizes and direct counting."""

import numpy as np
import pytest

from weighted_models.datasets import long_tailed_counts, make_long_tailed


@pytest.mark.parametrize(
    "classes, ratio, n_max, total",
    [
        # Training-set sizes of long-tailed CIFAR in Cao et al. (2019) and Cui et al. (2019).
        (10, 100, 5000, 12406),
        (10, 10, 5000, 20431),
        (100, 100, 500, 10847),
        (100, 10, 500, 19573),
    ],
)
def test_exponential_profile_gives_the_published_cifar_lt_sizes(classes, ratio, n_max, total):
    counts = long_tailed_counts(classes, ratio, n_max)
    assert counts.sum() == total
    assert counts[0] == n_max and counts[-1] == n_max // ratio
    assert np.all(np.diff(counts) <= 0)


def test_step_profile():
    assert long_tailed_counts(5, 10, 100, profile="step").tolist() == [100, 100, 10, 10, 10]


def test_make_long_tailed_subsamples_without_duplicates():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 60)
    x = rng.normal(size=(240, 3))
    order = [2, 0, 3, 1]
    x_lt, y_lt, kept = make_long_tailed(x, y, ratio=8, n_max=40, order=order, seed=1, return_indices=True)
    counts = {label: int(np.sum(y_lt == label)) for label in order}
    assert counts == {2: 40, 0: 20, 3: 10, 1: 5}
    assert len(np.unique(kept)) == len(kept)  # no row twice
    np.testing.assert_array_equal(x_lt, x[kept])
    np.testing.assert_array_equal(y_lt, y[kept])
    assert not np.all(np.diff(y_lt) >= 0)  # shuffled, not grouped by class
    # Same seed, same subset; the default n_max is the smallest class count.
    _, again = make_long_tailed(None, y, ratio=8, n_max=40, order=order, seed=1)
    np.testing.assert_array_equal(again, y_lt)
    assert np.bincount(make_long_tailed(None, y, ratio=2)[1]).max() == 60


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(y=np.array([0.5, 1.0]), ratio=2), "Expected `y` to be a 1-D array of integer class labels"),
        (dict(y=np.arange(4) % 2, ratio=0.5), r"Expected `ratio` >= 1 and finite. Received: ratio=0.5"),
        (dict(y=np.arange(4) % 2, ratio=2, profile="linear"), r"Unknown profile 'linear'"),
        (dict(y=np.arange(4) % 2, ratio=2, order=[0, 0]), r"Expected `order` to list each class of `y` once"),
        (dict(y=np.arange(4) % 2, ratio=2, n_max=5), r"Class 0 has 2 samples but its rank needs 5"),
        (dict(y=np.arange(4) % 2, ratio=2, x=np.zeros((3, 1))), r"`x` has 3 rows but `y` has 4 labels"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    kwargs = {"x": None, **kwargs}
    with pytest.raises(ValueError, match=message):
        make_long_tailed(kwargs.pop("x"), kwargs.pop("y"), **kwargs)
