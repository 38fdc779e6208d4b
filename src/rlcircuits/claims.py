"""The claims checklist: does this run back each of the paper's claims? (docs/DESIGN.md §4 "Claims checklist")

The model pair is the unit of replication (in the study, each seed is a pair). A claim's cells
(datasets x alphas) share a pair's two models and its questions, so a pair that moves for a
reason unrelated to its algorithm moves all its cells together: cells are not independent
evidence. Each pair is therefore summarised over its cells first (its mean relative change per
metric), each pair's summary gives it one direction for or against the claim, and the claim is
judged by an exact one-sided sign test over the pairs, at the family-wise level 0.05 / K
(Bonferroni over the K rows). A design with so few pairs that even a unanimous set cannot pass
says so ("the design cannot tell"), never "inconclusive". Per-cell significance stays in Table 1
(Benjamini-Hochberg); here each pair's count of significant cells is shown as evidence only.

Rows are grouped by the algorithm a claim is about (rlcircuits.vocabulary.claim_group): the
online-RL claims count online pairs of an RL family only, the DPO claim offline DPO pairs only;
the continued-SFT control is never counted as RL or as DPO.

"Offline DPO does not move the metrics as online RL does" needs positive evidence: a DPO pair
counts for it when none of its metrics moves the online-RL way by DPO_MARGIN (a relative change)
or more, against it when every metric does; the same sign test over the DPO pairs decides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from rlcircuits.vocabulary import (
    CANNOT_TELL,
    CLAIM_TEXTS,
    CONTRADICTED,
    DPO_CLAIM,
    EXPECTED_DIRECTION,
    INCONCLUSIVE,
    METRICS,
    NO_DATA,
    OFFLINE_DPO,
    ONLINE_DPO,
    ONLINE_RL,
    SUPPORTED,
    VERDICT_MEANINGS,
    claim_group,
)

CLAIMS = tuple(CLAIM_TEXTS.items())  # (metric, the online-RL claim about it)
FAMILY_LEVEL = 0.05  # family-wise level of the checklist (Bonferroni over its rows)
DPO_MARGIN = 0.05  # the DPO claim's equivalence margin: a 5% relative change the online-RL way
VERDICT_RULE = (
    "The model pair is the unit of replication (in the controlled study, each seed): a pair's cells share its "
    "two models and its questions, so they are not independent evidence. Each pair is first summarised over its "
    "dataset × α cells by its mean relative change per metric, which gives it one direction: for the claim or "
    "against it. A claim is judged by an exact one-sided sign test over its pairs at the level 0.05 / K "
    "(Bonferroni over the K rows of this table): <em>supported</em> when the pairs for it are too many to be "
    "chance, <em>contradicted</em> when the pairs against it are, <em>inconclusive</em> otherwise; "
    "<em>the design cannot tell</em> when there are so few pairs that even all of them agreeing could not pass "
    "the test (n pairs can reach at best p = 1/2<sup>n</sup>). Rows count pairs by the algorithm the claim is "
    "about: online pairs of an RL algorithm (GRPO, PPO, RLOO) for the online-RL claims, offline DPO pairs for "
    "the DPO claim; the continued-SFT control is never counted as RL or as DPO. The DPO claim needs positive "
    f"evidence, not a failure to reject: a DPO pair counts for it when none of its metrics moves the online-RL "
    f"way by {DPO_MARGIN:.0%} (relative change) or more, against it when every metric does. A controlled "
    "ablation pair, and the online-DPO pairs of a study, count for “moves the metrics as online RL does” when "
    "every metric moves the online-RL way, against it when every metric moves the other way. Per-cell "
    "Benjamini–Hochberg significance (q &lt; 0.05 over Table 1, marked *) is shown beside each pair as evidence; "
    "the verdict does not count cells."
)


@dataclass(frozen=True)
class PairEvidence:
    """One pair's summary in a claim: its mean relative change per metric and its direction."""

    pair: str
    algorithm: str
    changes: dict[str, float]  # metric -> mean relative change over the pair's cells
    direction: int  # +1 for the claim, -1 against it, 0 neither
    cells: int
    cells_as_claimed: int
    significant_for: int
    significant_against: int


@dataclass(frozen=True)
class Claim:
    text: str
    verdict: str
    level: float
    pairs_for: int
    pairs_against: int
    p_for: float
    p_against: float
    evidence: tuple[PairEvidence, ...]

    @property
    def pairs(self) -> int:
        return len(self.evidence)

    @property
    def meaning(self) -> str:
        return VERDICT_MEANINGS.get(self.verdict, "no pair has results for this claim")


@dataclass(frozen=True)
class Checklist:
    """The checklist's rows and the pairs counted in none of them, with the reason."""

    rows: list[Claim]
    uncounted: dict[str, str]


def sign_test(pairs_for: int, pairs: int) -> float:
    """Exact one-sided p-value of ``pairs_for`` or more of ``pairs`` under "either way equally likely"."""
    return float(stats.binomtest(pairs_for, pairs, 0.5, alternative="greater").pvalue) if pairs else 1.0


def fewest_pairs(level: float) -> int:
    """The fewest pairs with which a unanimous set can pass the sign test at ``level`` (2^-n < level)."""
    return int(np.floor(np.log2(1.0 / level))) + 1


def decide(pairs_for: int, pairs_against: int, pairs: int, level: float) -> tuple[str, float, float]:
    """The verdict of a sign test over pairs, with its two one-sided p-values."""
    p_for, p_against = sign_test(pairs_for, pairs), sign_test(pairs_against, pairs)
    if pairs == 0:
        return NO_DATA, p_for, p_against
    if pairs < fewest_pairs(level):
        return CANNOT_TELL, p_for, p_against
    if p_for < level:
        return SUPPORTED, p_for, p_against
    if p_against < level:
        return CONTRADICTED, p_for, p_against
    return INCONCLUSIVE, p_for, p_against


@dataclass(frozen=True)
class _PairCells:
    """A pair's Table 1 rows, reduced once: its algorithm, mean change and cell directions per metric."""

    algorithm: str
    changes: dict[str, float]  # metric -> mean relative change over the cells that have one
    aligned: dict[str, np.ndarray]  # metric -> each cell's sign of RL - base times the online-RL direction
    significant: dict[str, np.ndarray]  # metric -> each cell's BH significance


def _pair_cells(table1: pd.DataFrame) -> dict[str, _PairCells]:
    found = {}
    for pair, rows in table1.groupby("pair", sort=False):
        changes, aligned, significant = {}, {}, {}
        for metric, cells in rows.groupby("metric", sort=False):
            mean = float(np.nanmean(cells["relative_change"].to_numpy(dtype=float))) if len(cells) else np.nan
            if np.isfinite(mean):
                changes[metric] = mean
            aligned[metric] = np.sign(cells["difference"].to_numpy(dtype=float)) * EXPECTED_DIRECTION[metric]
            significant[metric] = cells["significant"].to_numpy(dtype=bool)
        found[pair] = _PairCells(str(rows["algorithm"].iloc[0]), changes, aligned, significant)
    return found


def _one_metric(metric: str) -> Callable[[Mapping[str, float]], int | None]:
    def direction(changes: Mapping[str, float]) -> int | None:
        if metric not in changes:
            return None
        return int(np.sign(changes[metric] * EXPECTED_DIRECTION[metric]))

    return direction


def _aligned(changes: Mapping[str, float]) -> np.ndarray | None:
    """Each metric's change signed so that + is the online-RL direction; None unless every metric has one."""
    if any(metric not in changes for metric in METRICS):
        return None
    return np.array([changes[m] * EXPECTED_DIRECTION[m] for m in METRICS])


def _unlike_online(changes: Mapping[str, float]) -> int | None:
    """The DPO claim: +1 when no metric moves the online way by the margin, -1 when every metric does."""
    aligned = _aligned(changes)
    if aligned is None:
        return None
    return 1 if aligned.max() < DPO_MARGIN else -1 if aligned.min() >= DPO_MARGIN else 0


def _like_online(changes: Mapping[str, float]) -> int | None:
    """An ablation or online-DPO row: +1 when every metric moves the online way, -1 when every one the other."""
    aligned = _aligned(changes)
    if aligned is None:
        return None
    return 1 if aligned.min() > 0 else -1 if aligned.max() < 0 else 0


def claims(table1: pd.DataFrame, online: Mapping[str, bool], ablations: Mapping[str, str] | None = None) -> Checklist:
    """The checklist's rows under VERDICT_RULE (stated on the page).

    ``online``: pair -> its config's `online` flag; ``ablations``: pair -> the pair it is a
    controlled ablation of (kept out of the paper's claims, with a row of its own).
    """
    ablations = ablations or {}
    cells = _pair_cells(table1)
    algorithms = {pair: found.algorithm for pair, found in cells.items()}
    groups, uncounted = {}, {}
    for pair, algorithm in algorithms.items():
        if pair in ablations:
            continue
        group = claim_group(algorithm, bool(online.get(pair, False)))
        if group in (ONLINE_RL, OFFLINE_DPO, ONLINE_DPO):
            groups.setdefault(group, []).append(pair)
        else:
            uncounted[pair] = (
                f"{algorithm} is a control, neither RL nor DPO"
                if group is not None
                else f"algorithm {algorithm!r} ({'online' if online.get(pair) else 'offline'}) is in no claim"
            )
    specs = [(CLAIM_TEXTS[m], groups.get(ONLINE_RL, []), _one_metric(m), m) for m in METRICS]
    specs.append((DPO_CLAIM, groups.get(OFFLINE_DPO, []), _unlike_online, None))
    if groups.get(ONLINE_DPO):
        specs.append(("Online DPO moves the metrics as online RL does", groups[ONLINE_DPO], _like_online, None))
    for pair, varied in ablations.items():
        algorithm = algorithms.get(pair, pair)
        mode = "online" if online.get(pair, False) else "offline"
        text = (
            f"Ablation {pair}: {algorithm} from {varied}'s SFT model ({mode} sampling the only difference) "
            "moves the metrics as online RL does"
        )
        specs.append((text, [pair], _like_online, None))
    level = FAMILY_LEVEL / len(specs)
    rows = [_claim(text, cells, pairs, rule, metric, level) for text, pairs, rule, metric in specs]
    return Checklist(rows, uncounted)


def _claim(
    text: str,
    cells: Mapping[str, _PairCells],
    pairs: Sequence[str],
    rule: Callable[[Mapping[str, float]], int | None],
    metric: str | None,
    level: float,
) -> Claim:
    """One row: each pair's summary and direction, then the sign test over the pairs."""
    evidence = []
    # The DPO claim's "as claimed" is a cell that does not move the online way.
    claimed = -1 if rule is _unlike_online else 1
    for pair in pairs:
        found = cells[pair]
        metrics = [metric] if metric is not None else [m for m in METRICS if m in found.aligned]
        changes = {m: found.changes[m] for m in metrics if m in found.changes}
        direction = rule(changes)
        if direction is None:
            continue  # a pair without results for the claim's metrics is not counted
        aligned = np.concatenate([found.aligned[m] for m in metrics])
        significant = np.concatenate([found.significant[m] for m in metrics])
        evidence.append(
            PairEvidence(
                pair,
                found.algorithm,
                changes,
                direction,
                len(aligned),
                int((aligned == claimed).sum()),
                int((significant & (aligned == claimed)).sum()),
                int((significant & (aligned == -claimed)).sum()),
            )
        )
    pairs_for = sum(e.direction > 0 for e in evidence)
    pairs_against = sum(e.direction < 0 for e in evidence)
    verdict, p_for, p_against = decide(pairs_for, pairs_against, len(evidence), level)
    return Claim(text, verdict, level, pairs_for, pairs_against, p_for, p_against, tuple(evidence))
