"""Callbacks: class-weight schedules and a per-class report.

Class-weight tables live in variables, so a schedule changes the weights in
force between epochs without retracing the training step.
"""

import importlib.util
import os

import keras
import numpy as np

from weighted_models.metrics import ConfusionMatrix, per_class_scores


class ClassWeightScheduler(keras.callbacks.Callback):
    """Moves the class weights of a `WeightedModel` from uniform to their target.

    At the start of every epoch `alpha = schedule(epoch)` (0-based epoch) sets
    the weights in force from the target table `w` of the `fit` (its
    `class_weight`, or `compile`'s):

    - `interpolation="linear"`: `1 + alpha * (w - 1)`;
    - `interpolation="power"`: `w ** alpha`.

    `alpha = 0` trains unweighted, `alpha = 1` with the target weights. The
    value is logged as `class_weight_alpha`. Validation (with
    `validation_class_weight=True`) always uses the target weights.

    Args:
        schedule: a function of the epoch index returning `alpha` in `[0, 1]`.
        interpolation: `"linear"` or `"power"`.
        verbose: print `alpha` when it changes.

    Examples:
        ```python
        warm_up = ClassWeightScheduler(lambda epoch: min(1.0, epoch / 10))
        model.fit(x, y, class_weight="balanced", epochs=30, callbacks=[warm_up])
        ```
    """

    def __init__(self, schedule, interpolation="linear", verbose=0):
        super().__init__()
        if interpolation not in ("linear", "power"):
            raise ValueError(f"Expected `interpolation` to be 'linear' or 'power'. Received: interpolation={interpolation!r}")
        self.schedule = schedule
        self.interpolation = interpolation
        self.verbose = verbose
        self._alpha = None
        self._targets = None

    def on_train_begin(self, logs=None):
        from weighted_models.model import WeightedModel

        if not isinstance(self.model, WeightedModel):
            raise TypeError(
                f"{type(self).__name__} schedules the class weights of a WeightedModel. "
                f"Received a model of type {type(self.model).__name__}."
            )
        self._targets = self.model.class_weight_tables
        if not self._targets or all(t is None for t in self._targets.values()):
            raise ValueError(f"{type(self).__name__} needs class weights to schedule: pass `class_weight` to `fit` or `compile`.")
        self._alpha = None

    def _tables(self, alpha):
        if self.interpolation == "linear":
            return {k: None if w is None else 1.0 + alpha * (w - 1.0) for k, w in self._targets.items()}
        return {k: None if w is None else np.power(w, alpha) for k, w in self._targets.items()}

    def on_epoch_begin(self, epoch, logs=None):
        alpha = float(self.schedule(epoch))
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"The schedule must return alpha in [0, 1]. Received {alpha} for epoch {epoch}.")
        if alpha != self._alpha:
            self.model.assign_class_weight_tables(self._tables(alpha))
            if self.verbose:
                print(f"\nEpoch {epoch + 1}: class weights at alpha={alpha:g}.")
        self._alpha = alpha

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["class_weight_alpha"] = self._alpha

    def on_train_end(self, logs=None):
        # Leave the model with its target weights, as after a plain fit.
        self.model.assign_class_weight_tables(self._targets)


class DeferredReweighting(ClassWeightScheduler):
    """Deferred re-weighting (Cao et al., "Learning Imbalanced Datasets with
    Label-Distribution-Aware Margin Loss", NeurIPS 2019).

    Trains with uniform weights until `start_epoch`, then with the target
    class weights of the `fit`.

    Args:
        start_epoch: first (0-based) epoch trained with the class weights.

    Examples:
        ```python
        model.fit(x, y, epochs=30, class_weight=EffectiveNumber(0.999),
                  callbacks=[DeferredReweighting(start_epoch=20)])
        ```
    """

    def __init__(self, start_epoch, verbose=0):
        if not isinstance(start_epoch, int) or start_epoch < 0:
            raise ValueError(f"Expected `start_epoch` to be an int >= 0. Received: start_epoch={start_epoch!r}")
        self.start_epoch = start_epoch
        super().__init__(lambda epoch: 0.0 if epoch < start_epoch else 1.0, verbose=verbose)


class PerClassReport(keras.callbacks.Callback):
    """Prints precision, recall, F1 and support per class, and logs them.

    At the chosen epochs it predicts `validation_data`, accumulates a weighted
    confusion matrix and prints a report like scikit-learn's
    `classification_report`, plus balanced accuracy and macro F1. The figures
    go into the epoch logs as `<prefix><score>_<class>` (e.g.
    `val_recall_3`), so History and TensorBoard record them.

    With `log_dir`, it also writes TensorBoard summaries at the same epochs:
    the per-class recall as scalars (`per_class_recall/<class>`) and the
    confusion matrix as an image (`confusion_matrix`: rows are true classes,
    cells coloured by row share and labelled with the weighted counts).
    Drawing the image needs matplotlib (`pip install 'weighted_models[plot]'`);
    writing the summaries uses TensorFlow's summary writer on every backend.

    Args:
        validation_data: `(x, y)` or `(x, y, sample_weight)` arrays, or a
            `tf.data.Dataset` of such batches.
        freq: report every `freq` epochs (an int), or at the listed 1-based
            epochs (a list), like `fit`'s `validation_freq`.
        output: the output to report on, for multi-output models (its name).
        class_names: names of the classes, for the printed table and the logs.
        batch_size: batch size for predicting arrays.
        prefix: prefix of the logged names.
        print_fn: where the report goes (`print`; `None` to log only).
        log_dir: where to write TensorBoard summaries: a folder, or the
            `keras.callbacks.TensorBoard` callback of the same `fit` (then
            its `validation` run, beside Keras's `epoch_*` validation
            scalars). `None` writes none.

    Raises:
        ValueError: `freq` is not an int >= 1 or a list of epochs.
        TypeError: `log_dir` is neither a path nor a TensorBoard callback.
        ImportError: `log_dir` is given and matplotlib is not installed.

    Examples:
        ```python
        tensorboard = keras.callbacks.TensorBoard("logs")
        report = PerClassReport((x_val, y_val), class_names=["cat", "dog", "bird"],
                                log_dir=tensorboard)
        model.fit(x, y, epochs=10, callbacks=[tensorboard, report])
        ```
    """

    def __init__(
        self,
        validation_data,
        *,
        freq=1,
        output=None,
        class_names=None,
        batch_size=None,
        prefix="val_",
        print_fn=print,
        log_dir=None,
    ):
        super().__init__()
        if not (isinstance(freq, int) and freq >= 1) and not isinstance(freq, (list, tuple)):
            raise ValueError(f"Expected `freq` to be an int >= 1 or a list of epochs. Received: freq={freq!r}")
        if log_dir is not None:
            if not isinstance(log_dir, (str, os.PathLike, keras.callbacks.TensorBoard)):
                raise TypeError(
                    "Expected `log_dir` to be a folder or a keras.callbacks.TensorBoard callback. "
                    f"Received: log_dir={log_dir!r} of type {type(log_dir).__name__}"
                )
            if importlib.util.find_spec("matplotlib") is None:
                raise ImportError(
                    "PerClassReport(log_dir=...) draws the confusion matrix with matplotlib: pip install 'weighted_models[plot]'"
                )
        self.log_dir = log_dir
        self._writer = None
        self.validation_data = validation_data
        self.freq = freq
        self.output = output
        self.class_names = class_names
        self.batch_size = batch_size
        self.prefix = prefix
        self.print_fn = print_fn

    def _due(self, epoch):
        if isinstance(self.freq, int):
            return (epoch + 1) % self.freq == 0
        return (epoch + 1) in self.freq

    def _select(self, value):
        if self.output is None:
            if isinstance(value, (dict, list, tuple)):
                raise ValueError("This model has several outputs: pass `output=` (an output name) to PerClassReport.")
            return value
        if isinstance(value, dict):
            return value[self.output]
        names = list(self.model.output_names)
        if self.output not in names:
            raise ValueError(f"Unknown output {self.output!r}. Expected one of {names}.")
        return value[names.index(self.output)]

    def _batches(self):
        data = self.validation_data
        if isinstance(data, (tuple, list)):
            x, y, sw = (tuple(data) + (None,))[:3]
            yield x, y, sw, self.model.predict(x, batch_size=self.batch_size, verbose=0)
            return
        for batch in data:
            x, y, sw = keras.utils.unpack_x_y_sample_weight(batch)
            yield x, y, sw, self.model.predict_on_batch(x)

    def report(self):
        """The per-class scores on `validation_data`, as a dict of NumPy arrays.

        Returns:
            `precision`, `recall`, `f1`, `specificity`, `support`, `present`
            (per class), `confusion_matrix` (rows true, columns predicted,
            weighted counts), and the floats `macro_f1` and
            `balanced_accuracy`.
        """
        matrix = None
        for _, y, sw, y_pred in self._batches():
            y, y_pred = self._select(y), self._select(y_pred)
            if isinstance(sw, (dict, list, tuple)):
                sw = self._select(sw)
            if matrix is None:
                units = np.shape(y_pred)[-1]
                matrix = ConfusionMatrix(2 if units == 1 else int(units))
            matrix.update_state(y, y_pred, sw)
        confusion = matrix.result()
        scores = {k: keras.ops.convert_to_numpy(v) for k, v in per_class_scores(confusion).items()}
        scores["confusion_matrix"] = keras.ops.convert_to_numpy(confusion)
        present, supported = scores["present"] > 0, scores["support"] > 0
        scores["macro_f1"] = float(scores["f1"][present].mean()) if present.any() else 0.0
        scores["balanced_accuracy"] = float(scores["recall"][supported].mean()) if supported.any() else 0.0
        return scores

    def on_epoch_end(self, epoch, logs=None):
        if not self._due(epoch):
            return
        scores = self.report()
        n = len(scores["recall"])
        names = [str(c) for c in (self.class_names or range(n))]
        if len(names) != n:
            raise ValueError(f"`class_names` has {len(names)} names for {n} classes.")
        if logs is not None:
            for score in ("precision", "recall", "f1", "support"):
                for name, value in zip(names, scores[score]):
                    logs[f"{self.prefix}{score}_{name}"] = float(value)
            logs[f"{self.prefix}report_macro_f1"] = scores["macro_f1"]
            logs[f"{self.prefix}report_balanced_accuracy"] = scores["balanced_accuracy"]
        if self.log_dir is not None:
            self._write_summaries(epoch, scores, names)
        if self.print_fn is not None:
            width = max(8, max(len(s) for s in names))
            lines = [
                f"\nPer-class report, epoch {epoch + 1}",
                f"{'class':>{width}} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>9}",
            ]
            for i, name in enumerate(names):
                lines.append(
                    f"{name:>{width}} {scores['precision'][i]:>9.3f} {scores['recall'][i]:>9.3f} "
                    f"{scores['f1'][i]:>9.3f} {scores['support'][i]:>9.0f}"
                )
            lines.append(
                f"{'macro F1':>{width}} {scores['macro_f1']:>9.3f}   balanced accuracy {scores['balanced_accuracy']:.3f}"
            )
            self.print_fn("\n".join(lines))

    def _write_summaries(self, epoch, scores, names):
        import tensorflow as tf

        if self._writer is None:
            folder = self.log_dir
            if isinstance(folder, keras.callbacks.TensorBoard):
                folder = os.path.join(folder.log_dir, "validation")
            self._writer = tf.summary.create_file_writer(os.fspath(folder))
        image = _confusion_matrix_image(scores["confusion_matrix"], names, epoch)
        with self._writer.as_default():
            for name, value in zip(names, scores["recall"]):
                tf.summary.scalar(f"per_class_recall/{name}", float(value), step=epoch)
            tf.summary.image("confusion_matrix", image[None], step=epoch)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _confusion_matrix_image(confusion, names, epoch):
    """The confusion matrix drawn as an `(H, W, 4)` uint8 RGBA array."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = confusion.sum(axis=1, keepdims=True)
    share = np.divide(confusion, rows, out=np.zeros_like(confusion, dtype="float64"), where=rows > 0)
    n = len(names)
    size = min(12.0, 3.5 + 0.45 * n)
    fig, ax = plt.subplots(figsize=(size, size), dpi=100)
    ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    ticks = np.arange(n)
    ax.set_xticks(ticks, names, rotation=45 if n > 6 else 0, ha="right" if n > 6 else "center")
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted class\n(colour: share of the true class)", fontsize=9)
    ax.set_ylabel("true class", fontsize=9)
    ax.set_title(f"Confusion matrix, epoch {epoch + 1}", fontsize=10)
    if n <= 30:
        integral = np.allclose(confusion, np.round(confusion))
        for i in range(n):
            for j in range(n):
                text = f"{confusion[i, j]:.0f}" if integral else f"{confusion[i, j]:.3g}"
                ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if share[i, j] > 0.5 else "black")
    fig.tight_layout()
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba()).copy()
    plt.close(fig)
    return image
