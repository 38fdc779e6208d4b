"""What a report page records about how its numbers were made: versions, commit, models, machine, times.

Kept apart from the page's statistics and rendering: it reads the environment (installed packages,
git, the GPU) and Snakemake's benchmark files, nothing of the results.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from rlcircuits.contracts import ROLES

PACKAGES = (
    "rlcircuits",
    "torch",
    "transformers",
    "numpy",
    "scipy",
    "pandas",
    "matplotlib",
    "math-verify",
    "jinja2",
    "snakemake",
    "trl",
    "vllm",
)


def provenance(config: Mapping[str, Any], benchmarks: Path | None, revisions: Mapping[str, str]) -> dict[str, Any]:
    """Versions, commit, models and resolved revisions, hardware and per-stage run times."""
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, cwd=Path(__file__).parent
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown (not a git checkout)"
    models = [
        {
            "pair": pair,
            "role": role,
            "model": spec[role]["model"],
            "revision": spec[role].get("revision", ""),
            "resolved": revisions.get(spec[role]["model"], "not recorded"),
        }
        for pair, spec in config.get("pairs", {}).items()
        for role in ROLES
    ]
    return {
        "versions": versions,
        "commit": commit,
        "models": models,
        "stage_times": stage_times(benchmarks),
        "hardware": {
            "machine": platform.machine(),
            "processor": platform.processor() or "unknown",
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "gpu": _gpu_name(),
        },
        "config": json.dumps(config, indent=1, sort_keys=True, default=str),
    }


def _gpu_name() -> str:
    try:
        import torch
    except ImportError:
        return "none"
    return torch.cuda.get_device_name() if torch.cuda.is_available() else "none"


def stage_times(benchmarks: Path | None) -> list[dict[str, Any]]:
    """Total wall seconds and job count per rule, from Snakemake's benchmark TSVs (benchmarks/<rule>/...)."""
    if benchmarks is None or not benchmarks.is_dir():
        return []
    totals: dict[str, list[float]] = {}
    for path in sorted(benchmarks.rglob("*.tsv")):
        rule = path.relative_to(benchmarks).parts[0]
        frame = pd.read_csv(path, sep="\t")
        totals.setdefault(rule, []).append(float(frame["s"].iloc[0]))
    return [{"stage": rule, "jobs": len(v), "seconds": f"{sum(v):.1f}"} for rule, v in sorted(totals.items())]
