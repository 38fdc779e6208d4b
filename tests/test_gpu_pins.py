"""The container lane runs on the image's pin set (envs/requirements-gpu.txt) exactly, and that set is
consistent, so a conflicting bump fails CI.

The lane's venv is installed from that file by pip's resolver on Python 3.11 (.ci/run), as the image's
is (Dockerfile): a bump that cannot resolve (torch 2.8.0 beside vLLM 0.9.0.1, which requires 2.7.0)
fails there. These tests check what the install left: every pin installed at its version, and no
installed package's requirement broken (`pip check`). They run in the container lane only.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

pytestmark = pytest.mark.container_lane

GPU_SET = Path(__file__).resolve().parents[1] / "envs" / "requirements-gpu.txt"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(text: str) -> dict[str, str]:
    lines = (line.split("#")[0].strip() for line in text.splitlines())
    return {_canonical(name): version for name, version in (line.split("==") for line in lines if line)}


def _installed() -> dict[str, str]:
    return {_canonical(dist.metadata["Name"]): dist.version for dist in metadata.distributions()}


def _mismatches(pins: dict[str, str], installed: dict[str, str]) -> dict[str, tuple[str, str | None]]:
    """Pinned name -> (pinned version, installed version or None) wherever the two differ."""
    return {name: (version, installed.get(name)) for name, version in pins.items() if installed.get(name) != version}


def test_the_lane_runs_on_every_pin_of_the_image_set():
    installed = _installed()
    assert _mismatches(_pins(GPU_SET.read_text()), installed) == {}
    assert any(name.startswith("nvidia-") for name in installed), "torch 2.7.0's CUDA libraries are part of the set"


def test_a_changed_pin_is_a_mismatch():
    """The check can fail: the set with torch bumped does not describe the lane's venv."""
    text = GPU_SET.read_text()
    assert "\ntorch==2.7.0\n" in text
    bumped = _pins(text.replace("\ntorch==2.7.0\n", "\ntorch==2.8.0\n"))
    assert _mismatches(bumped, _installed()) == {"torch": ("2.8.0", "2.7.0")}


def test_no_installed_requirement_is_broken():
    done = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
