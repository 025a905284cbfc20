"""A Hyperas model function (a Conv1D classifier, one class 94% of the data), run under Keras Tuner without rewriting it.

`create_model` below is the model as Hyperas users write it, with
`{{choice(...)}}` and `{{uniform(...)}}` markers. `hyperas_tuner` turns each
marker into a Keras Tuner hyperparameter and runs the function per trial; the
dict it returns (`loss`, `status`, `model`) is the trial's result. Here the
returned loss is minus the balanced accuracy, and the model is a
WeightedModel with balanced class weights: the fixes this imbalance needs.

Run: python examples/hyperas_migration.py
"""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from keras.layers import BatchNormalization, Conv1D, Dense, Dropout, Flatten  # noqa: E402
from keras.models import Sequential  # noqa: E402

from weighted_models import BalancedAccuracy, PerClassRecall, WeightedModel  # noqa: E402
from weighted_models.hyperas import hyperas_tuner  # noqa: E402

TRIALS = int(os.environ.get("WEIGHTED_MODELS_EXAMPLE_TRIALS", 4))
kernel_initializer = "glorot_uniform"


def data():
    rng = np.random.default_rng(0)

    def make(n):
        y = rng.choice(4, size=n, p=[0.02, 0.02, 0.02, 0.94])
        x = rng.normal(size=(n, 30, 2)).astype("float32")
        for c in range(3):
            x[y == c, 10:18, c % 2] += 1.0 + c
        return x, y

    x_train, y_train = make(3000)
    x_test, y_test = make(1500)
    return x_train, y_train, x_test, y_test


def create_model(X_train, Y_train, X_test, Y_test):
    model = Sequential()
    # Layer 1
    model.add(
        Conv1D(
            {{choice([32, 64, 90, 128])}},
            {{choice([3, 4, 5, 6, 8])}},
            activation="relu",
            kernel_initializer=kernel_initializer,
            input_shape=X_train.shape[1:],
        )
    )
    model.add(BatchNormalization())
    # Layer 2
    model.add(
        Conv1D({{choice([32, 64, 90, 128])}}, {{choice([3, 4, 5, 6])}}, activation="relu", kernel_initializer=kernel_initializer)
    )
    model.add(Dropout({{uniform(0, 0.9)}}))
    model.add(Flatten())
    model.add(Dense(4, activation="softmax"))
    model = WeightedModel(model)
    model.compile(
        loss="sparse_categorical_crossentropy",
        optimizer={{choice(["rmsprop", "adam", "sgd"])}},
        metrics=[BalancedAccuracy(4), PerClassRecall(4)],
    )
    model.fit(X_train, Y_train, batch_size=64, epochs=3, verbose=0, class_weight="balanced")
    logs = model.evaluate(X_test, Y_test, return_dict=True, verbose=0)
    return {"loss": -logs["balanced_accuracy"], "status": STATUS_OK, "model": model}  # noqa: F821


def main():
    # Hyperas's optim.minimize(model=create_model, data=data, algo=tpe.suggest,
    # max_evals=TRIALS, trials=Trials()) also works as is: each keyword is mapped with a note.
    tuner = hyperas_tuner(
        create_model,
        data,
        max_trials=TRIALS,
        seed=0,
        eval_space=True,
        directory=tempfile.mkdtemp(prefix="hyperas_"),
        project_name="conv1d_classifier",
    )
    tuner.search()
    print("markers found:", tuner.hyperas_function.names)
    print("best run:", tuner.best_run())  # Hyperas's best_run, options rather than indexes
    x_train, y_train, x_test, y_test = data()
    logs = tuner.get_best_models(1)[0].evaluate(x_test, y_test, return_dict=True, verbose=0)
    recall = [round(logs[f"recall_{c}"], 2) for c in range(4)]
    print(f"best model: balanced accuracy {logs['balanced_accuracy']:.3f}, per-class recall {recall}")


if __name__ == "__main__":
    main()
