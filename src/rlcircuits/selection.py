"""Matched-sample selection (DESIGN §4) and its file contract (§3), from `select` to `attribute`.

Selection, per pair x dataset: keep questions both models answered correctly; T_bar = min(mean
base answer length, mean RL answer length) in tokens over them; then keep a question iff both
prompts have the same token length, the pair-mean answer length m lies in
[int(beta T_bar), int(gamma T_bar)], and |T_base - T_rl| / m <= delta; finally
``random.seed(seed); random.sample(kept, N)`` in the graded files' order, as the paper's code.

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
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlcircuits.errors import InputFormatError
from rlcircuits.files import atomic_output, iter_jsonl

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


def _token_ids(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(t, int) and not isinstance(t, bool) for t in value):
        raise InputFormatError(f"{where} must be a list of integers")
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
                prompt_token_ids=_token_ids(
                    _require(tokens, "prompt_token_ids", f"{where}{role}.", path), f"{path}: {where}{role}.prompt_token_ids"
                ),
                answer_token_ids=_token_ids(
                    _require(tokens, "answer_token_ids", f"{where}{role}.", path), f"{path}: {where}{role}.answer_token_ids"
                ),
            )
        samples.append(SelectedSample(id=str(_require(raw, "id", where, path)), **roles))
    ids = [sample.id for sample in samples]
    if len(set(ids)) != len(ids):
        raise InputFormatError(f"{path}: duplicate sample ids")
    return Selection(t_bar=float(t_bar), samples=tuple(samples))


@dataclass(frozen=True)
class SelectionParams:
    """DESIGN §4's defaults."""

    beta: float = 0.5
    gamma: float = 1.5
    delta: float = 0.5
    n: int = 100
    seed: int = 42


@dataclass(frozen=True)
class GradedAnswer:
    """What selection needs of one graded record."""

    id: str
    correct: bool
    tokens: RoleTokens


def read_graded(path: str | Path) -> list[GradedAnswer]:
    """Graded JSONL records (DESIGN §3), validated for the keys selection relies on."""
    answers = []
    for where, record in iter_jsonl(path, what="graded file"):
        if not isinstance(record, dict):
            raise InputFormatError(f"{where}: expected a JSON object")
        for key in ("id", "correct", "prompt_token_ids", "answer_token_ids"):
            if key not in record:
                raise InputFormatError(f"{where}: missing key {key}")
        if not isinstance(record["correct"], bool):
            raise InputFormatError(f"{where}: correct must be true or false")
        answers.append(
            GradedAnswer(
                id=str(record["id"]),
                correct=record["correct"],
                tokens=RoleTokens(
                    _token_ids(record["prompt_token_ids"], f"{where}: prompt_token_ids"),
                    _token_ids(record["answer_token_ids"], f"{where}: answer_token_ids"),
                ),
            )
        )
    return answers


def select_samples(
    base: Sequence[GradedAnswer], rl: Sequence[GradedAnswer], params: SelectionParams, *, pair: str, dataset: str
) -> dict[str, Any]:
    """The selection record written to ``selection/{pair}/{dataset}.json``."""
    label = f"pair {pair}, dataset {dataset}"
    rl_by_id = {answer.id: answer for answer in rl}
    if len(rl_by_id) != len(rl) or len({a.id for a in base}) != len(base):
        raise InputFormatError(f"{label}: duplicate question ids in the graded files")
    if set(rl_by_id) != {answer.id for answer in base}:
        only = sorted(set(rl_by_id) ^ {answer.id for answer in base})
        raise InputFormatError(f"{label}: base and RL graded different questions (e.g. {', '.join(only[:5])})")
    pairs = [(b, rl_by_id[b.id]) for b in base]
    both = [(b, r) for b, r in pairs if b.correct and r.correct]
    counts = {
        "questions": len(pairs),
        "base_correct": sum(b.correct for b, _ in pairs),
        "rl_correct": sum(r.correct for _, r in pairs),
        "both_correct": len(both),
    }
    if not both:
        raise InputFormatError(f"{label}: no question was answered correctly by both models; nothing to select")
    t_bar = min(
        sum(len(b.tokens.answer_token_ids) for b, _ in both) / len(both),
        sum(len(r.tokens.answer_token_ids) for _, r in both) / len(both),
    )
    low, high = int(params.beta * t_bar), int(params.gamma * t_bar)
    kept = [(b, r) for b, r in both if len(b.tokens.prompt_token_ids) == len(r.tokens.prompt_token_ids)]
    counts["equal_prompt_length"] = len(kept)
    kept = [(b, r) for b, r in kept if low <= _mean_length(b, r) <= high]
    counts["length_window"] = len(kept)
    kept = [(b, r) for b, r in kept if _imbalance(b, r) <= params.delta]
    counts["balanced"] = len(kept)
    if not kept:
        raise InputFormatError(f"{label}: no question survives the length filters (counts: {counts})")
    random.seed(params.seed)
    chosen = random.sample(kept, params.n) if len(kept) >= params.n else list(kept)
    counts["selected"] = len(chosen)
    return {
        "pair": pair,
        "dataset": dataset,
        "t_bar": t_bar,
        "thresholds": {
            "beta": params.beta, "gamma": params.gamma, "delta": params.delta, "n": params.n, "seed": params.seed,
            "min_mean_length": low, "max_mean_length": high,
        },
        "counts": counts,
        "fewer_than_n": len(kept) < params.n,
        "samples": [{"id": b.id, "base": _tokens_json(b.tokens), "rl": _tokens_json(r.tokens)} for b, r in chosen],
    }


def _mean_length(base: GradedAnswer, rl: GradedAnswer) -> float:
    return (len(base.tokens.answer_token_ids) + len(rl.tokens.answer_token_ids)) / 2


def _imbalance(base: GradedAnswer, rl: GradedAnswer) -> float:
    mean = _mean_length(base, rl)
    return abs(len(base.tokens.answer_token_ids) - len(rl.tokens.answer_token_ids)) / mean if mean else math.inf


def _tokens_json(tokens: RoleTokens) -> dict[str, list[int]]:
    return {"prompt_token_ids": list(tokens.prompt_token_ids), "answer_token_ids": list(tokens.answer_token_ids)}


def write_selection(path: str | Path, selection: dict[str, Any]) -> None:
    """Write a selection record atomically, compactly (it holds every chosen token id)."""
    with atomic_output(path, "w") as handle:
        json.dump(selection, handle, separators=(",", ":"))
        handle.write("\n")
