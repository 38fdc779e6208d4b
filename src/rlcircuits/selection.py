"""Matched-sample selection (docs/DESIGN.md §4), from both models' graded answers to the `select` stage's record.

Selection, per pair x dataset: keep questions both models answered correctly; T_bar = min(mean
base answer length, mean RL answer length) in tokens over them; then keep a question iff both
prompts have the same token length, the pair-mean answer length m lies in
[int(beta T_bar), int(gamma T_bar)], and |T_base - T_rl| / m <= delta; finally
``random.seed(seed); random.sample(kept, N)`` in the graded files' order, as the paper's code.
The record and its file (``selection/{pair}/{dataset}.json``): rlcircuits.contracts.Selection.

Selection against the base (``select_against_base``, config ``selection.shared: base``) applies the
same arithmetic to the base alone, so that every model tuned from one base is measured on one
question set: the base answered correctly, its answer length within [int(beta T_bar),
int(gamma T_bar)] of its mean T_bar over those (the prompt and balance filters hold trivially),
then the same seeded draw; each tuned model is scored on its own answer to those questions, right
or wrong.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rlcircuits.contracts import GradedRecord, RoleTokens, SelectedSample, Selection
from rlcircuits.errors import InputFormatError


@dataclass(frozen=True)
class SelectionParams:
    """docs/DESIGN.md §4's defaults."""

    beta: float = 0.5
    gamma: float = 1.5
    delta: float = 0.5
    n: int = 100
    seed: int = 42


def select_samples(
    base: Sequence[GradedRecord], rl: Sequence[GradedRecord], params: SelectionParams, *, pair: str, dataset: str
) -> Selection:
    """The selection written to ``selection/{pair}/{dataset}.json``."""
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
        sum(len(b.answer_token_ids) for b, _ in both) / len(both),
        sum(len(r.answer_token_ids) for _, r in both) / len(both),
    )
    low, high = int(params.beta * t_bar), int(params.gamma * t_bar)
    kept = [(b, r) for b, r in both if len(b.prompt_token_ids) == len(r.prompt_token_ids)]
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
    return Selection(
        pair=pair,
        dataset=dataset,
        t_bar=t_bar,
        thresholds={
            "beta": params.beta,
            "gamma": params.gamma,
            "delta": params.delta,
            "n": params.n,
            "seed": params.seed,
            "min_mean_length": low,
            "max_mean_length": high,
        },
        counts=counts,
        fewer_than_n=len(kept) < params.n,
        samples=tuple(SelectedSample(b.id, _tokens(b), _tokens(r)) for b, r in chosen),
    )


def _tokens(answer: GradedRecord) -> RoleTokens:
    return RoleTokens(answer.prompt_token_ids, answer.answer_token_ids)


def _mean_length(base: GradedRecord, rl: GradedRecord) -> float:
    return (len(base.answer_token_ids) + len(rl.answer_token_ids)) / 2


def _imbalance(base: GradedRecord, rl: GradedRecord) -> float:
    mean = _mean_length(base, rl)
    return abs(len(base.answer_token_ids) - len(rl.answer_token_ids)) / mean if mean else math.inf


def select_against_base(
    base: Sequence[GradedRecord], rl: Sequence[GradedRecord], params: SelectionParams, *, pair: str, dataset: str
) -> Selection:
    """The question set chosen on the base alone (the same for every model tuned from it), with ``rl``'s answers."""
    label = f"pair {pair}, dataset {dataset}"
    chosen = select_samples(base, base, params, pair=pair, dataset=dataset)
    rl_by_id = {answer.id: answer for answer in rl}
    if len(rl_by_id) != len(rl) or set(rl_by_id) != {answer.id for answer in base}:
        raise InputFormatError(f"{label}: the tuned model's graded file does not answer exactly the base's questions")
    counts = {  # the base against itself counted its own answers as the RL ones: the tuned model's here
        **chosen.counts,
        "rl_correct": sum(answer.correct for answer in rl),
        "both_correct": sum(b.correct and rl_by_id[b.id].correct for b in base),
        "selected_rl_correct": sum(rl_by_id[s.id].correct for s in chosen.samples),
    }
    samples = tuple(SelectedSample(s.id, s.base, _tokens(rl_by_id[s.id])) for s in chosen.samples)
    return replace(chosen, counts=counts, samples=samples)
