"""Table 1 (metric changes per pair x dataset x alpha) from the per-cell metrics records.

One row per cell and metric. The default convention's columns (base, rl, difference, its CI,
the direction and the p-value) are all about one estimand, RL - base of the metric as shown;
the ``paper_*`` columns give the same cell in the paper's normalisation, for comparison with
its published numbers. q-values are Benjamini-Hochberg over every row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rlcircuits.contracts import ROLES, read_graded
from rlcircuits.errors import InputFormatError, SettingsError
from rlcircuits.files import atomic_output, read_json
from rlcircuits.stats import benjamini_hochberg
from rlcircuits.vocabulary import EXPECTED_DIRECTION, METRICS

SIGNIFICANCE_LEVEL = 0.05
TABLE1_COLUMNS = (
    "pair",
    "algorithm",
    "dataset",
    "alpha",
    "metric",
    "n",
    "base",
    "rl",
    "difference",
    "ci_low",
    "ci_high",
    "relative_change",
    "expected",
    "as_expected",
    "test",
    "p_value",
    "q_value",
    "significant",
    "paper_base",
    "paper_rl",
    "paper_relative_change",
)
RESULT_KEYS = ("test", "base", "rl", "difference", "ci_low", "ci_high", "p_value", "n", "paper")


def read_cell(path: str | Path) -> dict[str, Any]:
    """A metrics record written by `analyze`, checked for the keys Table 1 reads."""
    record = read_json(path, "metrics file")
    for key in ("pair", "dataset", "alpha", "metrics"):
        if key not in record:
            raise InputFormatError(f"{path}: missing key {key}")
    missing = [m for m in METRICS if m not in record["metrics"]]
    if missing:
        raise InputFormatError(f"{path}: missing metrics {', '.join(missing)} (written by an older analyze? rerun it)")
    for metric in METRICS:
        absent = [key for key in RESULT_KEYS if key not in record["metrics"][metric]]
        if absent:
            raise InputFormatError(
                f"{path}: metrics.{metric} lacks {', '.join(absent)} (written by an older analyze? rerun it)"
            )
    return record


def table1(cells: Iterable[Mapping[str, Any]], algorithms: Mapping[str, str]) -> pd.DataFrame:
    """One row per cell and metric; q-values are Benjamini-Hochberg over every row."""
    rows = []
    for cell in cells:
        for metric in METRICS:
            result = cell["metrics"][metric]
            paper = result["paper"]
            rows.append(
                {
                    "pair": cell["pair"],
                    "algorithm": algorithms.get(cell["pair"], "unknown"),
                    "dataset": cell["dataset"],
                    "alpha": float(cell["alpha"]),
                    "metric": metric,
                    "n": result["n"],
                    **{key: result[key] for key in ("base", "rl", "difference", "ci_low", "ci_high")},
                    "relative_change": _relative(result["base"], result["rl"]),
                    "expected": "up" if EXPECTED_DIRECTION[metric] > 0 else "down",
                    "as_expected": bool(np.sign(result["difference"]) == EXPECTED_DIRECTION[metric]),
                    "test": result["test"],
                    "p_value": result["p_value"],
                    "paper_base": paper["base"],
                    "paper_rl": paper["rl"],
                    "paper_relative_change": _relative(paper["base"], paper["rl"]),
                }
            )
    frame = pd.DataFrame(rows, columns=[c for c in TABLE1_COLUMNS if c not in ("q_value", "significant")])
    frame["q_value"] = benjamini_hochberg(frame["p_value"].to_numpy()) if len(frame) else []
    frame["significant"] = frame["q_value"] < SIGNIFICANCE_LEVEL
    order = {m: i for i, m in enumerate(METRICS)}
    frame = frame.sort_values(
        ["pair", "dataset", "alpha", "metric"], key=lambda c: c.map(order) if c.name == "metric" else c
    )
    return frame.reset_index(drop=True)[list(TABLE1_COLUMNS)]


def _relative(base: float, rl: float) -> float:
    return (rl - base) / abs(base) if base else np.nan


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Atomic, byte-stable CSV (same inputs, same bytes)."""
    with atomic_output(path, "w") as handle:
        frame.to_csv(handle, index=False, float_format="%.10g", lineterminator="\n")


# --- Table 4: accuracy per pair x role x dataset ------------------------------------------------

TABLE4_COLUMNS = ("pair", "role", "dataset", "n", "n_correct", "accuracy_pct", "no_answer", "timeouts", "crashed")


def _accuracy_row(pair: str, role: str, dataset: str, path: Path) -> dict[str, Any]:
    """One Table 4 row: a pair's role on a dataset, read from the graded file of that role's model."""
    if role not in ROLES:
        raise SettingsError(f"Table 4 cell {pair}/{role}/{dataset}: role must be one of {ROLES}")
    records = read_graded(path)
    if not records:
        raise InputFormatError(f"{path}: graded file has no records")
    statuses = [record.grade_status for record in records]
    n_correct = sum(record.correct for record in records)
    return {
        "pair": pair,
        "role": role,
        "dataset": dataset,
        "n": len(records),
        "n_correct": n_correct,
        "accuracy_pct": 100.0 * n_correct / len(records),
        "no_answer": statuses.count("no_answer"),
        "timeouts": statuses.count("timeout"),
        "crashed": statuses.count("crashed"),
    }


def table4(cells: Iterable[tuple[str, str, str, str | Path]]) -> pd.DataFrame:
    """Accuracy per pair x role x dataset, sorted by pair, dataset, role (base before rl).

    Each cell is (pair, role, dataset, graded file); pairs that share a model share its file.
    """
    rows = [_accuracy_row(pair, role, dataset, Path(path)) for pair, role, dataset, path in cells]
    keys = [(r["pair"], r["role"], r["dataset"]) for r in rows]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise InputFormatError(f"Table 4 cell pair/role/dataset {'/'.join(duplicates[0])} is given twice")
    frame = pd.DataFrame(rows, columns=list(TABLE4_COLUMNS))
    return frame.sort_values(["pair", "dataset", "role"]).reset_index(drop=True)
