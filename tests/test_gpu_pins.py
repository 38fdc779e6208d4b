"""The image's pin set (envs/requirements-gpu.txt) resolves for Python 3.11, so a conflicting bump fails CI.

pip resolves it as for the image (``--python-version 3.11``, wheels only, nothing installed: a dry run
into an empty target). It fetches the index pages and the wheels' metadata, about a minute per run here,
so these run in the container lane only.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.container_lane

GPU_SET = Path(__file__).resolve().parents[1] / "envs" / "requirements-gpu.txt"


def _resolve(requirements: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess, Path]:
    report = tmp_path / "report.json"
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--dry-run",
        "--ignore-installed",
        "--quiet",
        "--python-version",
        "3.11",
        "--only-binary=:all:",
        "--target",
        str(tmp_path / "target"),
        "--report",
        str(report),
        "-r",
        str(requirements),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=900), report


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_gpu_pin_set_resolves_for_python_311_as_pinned(tmp_path):
    done, report = _resolve(GPU_SET, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not (tmp_path / "target").exists(), "a dry run installs nothing"
    chosen = {
        _canonical(item["metadata"]["name"]): item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }
    pins = dict(
        line.split("==") for line in (line.split("#")[0].strip() for line in GPU_SET.read_text().splitlines()) if line
    )
    assert {_canonical(name): version for name, version in pins.items()}.items() <= chosen.items()
    assert any(name.startswith("nvidia-") for name in chosen), "torch 2.7.0's CUDA libraries are part of the set"


def test_a_conflicting_pin_fails_to_resolve(tmp_path):
    """vLLM 0.9.0.1 requires torch 2.7.0: bumping torch alone must fail."""
    bumped = tmp_path / "requirements-gpu.txt"
    text = GPU_SET.read_text()
    assert "\ntorch==2.7.0\n" in text
    bumped.write_text(text.replace("\ntorch==2.7.0\n", "\ntorch==2.8.0\n"))
    done, _ = _resolve(bumped, tmp_path)
    assert done.returncode != 0
    assert "ResolutionImpossible" in done.stderr and "torch==2.8.0" in done.stderr, done.stderr[-3000:]
