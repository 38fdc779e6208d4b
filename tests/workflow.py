"""Run Snakemake on this repository's workflow from a scratch working directory."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def workdir(tmp_path: Path) -> Path:
    """A working directory that sees the repo's code the way a run from the repo root does."""
    for name in ("Snakefile", "rules", "scripts", "schemas", "config", "report", "profiles"):
        (tmp_path / name).symlink_to(REPO / name)
    return tmp_path


def paper_config() -> dict:
    return yaml.safe_load((REPO / "config" / "paper.yaml").read_text())


def write_config(folder: Path, config: dict, name: str = "test.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(config))
    return path


def snakemake(cwd: Path, *args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Jobs' `python` must be this interpreter (the venv's) even if the venv is not activated."""
    environment = {**os.environ, **(env or {})}
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
    return subprocess.run(
        [SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False, env=environment
    )


def job_counts(output: str) -> dict[str, int]:
    """Parse the 'job count' table of a dry run."""
    counts = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("total",) and not parts[0].startswith("-"):
            counts[parts[0]] = int(parts[1])
    return counts


def outputs(dry_run: str, pattern: str) -> set[str]:
    """Every path matching ``pattern`` on the output lines of a verbose dry run."""
    lines = [line for line in dry_run.splitlines() if line.strip().startswith("output:")]
    return {path for line in lines for path in re.findall(pattern, line)}


def has(tool: str) -> bool:
    return shutil.which(tool) is not None or Path(sys.executable).with_name(tool).exists()
