"""Benchmark records: the machine, versions and settings with every result.

Used by the benchmarks in this package: each result is written as JSON (for
machines) and as a markdown table (for people), side by side. Nothing here
imports TensorFlow unless it is the Keras backend, so the benchmarks also run
where only JAX or PyTorch is installed (the GPU machines).
"""

import argparse
import json
import os
import platform
import statistics


def accelerator():
    """The device the active Keras backend computes on, e.g. `"CPU"` or `"GPU: NVIDIA H100"`."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            device = jax.devices()[0]
            return "CPU" if device.platform == "cpu" else f"{device.platform.upper()}: {device.device_kind}"
        if backend == "torch":
            import torch

            if torch.cuda.is_available():
                return f"GPU: {torch.cuda.get_device_name(0)}"
            return "CPU"
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                details = tf.config.experimental.get_device_details(gpus[0])
                return f"GPU: {details.get('device_name', gpus[0].name)}"
            return "CPU"
    except Exception as error:  # the record should still be written
        return f"unknown ({type(error).__name__}: {error})"
    return "unknown"


def machine():
    """What the figures were measured on: platform, CPUs, device and backend."""
    import keras

    return {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
        "device": accelerator(),
        "backend": keras.backend.backend(),
    }


def versions():
    """Versions of Python, NumPy, Keras, the backend library and weighted_models."""
    import keras
    import numpy as np

    import weighted_models

    found = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "keras": keras.__version__,
        "weighted_models": weighted_models.__version__,
        "backend": keras.backend.backend(),
    }
    if found["backend"] in ("tensorflow", "jax", "torch"):
        found[found["backend"]] = __import__(found["backend"]).__version__
    return found


def summarize(times, baseline):
    """Min/median/max of each variant's timings and its ratio to `baseline`.

    The timings are interleaved rounds (A B C, A B C, ...), so each round
    gives a paired ratio; the median of those pairs is less sensitive to a
    shared machine's slow spells than the ratio of the medians.

    Args:
        times: dict variant -> list of timings, one per round.
        baseline: the variant the ratios are taken against.

    Returns:
        dict variant -> {"min", "median", "max", "median_ratio", "ratio_of_medians"}.
    """
    base = times[baseline]
    return {
        variant: {
            "min": min(values),
            "median": statistics.median(values),
            "max": max(values),
            "median_ratio": statistics.median(v / b for v, b in zip(values, base)),
            "ratio_of_medians": statistics.median(values) / statistics.median(base),
        }
        for variant, values in times.items()
    }


def save_results(record, *, table, title, out, quick):
    """Writes `record` (JSON) and `table` (markdown) under `out`; returns the path stem.

    Args:
        record: a dict with at least `benchmark`, `settings`, `versions`,
            `results`; the machine is added.
        table: the markdown table of the results.
        title: the markdown heading.
        out: the results folder.
        quick: whether this is a quick run (files get a `_quick` suffix).
    """
    record = {**record, "machine": machine()}
    os.makedirs(out, exist_ok=True)
    stem = os.path.join(out, record["benchmark"] + ("_quick" if quick else ""))
    with open(stem + ".json", "w") as f:
        json.dump(record, f, indent=2)
    with open(stem + ".md", "w") as f:
        f.write(
            f"# {title}\n\nMachine: {record['machine']}\n\nSettings: {record['settings']}; "
            f"versions: {record['versions']}\n\n{table}\n"
        )
    return stem


DEFAULT_OUT = os.path.join("benchmarks", "results")


def benchmark_parser(name, doc, *, quick_help, rounds=False):
    """The arguments every benchmark takes: `--quick`, `--out` (and `--rounds`).

    Args:
        name: the benchmark module's `__name__`; the usage line says
            `weighted-models bench NAME`.
        doc: the benchmark module's docstring; its first line is the description.
        quick_help: what `--quick` shortens.
        rounds: whether the benchmark repeats interleaved rounds that
            `--rounds` overrides.

    Returns:
        An `argparse.ArgumentParser` the benchmark adds its own arguments to.
    """
    parser = argparse.ArgumentParser(prog="weighted-models bench " + name.rsplit(".", 1)[-1], description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument(
        "--out", default=DEFAULT_OUT, help=f"folder for the JSON, markdown and PNG results (default {DEFAULT_OUT})"
    )
    if rounds:
        parser.add_argument("--rounds", type=int, default=None, help="override the number of rounds")
    return parser
