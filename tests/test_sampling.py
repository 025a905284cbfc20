"""Class-balanced sampling: drawn frequencies against the formula, alignment, fit."""

import keras
import numpy as np
import pytest

from weighted_models import WeightedModel
from weighted_models.sampling import ClassBalancedSampler, class_balanced_dataset, class_sampling_probabilities

COUNTS = np.array([400, 100, 25, 4])
Y = np.repeat(np.arange(4), COUNTS)
X = np.stack([Y, np.arange(len(Y))], axis=1).astype("float32")  # (label, row) per row


def expected(power, progress=1.0):
    target = COUNTS**power / np.sum(COUNTS**power)
    return (1 - progress) * COUNTS / COUNTS.sum() + progress * target


@pytest.mark.parametrize("power", [0.0, 0.5, 1.0])
def test_classes_are_drawn_with_the_power_law_probabilities(power):
    sampler = ClassBalancedSampler(X, Y, batch_size=1000, power=power, epoch_size=200_000, seed=0)
    drawn = np.concatenate([sampler[i][1] for i in range(len(sampler))])
    share = np.bincount(drawn, minlength=4) / len(drawn)
    p = expected(power)
    np.testing.assert_allclose(share, p, atol=4 * np.sqrt(p * (1 - p) / len(drawn)).max())
    # Within a class every sample is equally likely: the rarest class's 4 rows.
    rare_rows = np.concatenate([sampler[i][0] for i in range(len(sampler))])
    rare_rows = rare_rows[rare_rows[:, 0] == 3][:, 1]
    per_row = np.unique(rare_rows, return_counts=True)[1] / len(rare_rows)
    np.testing.assert_allclose(per_row, 0.25, atol=0.02)


def test_progressive_sampling_moves_from_instance_to_class_balanced():
    sampler = ClassBalancedSampler(X, Y, power=0.0, progressive_epochs=4, seed=0)
    seen = []
    for _ in range(6):
        sampler.on_epoch_begin()
        seen.append(sampler.probabilities())
        sampler.on_epoch_end()
    for epoch, probabilities in enumerate(seen):
        np.testing.assert_allclose(probabilities, expected(0.0, min(1.0, epoch / 4)), rtol=1e-12)
    np.testing.assert_allclose(class_sampling_probabilities(COUNTS, 0.5, progress=0.0), COUNTS / COUNTS.sum())


def test_batches_keep_rows_aligned_and_an_epoch_is_n_samples():
    weights = np.arange(len(Y), dtype="float32")
    sampler = ClassBalancedSampler({"a": X}, {"out": Y}, sample_weight={"out": weights}, output="out", batch_size=100, seed=1)
    assert len(sampler) == int(np.ceil(len(Y) / 100))
    batches = [sampler[i] for i in range(len(sampler))]
    assert sum(len(b[1]["out"]) for b in batches) == len(Y)
    for x, y, w in batches:
        np.testing.assert_array_equal(x["a"][:, 0], y["out"])
        np.testing.assert_array_equal(x["a"][:, 1], w["out"])
    first = sampler.indices.copy()
    sampler.on_epoch_end()
    assert not np.array_equal(first, sampler.indices)  # a new draw each epoch


@pytest.mark.parametrize("model_class", [keras.Model, WeightedModel])
def test_fit_trains_on_the_sampler(model_class):
    inputs = keras.Input((2,))
    model = model_class(inputs, keras.layers.Dense(4, activation="softmax")(inputs))
    model.compile("sgd", "sparse_categorical_crossentropy")
    sampler = ClassBalancedSampler(X / 500.0, Y, batch_size=64, power=0.0, progressive_epochs=2, seed=2)
    history = model.fit(sampler, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3 and np.all(np.isfinite(history.history["loss"]))
    # Keras began three epochs; the draw waiting for a fourth is for epoch 3.
    assert sampler.epochs_begun == 3 and sampler.epoch == 3
    np.testing.assert_allclose(sampler.probabilities(), expected(0.0))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(y=Y.astype("float32")), r"needs one integer class index >= 0 per sample"),
        (dict(y=np.eye(4, dtype="int64")[Y]), r"Received labels of shape \(529, 4\)"),
        (dict(power=1.5), r"Expected `power` in \[0, 1\]. Received: power=1.5"),
        (dict(batch_size=0), r"Expected `batch_size` to be an int >= 1"),
        (dict(epoch_size=2.5), r"Expected `epoch_size` to be an int >= 1"),
        (dict(progressive_epochs=0), r"Expected `progressive_epochs` to be an int >= 1 or None"),
        (dict(x=X[:10]), r"`x` has an array of 10 rows; the labels have 529"),
        (dict(y={"a": Y}), r"pass `output=` \(one of \['a'\]\)"),
        (dict(output="a"), r"`output='a'` needs a dict of labels"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    kwargs = {"x": X, "y": Y, **kwargs}
    with pytest.raises(ValueError, match=message):
        ClassBalancedSampler(kwargs.pop("x"), kwargs.pop("y"), **kwargs)


def test_tf_data_classes_are_drawn_with_the_power_law_probabilities():
    import tensorflow as tf

    source = tf.data.Dataset.from_tensor_slices((X, Y)).cache()
    balanced = class_balanced_dataset(source, power=0.5, epoch_size=20_000, seed=3)
    x, y = (np.concatenate(parts) for parts in zip(*balanced.batch(5000).as_numpy_iterator()))
    assert len(y) == 20_000
    np.testing.assert_array_equal(x[:, 0], y)  # rows stay whole
    share = np.bincount(y, minlength=4) / len(y)
    p = expected(0.5)
    np.testing.assert_allclose(share, p, atol=4 * np.sqrt(p * (1 - p) / len(y)).max())
    # Each pass is a new draw; the default epoch is the number of elements.
    assert sum(len(b[1]) for b in class_balanced_dataset(source, seed=3).batch(1000).as_numpy_iterator()) == len(Y)
    epoch = class_balanced_dataset(source, seed=3)
    one, two = (np.concatenate([b[0][:, 1] for b in epoch.batch(1000).as_numpy_iterator()]) for _ in range(2))
    assert not np.array_equal(one, two)


def test_tf_data_sampler_trains_and_refuses_what_it_cannot_count():
    import tensorflow as tf

    source = tf.data.Dataset.from_tensor_slices((X / 500.0, Y, np.ones(len(Y), "float32")))
    inputs = keras.Input((2,))
    model = WeightedModel(inputs, keras.layers.Dense(4, activation="softmax")(inputs))
    model.compile("sgd", "sparse_categorical_crossentropy")
    history = model.fit(class_balanced_dataset(source, power=0.0, seed=0).batch(64), epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    with pytest.raises(ValueError, match=r"This dataset is infinite, so its classes cannot be counted. Pass `counts=`"):
        class_balanced_dataset(source.repeat())
    with pytest.raises(ValueError, match=r"Received labels of shape \(4,\)"):
        class_balanced_dataset(tf.data.Dataset.from_tensor_slices((X, np.eye(4, dtype="int64")[Y])))
    counted = class_balanced_dataset(source.repeat(), counts=COUNTS, epoch_size=100)
    assert sum(1 for _ in counted) == 100


def test_tf_data_progressive_sampling_follows_the_schedule_in_elements_drawn():
    import tensorflow as tf

    source = tf.data.Dataset.from_tensor_slices((X, Y)).cache()
    epoch_size, epochs = 8000, 4
    progressive = class_balanced_dataset(source, power=0.0, epoch_size=epoch_size, progressive_epochs=epochs, seed=5)
    assert progressive.cardinality() == tf.data.INFINITE_CARDINALITY
    y = np.concatenate([b[1] for b in progressive.batch(epoch_size).take(epochs + 2).as_numpy_iterator()])
    for epoch in range(epochs + 2):
        drawn = y[epoch * epoch_size : (epoch + 1) * epoch_size]
        share = np.bincount(drawn, minlength=4) / epoch_size
        p = expected(0.0, min(1.0, epoch / epochs))
        np.testing.assert_allclose(share, p, atol=4 * np.sqrt(p * (1 - p) / epoch_size).max(), err_msg=f"epoch {epoch}")
    with pytest.raises(
        ValueError, match=r"Expected `progressive_epochs` to be an int >= 1 or None. Received: progressive_epochs=0"
    ):
        class_balanced_dataset(source, progressive_epochs=0)


def test_tf_data_progressive_sampling_spans_keras_epochs_with_steps_per_epoch():
    import tensorflow as tf

    class Shares(keras.callbacks.Callback):
        """Reads the rarest class's share per epoch from a label-counting metric."""

        def __init__(self):
            super().__init__()
            self.shares = []

        def on_epoch_end(self, epoch, logs=None):
            self.shares.append(logs["share_3"])

    class Share3(keras.metrics.Metric):
        def __init__(self):
            super().__init__(name="share_3")
            self.hits = self.add_variable((), initializer="zeros", name="hits")
            self.total = self.add_variable((), initializer="zeros", name="total")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y = keras.ops.reshape(keras.ops.cast(y_true, "int32"), (-1,))
            self.hits.assign_add(keras.ops.sum(keras.ops.cast(y == 3, "float32")))
            self.total.assign_add(keras.ops.cast(keras.ops.shape(y)[0], "float32"))

        def result(self):
            return self.hits / self.total

    source = tf.data.Dataset.from_tensor_slices((X / 500.0, Y)).cache()
    progressive = class_balanced_dataset(source, power=0.0, epoch_size=3200, progressive_epochs=2, seed=1)
    inputs = keras.Input((2,))
    model = WeightedModel(inputs, keras.layers.Dense(4, activation="softmax")(inputs))
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=[Share3()])
    shares = Shares()
    model.fit(progressive.batch(64), epochs=4, steps_per_epoch=50, callbacks=[shares], verbose=0)
    # Class 3 is 4 of 529 samples: ~0.8% at epoch 0, 12.9% at epoch 1, 25% from epoch 2 on.
    targets = [expected(0.0, min(1.0, e / 2))[3] for e in range(4)]
    np.testing.assert_allclose(shares.shares, targets, atol=4 * np.sqrt(0.25 * 0.75 / 3200))
