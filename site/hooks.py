"""MkDocs hook: the benchmark plots are served from `benchmarks/results/`.

The PNGs are written by the benchmarks next to their JSON and markdown, so the
site takes them from there instead of keeping copies under `docs/`.
"""

import pathlib

from mkdocs.structure.files import File

ROOT = pathlib.Path(__file__).resolve().parents[1]


def on_files(files, config):
    for png in sorted((ROOT / "benchmarks" / "results").glob("*.png")):
        path = png.relative_to(ROOT).as_posix()
        files.append(File(path, str(ROOT), config["site_dir"], config["use_directory_urls"]))
    return files
