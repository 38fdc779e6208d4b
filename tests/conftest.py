"""Test helpers (tiny_models, fd_reference, workflow, cli_failure, …) are plain modules of this folder,
importable through pytest's `pythonpath` (pyproject.toml), where the markers are registered too."""

import pytest


# --- the container lane of .ci/run: pytest --container-lane under envs/requirements-gpu.txt ------
def pytest_addoption(parser):
    parser.addoption(
        "--container-lane",
        action="store_true",
        help="under the image's pin set: skip the snakemake and trl tests, run the container_lane ones",
    )


def pytest_collection_modifyitems(config, items):
    """Skips come from the markers, with their registered reasons, never from a missing import."""
    reasons = {name.strip(): text for name, _, text in (line.partition(":") for line in config.getini("markers"))}
    lane = config.getoption("--container-lane")
    skipped = ("snakemake", "trl") if lane else ("container_lane",)
    for item in items:
        for name in skipped:
            if item.get_closest_marker(name):
                item.add_marker(pytest.mark.skip(reason=f"{name}:{reasons[name]}"))
