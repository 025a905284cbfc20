"""Benchmark records: the machine, versions and settings with every result.

Used by the scripts under `benchmarks/`: each result is written as JSON (for
machines) and as a markdown table (for people), side by side.
"""

import json
import os
import platform


def machine():
    """What the figures were measured on."""
    import keras

    return {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
        "device": "CPU",
        "backend": keras.backend.backend(),
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
        f.write(f"# {title}\n\nMachine: {record['machine']}\n\nSettings: {record['settings']}; "
                f"versions: {record['versions']}\n\n{table}\n")
    return stem
