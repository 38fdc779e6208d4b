"""The controlled study's design as a config states it: arms (one pair per seed) and contrasts.

Torch- and numpy-free: the workflow checks a study config with it at parse time
(rules/study.smk), before any job runs; rlcircuits.study computes the statistics. A design whose
arms are too small to detect anything but huge effects at the study's Bonferroni level is
warned about then (StudyDesignWarning), with the effect size it needs.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

from rlcircuits.errors import SettingsError
from rlcircuits.vocabulary import METRICS

FAMILY_LEVEL = 0.05  # the study's family-wise level, Bonferroni over its hypotheses
POWER = 0.8  # the power at which each hypothesis's minimum detectable effect is stated
# Warn when a contrast needs an effect this many seed standard deviations or more for POWER.
WARN_AT_SEED_SDS = 3.0


class StudyDesignWarning(UserWarning):
    """The study's arms are too small to detect effects of a few seed standard deviations."""


@dataclass(frozen=True)
class Arm:
    """One training arm of the study: its label and its pairs, one per seed."""

    name: str
    label: str
    pairs: tuple[str, ...]


@dataclass(frozen=True)
class Contrast:
    """``arm`` minus ``versus``, and what that difference isolates."""

    name: str
    arm: str
    versus: str


def arms_from_config(config: Mapping) -> tuple[list[Arm], list[Contrast]]:
    """The study's arms and contrasts from a run config's ``study`` key, checked against its pairs.

    Every seed must share one base: the arms' changes are then measured from the same model.
    """
    study = config.get("study")
    if not study:
        raise SettingsError("the config has no `study` key")
    pairs = set(config.get("pairs", {}))
    arms = []
    seen: dict[str, str] = {}
    for name, spec in study["arms"].items():
        for pair in spec["pairs"]:
            if pair not in pairs:
                raise SettingsError(f"config study.arms.{name}.pairs: {pair!r} is not a pair of `pairs`")
            if pair in seen:
                raise SettingsError(f"config study.arms.{name}.pairs: {pair!r} is already a seed of arm {seen[pair]}")
            seen[pair] = name
        if len(spec["pairs"]) < 2:
            raise SettingsError(f"config study.arms.{name}.pairs: an arm needs at least 2 seeds for an interval")
        arms.append(Arm(name, spec["label"], tuple(spec["pairs"])))
    bases: dict[str, str] = {}  # each base -> the first seed tuned from it
    for pair in seen:
        bases.setdefault(config["pairs"][pair]["base"]["model"], pair)
    if len(bases) > 1:
        named = ", ".join(f"{pair} ({base})" for base, pair in bases.items())
        raise SettingsError(f"config study: every seed must be tuned from one base, but the pairs differ: {named}")
    contrasts = []
    for spec in study.get("contrasts", []):
        for key in ("arm", "versus"):
            if spec[key] not in study["arms"]:
                raise SettingsError(
                    f"config study.contrasts {spec['name']!r}: {key} {spec[key]!r} is not an arm of study.arms"
                )
        contrasts.append(Contrast(spec["name"], spec["arm"], spec["versus"]))
    _warn_if_underpowered(arms, contrasts)
    return arms, contrasts


def hypotheses(contrasts: list[Contrast]) -> int:
    """The study's hypotheses: each contrast in each circuit metric and in accuracy."""
    return len(contrasts) * (len(METRICS) + 1)


def detectable_in_seed_sds(n_arm: int, n_versus: int, level: float, power: float = POWER) -> float:
    """The difference (in seed standard deviations) a two-sided t test at ``level`` detects with ``power``.

    Planning approximation for equal seed spreads in both arms: (t_{1-level/2} + t_{power}) x
    sqrt(1/n_arm + 1/n_versus) on n_arm + n_versus - 2 degrees of freedom: a lower bound for the Welch
    test, which estimates its df. rlcircuits.study states each hypothesis's own from the measured spreads.
    """
    df = n_arm + n_versus - 2
    return (t_quantile(1 - level / 2, df) + t_quantile(power, df)) * math.sqrt(1 / n_arm + 1 / n_versus)


def _warn_if_underpowered(arms: list[Arm], contrasts: list[Contrast]) -> None:
    if not contrasts:
        return
    level = FAMILY_LEVEL / hypotheses(contrasts)
    sizes = {arm.name: len(arm.pairs) for arm in arms}
    for contrast in contrasts:
        n_arm, n_versus = sizes[contrast.arm], sizes[contrast.versus]
        needed = detectable_in_seed_sds(n_arm, n_versus, level)
        if needed >= WARN_AT_SEED_SDS:
            warnings.warn(
                f"config study.contrasts {contrast.name!r}: with {n_arm} and {n_versus} seeds, at the Bonferroni "
                f"level {level:.4g} over {hypotheses(contrasts)} hypotheses, only a difference of {needed:.1f} seed "
                f"standard deviations or more (more still for the Welch test) is detected with {POWER:.0%} power; "
                "smaller effects will read inconclusive (add seeds to the arms to detect them)",
                StudyDesignWarning,
                stacklevel=3,
            )


def t_cdf(t: float, df: int) -> float:
    """Student t CDF for integer degrees of freedom (Abramowitz & Stegun 26.7.3-4), pure Python."""
    if df < 1:
        raise ValueError("the t distribution needs at least one degree of freedom")
    theta = math.atan(abs(t) / math.sqrt(df))
    c2, sin, cos = math.cos(theta) ** 2, math.sin(theta), math.cos(theta)
    if df % 2:  # odd: A = 2/pi (theta + sin cos (1 + 2/3 c2 + 2.4/3.5 c2^2 + ...)), df - 3 powers
        term, total = 1.0, 1.0 if df > 1 else 0.0
        for k in range(1, (df - 1) // 2):
            term *= c2 * (2 * k) / (2 * k + 1)
            total += term
        inside = 2 / math.pi * (theta + sin * cos * total)
    else:  # even: A = sin (1 + 1/2 c2 + 1.3/2.4 c2^2 + ...), df - 2 powers
        term, total = 1.0, 1.0
        for k in range(1, df // 2):
            term *= c2 * (2 * k - 1) / (2 * k)
            total += term
        inside = sin * total
    return 0.5 + math.copysign(inside / 2, t)


def t_quantile(probability: float, df: int) -> float:
    """The ``probability`` quantile of Student t on ``df`` degrees of freedom (bisection on t_cdf)."""
    if not 0 < probability < 1:
        raise ValueError("a quantile needs a probability strictly between 0 and 1")
    low, high = -1.0, 1.0
    while t_cdf(low, df) > probability:
        low *= 2
    while t_cdf(high, df) < probability:
        high *= 2
    for _ in range(200):
        middle = 0.5 * (low + high)
        if t_cdf(middle, df) < probability:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)
