"""Statistics of the controlled study (docs/DESIGN.md §4 "Study statistics"): the seed is the unit of replication.

Every tuned model of an arm is one seed, analysed against the study's shared base through the
ordinary pipeline, so each seed contributes one Table 1 row per metric x dataset x alpha (its
relative change) and one Table 4 accuracy change per dataset. From those values:

* per arm x metric x dataset x alpha: the mean over seeds with a Student-t confidence interval
  over seeds (the per-sample noise inside a cell is already averaged into each seed's value);
* per contrast (arm minus versus arm): the difference of the two arms' means with a Welch
  interval: seeds of different arms are independent training runs, so nothing pairs them;
* per hypothesis (a contrast x a metric, in the direction the paper claims for RL): the same
  Welch interval on each seed's mean over every dataset x alpha cell, at a Bonferroni-adjusted
  level over all hypotheses. Supported when the interval lies wholly on the claimed side,
  contradicted when wholly on the other side, inconclusive when it covers zero or has no width
  (both arms' seeds agree exactly: a point interval is not evidence). Beside each verdict, the
  minimum detectable effect: the difference the same Welch test would detect with 80% power at
  that level, for normal seeds of the measured spread, so an "inconclusive" says what it could have seen.

Accuracy, given each seed's graded answers (``Answers``), is judged about the task: its intervals
add the sampling of the test questions to the seed-to-seed variation (``task_interval``). All
seeds answer the same questions, so the questions' sampling error is common to every seed and
no spread over seeds can show it. Without the answers, and for the circuit metrics, an interval
is over seeds only, about the questions at hand; each row's ``population`` says which.

Seeds whose value is NaN (a relative change of a base value 0) are left out and counted.

With n seeds a t interval has n − 1 degrees of freedom: at the study's few seeds intervals are
wide by design, and a verdict needs the effect to be large against seed-to-seed variation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from rlcircuits.errors import InputFormatError
from rlcircuits.study_design import POWER, Arm, Contrast
from rlcircuits.vocabulary import CONTRADICTED, EXPECTED_DIRECTION, INCONCLUSIVE, SUPPORTED

ACCURACY = "accuracy"
# Accuracy changes over all datasets at once: each seed's mean change over the tasks.
ALL_DATASETS = "all"
CONFIDENCE = 0.95
FAMILY_LEVEL = 0.05
# What an interval is about: the population its coverage refers to.
TASK = "the task"  # questions and seeds both sampled
TEST_QUESTIONS = "these test questions"  # seeds sampled, the test set fixed
SELECTED_QUESTIONS = "these selected questions"  # the circuit metrics: seeds sampled, the questions fixed
SEED_COLUMNS = ("arm", "pair", "metric", "dataset", "alpha", "value")
ARM_COLUMNS = (
    "arm",
    "label",
    "metric",
    "dataset",
    "alpha",
    "n_seeds",
    "n_dropped",
    "mean",
    "ci_low",
    "ci_high",
    "population",
)
CONTRAST_COLUMNS = (
    "contrast",
    "arm",
    "versus",
    "metric",
    "dataset",
    "alpha",
    "n_arm",
    "n_versus",
    "n_dropped",
    "difference",
    "ci_low",
    "ci_high",
    "population",
)
VERDICT_COLUMNS = (
    "hypothesis",
    "contrast",
    "metric",
    "expected",
    "cells",
    "cells_dropped",
    "difference",
    "ci_low",
    "ci_high",
    "confidence",
    "verdict",
    "detectable",
    "note",
    "population",
)
VERDICTS = (SUPPORTED, CONTRADICTED, INCONCLUSIVE)
# The study's hypotheses per contrast: each circuit metric in the paper's direction for RL, and accuracy up.
HYPOTHESES = {**EXPECTED_DIRECTION, ACCURACY: 1}
VERDICT_RULE = (
    "Each hypothesis is a contrast (arm minus versus arm) in one metric, in the direction the paper claims "
    "for RL. Each seed is summarised by its mean relative change over every dataset × α cell (accuracy: its "
    "mean change in points over the tasks); the two arms' seed summaries give a Welch interval at the "
    "Bonferroni level 1 − 0.05 / (number of hypotheses). <em>Supported</em>: the interval lies wholly on "
    "the claimed side of zero; <em>contradicted</em>: wholly on the other side; <em>inconclusive</em>: "
    "it covers zero, or has no width because every seed of both arms has the same value (a point interval "
    "is no evidence). Seeds are the unit of replication: with a handful per arm an interval has few degrees of "
    "freedom, so only effects large against seed-to-seed variation reach a verdict; the <em>detectable</em> "
    "column gives, for each hypothesis, the smallest difference its test would find with "
    f"{POWER:.0%} power at its level for normal seeds of the measured spread (the Welch test simulated). "
    "Seeds whose value is undefined (NaN) are left out and counted; a cell some seed lacks is left out of "
    "every seed's mean. Each interval names its population: accuracy intervals are about <em>the task</em> "
    "(the test questions are a sample of it, and every seed answers the same ones, so the questions' "
    "sampling error is added to the seed-to-seed variation, an unbiased two-way variance with "
    "Satterthwaite degrees of freedom in place of Welch's); circuit-metric intervals are over seeds only, "
    "about <em>these selected questions</em>."
)


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


def seed_values(
    table1: pd.DataFrame, table4: pd.DataFrame, arms: Sequence[Arm], sources: tuple[str, str] = ("Table 1", "Table 4")
) -> pd.DataFrame:
    """One row per arm x seed (pair) x metric x dataset x alpha: the seed's relative change.

    Metrics come from Table 1 (``relative_change``, our convention); accuracy from Table 4 as
    the change in points from base to tuned model, per dataset and averaged over datasets
    (``dataset`` = ``all``, no alpha). ``sources`` name the two tables in errors (their files).
    """
    rows = []
    for arm in arms:
        for pair in arm.pairs:
            cells = table1[table1["pair"] == pair]
            if cells.empty:
                raise InputFormatError(f"{sources[0]}: no rows of pair {pair!r} (study arm {arm.name})")
            for cell in cells.itertuples():
                rows.append((arm.name, pair, cell.metric, cell.dataset, float(cell.alpha), float(cell.relative_change)))
            accuracy = table4[table4["pair"] == pair].pivot(index="dataset", columns="role", values="accuracy_pct")
            if accuracy.empty or set(accuracy.columns) != {"base", "rl"} or accuracy.isna().any().any():
                raise InputFormatError(
                    f"{sources[1]}: no base or no rl accuracy of pair {pair!r} (study arm {arm.name})"
                )
            change = accuracy["rl"] - accuracy["base"]
            rows += [(arm.name, pair, ACCURACY, dataset, np.nan, float(value)) for dataset, value in change.items()]
            rows.append((arm.name, pair, ACCURACY, ALL_DATASETS, np.nan, float(change.mean())))
    return pd.DataFrame(rows, columns=list(SEED_COLUMNS))


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """Mean over seeds with a Student-t interval (NaN bounds with fewer than two seeds)."""
    x = np.asarray(values, dtype=float)
    mean = float(x.mean()) if x.size else np.nan
    if x.size < 2:
        return Interval(mean, np.nan, np.nan)
    half = stats.t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    return Interval(mean, mean - half, mean + half)


def welch_interval(a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """Difference of two independent groups' means, mean(a) - mean(b), with a Welch interval."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    difference = float(x.mean() - y.mean()) if x.size and y.size else np.nan
    if x.size < 2 or y.size < 2:
        return Interval(difference, np.nan, np.nan)
    if np.ptp(x) == 0 and np.ptp(y) == 0:  # no spread (tested exactly: a variance of equal values can be 1e-34)
        return Interval(difference, difference, difference)
    vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se = np.sqrt(vx + vy)
    df = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
    half = stats.t.ppf(0.5 + confidence / 2, df) * se
    return Interval(difference, difference - half, difference + half)


def detectable_difference(
    a: Sequence[float], b: Sequence[float], confidence: float, power: float = POWER, draws: int = 10000
) -> float:
    """The |mean(a) - mean(b)| that the two-sided Welch test at ``1 - confidence`` finds with ``power``.

    Seeds are taken as normal with the two groups' measured standard deviations; the Welch test's
    own randomness (its estimated variances and degrees of freedom, which at three seeds costs much
    power against a t test of known df) is simulated with ``draws`` fixed draws, and the difference
    found by bisection. NaN with fewer than two seeds or no spread in either group.
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.size < 2 or y.size < 2 or (np.ptp(x) == 0 and np.ptp(y) == 0):
        return np.nan
    rng = np.random.default_rng(0)
    sx, sy = x.var(ddof=1), y.var(ddof=1)
    se_true = np.sqrt(sx / x.size + sy / y.size)
    noise = rng.standard_normal(draws) * se_true  # the estimate's error around the true difference
    vx = sx * rng.chisquare(x.size - 1, draws) / (x.size - 1) / x.size
    vy = sy * rng.chisquare(y.size - 1, draws) / (y.size - 1) / y.size
    with np.errstate(divide="ignore", invalid="ignore"):
        df = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
    threshold = stats.t.ppf(0.5 + confidence / 2, np.nan_to_num(df, nan=1.0)) * np.sqrt(vx + vy)

    def found(difference: float) -> float:
        return float(np.mean(np.abs(difference + noise) > threshold))

    low, high = 0.0, se_true
    while found(high) < power:
        low, high = high, 2 * high
    for _ in range(50):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if found(middle) < power else (low, middle)
    return float(high)


# Per arm, per dataset: [n_seeds, n_questions] per-question accuracy changes in points, 100 x (the
# seed's answer correct - the base's answer correct), seeds in the arm's order and questions in one
# order shared by every seed.
Answers = Mapping[str, Mapping[str, np.ndarray]]


def question_changes(
    correct: Mapping[tuple[str, str, str], Mapping[str, bool]], arms: Sequence[Arm], datasets: Sequence[str]
) -> dict[str, dict[str, np.ndarray]]:
    """Answers from each (pair, role, dataset)'s graded answers (question id -> correct).

    Every seed and its base must have answered the same questions of a dataset (the study's test
    set is one per dataset); otherwise InputFormatError names the pair, role and dataset.
    """
    found: dict[str, dict[str, np.ndarray]] = {}
    for dataset in datasets:
        first = arms[0].pairs[0]
        ids = sorted(correct[first, "base", dataset])
        for arm in arms:
            rows = []
            for pair in arm.pairs:
                roles = {role: correct[pair, role, dataset] for role in ("base", "rl")}
                for role, answered in roles.items():
                    if sorted(answered) != ids:
                        raise InputFormatError(
                            f"graded answers of {pair} ({role}) on {dataset}: not the questions {first} (base) "
                            "answered; every seed of a study must answer the same test questions"
                        )
                rows.append([100.0 * (roles["rl"][i] - roles["base"][i]) for i in ids])
            found.setdefault(arm.name, {})[dataset] = np.array(rows)
    return found


@dataclass(frozen=True)
class TaskSpread:
    """A difference of accuracy changes about the task: its estimate, variance and Satterthwaite df."""

    estimate: float
    variance: float
    df: float


def task_spread(groups: Sequence[tuple[int, Mapping[str, np.ndarray]]]) -> TaskSpread:
    """sum over groups of sign x (the group's mean over seeds of its mean change over the datasets).

    ``groups``: (sign, one arm's per-dataset [n_seeds, n_questions] changes); the datasets are
    weighted equally and their questions sampled independently. With Y = seeds x questions of one
    arm and dataset, Y[s, i] = mean + question effect + seed effect + noise, the variance of the
    estimate is estimated without bias by the variance over questions of the per-question
    contrast (each arm's mean over its seeds, signed and summed) / n_questions, plus for each arm
    the variance over seeds of its seed means / n_seeds less that arm's residual mean square /
    (n_seeds x n_questions), which both terms already count (the seed part is floored at 0). Degrees
    of freedom: Satterthwaite over the mean squares.
    """
    datasets = list(groups[0][1])
    weight = 1.0 / len(datasets)
    parts: list[tuple[float, float]] = []  # (variance component, its degrees of freedom)
    for dataset in datasets:
        contrast = sum(sign * changes[dataset].mean(axis=0) for sign, changes in groups)
        parts.append((weight**2 * contrast.var(ddof=1) / contrast.size, contrast.size - 1))
    estimate = 0.0
    for sign, changes in groups:
        seeds = np.mean([changes[dataset].mean(axis=1) for dataset in datasets], axis=0)
        estimate += sign * float(seeds.mean())
        residual = []
        for dataset in datasets:
            y = changes[dataset]
            noise = y - y.mean(axis=0) - y.mean(axis=1, keepdims=True) + y.mean()
            dof = (y.shape[0] - 1) * (y.shape[1] - 1)
            residual.append((weight**2 * (noise**2).sum() / dof / y.size, dof))
        seed_part = float(seeds.var(ddof=1)) / seeds.size
        if seed_part > sum(r for r, _ in residual):
            parts += [(seed_part, seeds.size - 1), *((-r, dof) for r, dof in residual)]
    variance = sum(v for v, _ in parts)
    denominator = sum(v**2 / dof for v, dof in parts)
    return TaskSpread(estimate, variance, variance**2 / denominator if denominator > 0 else np.inf)


def _task_groups(answers: Answers, arms: Sequence[str], signs: Sequence[int], dataset: str) -> list | None:
    """The (sign, changes) groups of one dataset, or every dataset for ``all``; None when any arm has under 2 seeds."""
    groups = []
    for arm, sign in zip(arms, signs, strict=True):
        by_dataset = answers[arm] if dataset == ALL_DATASETS else {dataset: answers[arm][dataset]}
        if min(changes.shape[0] for changes in by_dataset.values()) < 2:
            return None
        groups.append((sign, by_dataset))
    return groups


def task_interval(groups: Sequence[tuple[int, Mapping[str, np.ndarray]]] | None, confidence: float) -> Interval:
    """The t interval of ``task_spread`` (a point interval when nothing varies; NaN bounds without two seeds)."""
    if groups is None:
        return Interval(np.nan, np.nan, np.nan)
    spread = task_spread(groups)
    if spread.variance <= 0:
        return Interval(spread.estimate, spread.estimate, spread.estimate)
    half = stats.t.ppf(0.5 + confidence / 2, spread.df) * np.sqrt(spread.variance)
    return Interval(spread.estimate, spread.estimate - half, spread.estimate + half)


def task_detectable(
    groups: Sequence[tuple[int, Mapping[str, np.ndarray]]] | None, confidence: float, power: float = POWER
) -> float:
    """The difference the two-sided task-level t test at ``1 - confidence`` finds with ``power`` (measured spread)."""
    if groups is None:
        return np.nan
    spread = task_spread(groups)
    if spread.variance <= 0:
        return np.nan
    quantiles = stats.t.ppf(0.5 + confidence / 2, spread.df) + stats.t.ppf(power, spread.df)
    return float(quantiles * np.sqrt(spread.variance))


def _alpha_key(alpha: float) -> float | None:
    """Alpha as a lookup key: accuracy rows have none (NaN, which never equals itself)."""
    return None if np.isnan(alpha) else float(alpha)


_CELL = ["metric", "dataset", "alpha"]


def _cells(seeds: pd.DataFrame) -> list[tuple[str, str, float]]:
    keys = seeds[_CELL].drop_duplicates()
    return [(m, d, a) for m, d, a in keys.itertuples(index=False)]


def _values(seeds: pd.DataFrame, arm: str, metric: str, dataset: str, alpha: float) -> tuple[np.ndarray, int]:
    """The arm's seed values of one cell, NaN seeds left out, and how many were left out."""
    rows = seeds[(seeds["arm"] == arm) & (seeds["metric"] == metric) & (seeds["dataset"] == dataset)]
    rows = rows[rows["alpha"].isna()] if _alpha_key(alpha) is None else rows[rows["alpha"] == alpha]
    values = rows["value"].to_numpy(dtype=float)
    return values[~np.isnan(values)], int(np.isnan(values).sum())


def _population(metric: str, answers: Answers | None) -> str:
    if metric != ACCURACY:
        return SELECTED_QUESTIONS
    return TEST_QUESTIONS if answers is None else TASK


def arm_table(
    seeds: pd.DataFrame, arms: Sequence[Arm], confidence: float = CONFIDENCE, answers: Answers | None = None
) -> pd.DataFrame:
    """Per arm x metric x dataset x alpha: seeds, mean relative change and its interval (accuracy: about the task
    when ``answers`` are given, else over seeds)."""
    rows = []
    for arm in arms:
        for metric, dataset, alpha in _cells(seeds[seeds["arm"] == arm.name]):
            values, dropped = _values(seeds, arm.name, metric, dataset, alpha)
            if metric == ACCURACY and answers is not None:
                interval = task_interval(_task_groups(answers, [arm.name], [1], dataset), confidence)
            else:
                interval = mean_interval(values, confidence)
            rows.append(
                (
                    arm.name,
                    arm.label,
                    metric,
                    dataset,
                    alpha,
                    values.size,
                    dropped,
                    interval.estimate,
                    interval.low,
                    interval.high,
                    _population(metric, answers),
                )
            )
    return pd.DataFrame(rows, columns=list(ARM_COLUMNS))


def contrast_table(
    seeds: pd.DataFrame,
    contrasts: Sequence[Contrast],
    confidence: float = CONFIDENCE,
    answers: Answers | None = None,
) -> pd.DataFrame:
    """Per contrast x metric x dataset x alpha: difference of the arms' means with its Welch interval
    (accuracy with ``answers``: the task-level interval)."""
    rows = []
    for contrast in contrasts:
        for metric, dataset, alpha in _cells(seeds[seeds["arm"].isin([contrast.arm, contrast.versus])]):
            a, dropped_a = _values(seeds, contrast.arm, metric, dataset, alpha)
            b, dropped_b = _values(seeds, contrast.versus, metric, dataset, alpha)
            if metric == ACCURACY and answers is not None:
                groups = _task_groups(answers, [contrast.arm, contrast.versus], [1, -1], dataset)
                interval = task_interval(groups, confidence)
            else:
                interval = welch_interval(a, b, confidence)
            rows.append(
                (
                    contrast.name,
                    contrast.arm,
                    contrast.versus,
                    metric,
                    dataset,
                    alpha,
                    a.size,
                    b.size,
                    dropped_a + dropped_b,
                    interval.estimate,
                    interval.low,
                    interval.high,
                    _population(metric, answers),
                )
            )
    return pd.DataFrame(rows, columns=list(CONTRAST_COLUMNS))


def seed_summaries(seeds: pd.DataFrame, arm: Arm, metric: str, cells: Sequence[tuple[str, float]]) -> np.ndarray:
    """Each seed's mean over the given dataset x alpha cells of ``metric``."""
    rows = seeds[(seeds["arm"] == arm.name) & (seeds["metric"] == metric)]
    keyed = {(r.pair, r.dataset, _alpha_key(r.alpha)): r.value for r in rows.itertuples()}
    return np.array([np.mean([keyed[pair, d, _alpha_key(a)] for d, a in cells]) for pair in arm.pairs])


def _shared_cells(seeds: pd.DataFrame, arms: Sequence[Arm], metric: str) -> list[tuple[str, float]]:
    """The dataset x alpha cells every seed of the given arms has a value for (so all seeds average alike)."""
    rows = seeds[(seeds["metric"] == metric) & seeds["pair"].isin([p for arm in arms for p in arm.pairs])]
    rows = rows.dropna(subset=["value"])
    pairs = {p for arm in arms for p in arm.pairs}
    counts = rows.groupby(["dataset", "alpha"], dropna=False)["pair"].nunique()
    return sorted(key for key, count in counts.items() if count == len(pairs))


def _all_cells(seeds: pd.DataFrame, arms: Sequence[Arm], metric: str) -> list[tuple[str, float]]:
    """Every dataset x alpha cell any seed of the given arms has a row for."""
    rows = seeds[(seeds["metric"] == metric) & seeds["pair"].isin([p for arm in arms for p in arm.pairs])]
    return sorted(rows.groupby(["dataset", "alpha"], dropna=False).groups)


def _verdict(interval: Interval, direction: int, cells: Sequence) -> tuple[str, str]:
    """The verdict of one hypothesis's interval, and why when there is none."""
    if not cells:
        return INCONCLUSIVE, "no cell that every seed of both arms has"
    if np.isnan(interval.low):
        return INCONCLUSIVE, "fewer than two seeds with a value in an arm"
    if interval.low == interval.high:
        return INCONCLUSIVE, "no seed-to-seed variation in either arm: a point interval is no evidence"
    low, high = direction * interval.low, direction * interval.high
    if min(low, high) > 0:
        return SUPPORTED, ""
    if max(low, high) < 0:
        return CONTRADICTED, ""
    return INCONCLUSIVE, ""


def verdicts(
    seeds: pd.DataFrame,
    arms: Sequence[Arm],
    contrasts: Sequence[Contrast],
    expected: Mapping[str, int],
    family_level: float = FAMILY_LEVEL,
    answers: Answers | None = None,
) -> pd.DataFrame:
    """One verdict per contrast x metric (``expected``: the paper's direction for RL, +1 or -1).

    Each seed is summarised by its mean over the cells every seed of both arms has (accuracy:
    the ``all`` row); the Welch interval of the two arms' summaries (accuracy with ``answers``:
    the task-level interval over every dataset), at the Bonferroni level 1 - family_level /
    hypotheses, decides as the module docstring states.
    """
    by_name = {arm.name: arm for arm in arms}
    hypotheses = [(contrast, metric) for contrast in contrasts for metric in expected]
    confidence = 1 - family_level / len(hypotheses) if hypotheses else 1 - family_level
    rows = []
    for contrast, metric in hypotheses:
        arm, versus = by_name[contrast.arm], by_name[contrast.versus]
        if metric == ACCURACY:
            cells, dropped = [(ALL_DATASETS, np.nan)], 0
        else:
            cells = _shared_cells(seeds, [arm, versus], metric)
            dropped = len(_all_cells(seeds, [arm, versus], metric)) - len(cells)
        a = seed_summaries(seeds, arm, metric, cells) if cells else np.array([])
        b = seed_summaries(seeds, versus, metric, cells) if cells else np.array([])
        if metric == ACCURACY and answers is not None:
            groups = _task_groups(answers, [arm.name, versus.name], [1, -1], ALL_DATASETS)
            interval, detectable = task_interval(groups, confidence), task_detectable(groups, confidence)
        else:
            interval, detectable = welch_interval(a, b, confidence), detectable_difference(a, b, confidence)
        verdict, note = _verdict(interval, expected[metric], cells)
        direction = expected[metric]
        sign = "raises" if direction > 0 else "lowers"
        rows.append(
            (
                f"{arm.label} {sign} {metric} more than {versus.label} ({contrast.name})",
                contrast.name,
                metric,
                "up" if direction > 0 else "down",
                len(cells),
                dropped,
                interval.estimate,
                interval.low,
                interval.high,
                confidence,
                verdict,
                detectable,
                note,
                _population(metric, answers),
            )
        )
    return pd.DataFrame(rows, columns=list(VERDICT_COLUMNS))
