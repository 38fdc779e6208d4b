"""The selection file contract (DESIGN §3): matched samples handed from `select` to `attribute`.

``selection/{pair}/{dataset}.json`` holds at least::

    {"t_bar": 412.5,
     "samples": [{"id": "gsm8k-17",
                  "base": {"prompt_token_ids": [...], "answer_token_ids": [...]},
                  "rl":   {"prompt_token_ids": [...], "answer_token_ids": [...]}}, ...]}

plus the thresholds and per-filter counts that the report shows. Reading validates every key
the attribution stage relies on and names the file and key at fault.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlcircuits.errors import InputFormatError

ROLES = ("base", "rl")


@dataclass(frozen=True)
class RoleTokens:
    """One model's exact prompt and answer token ids for a question."""

    prompt_token_ids: tuple[int, ...]
    answer_token_ids: tuple[int, ...]


@dataclass(frozen=True)
class SelectedSample:
    id: str
    base: RoleTokens
    rl: RoleTokens

    def role(self, role: str) -> RoleTokens:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        return self.base if role == "base" else self.rl


@dataclass(frozen=True)
class Selection:
    t_bar: float
    samples: tuple[SelectedSample, ...]


def _token_ids(value: Any, where: str, path: Path) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(t, int) and not isinstance(t, bool) for t in value):
        raise InputFormatError(f"{path}: {where} must be a list of integers")
    return tuple(value)


def _require(mapping: Any, key: str, where: str, path: Path) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise InputFormatError(f"{path}: missing key {where}{key}")
    return mapping[key]


def read_selection(path: str | Path) -> Selection:
    """Parse and validate a selection file; an empty sample list is an error here."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputFormatError(f"{path}: selection file not found") from None
    except json.JSONDecodeError as exc:
        raise InputFormatError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    t_bar = _require(data, "t_bar", "", path)
    if not isinstance(t_bar, int | float) or isinstance(t_bar, bool) or not math.isfinite(t_bar) or t_bar <= 0:
        raise InputFormatError(f"{path}: t_bar must be a positive number, got {t_bar!r}")
    raw_samples = _require(data, "samples", "", path)
    if not isinstance(raw_samples, list):
        raise InputFormatError(f"{path}: samples must be a list")
    if not raw_samples:
        raise InputFormatError(f"{path}: the selection is empty (no samples to attribute)")
    samples = []
    for index, raw in enumerate(raw_samples):
        where = f"samples[{index}]."
        roles = {}
        for role in ROLES:
            tokens = _require(raw, role, where, path)
            roles[role] = RoleTokens(
                prompt_token_ids=_token_ids(_require(tokens, "prompt_token_ids", f"{where}{role}.", path), f"{where}{role}.prompt_token_ids", path),
                answer_token_ids=_token_ids(_require(tokens, "answer_token_ids", f"{where}{role}.", path), f"{where}{role}.answer_token_ids", path),
            )
        samples.append(SelectedSample(id=str(_require(raw, "id", where, path)), **roles))
    ids = [sample.id for sample in samples]
    if len(set(ids)) != len(ids):
        raise InputFormatError(f"{path}: duplicate sample ids")
    return Selection(t_bar=float(t_bar), samples=tuple(samples))
