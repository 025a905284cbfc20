"""The package's metadata: one version source."""

import configparser
import pathlib
from importlib.metadata import version

import weighted_models

ROOT = pathlib.Path(__file__).parents[1]


def test_the_version_has_one_source():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    assert config["metadata"]["version"] == "attr: weighted_models.__version__"
    assert version(config["metadata"]["name"]) == weighted_models.__version__  # what pip installed
    assert f"## {weighted_models.__version__}" in (ROOT / "CHANGELOG.md").read_text()
