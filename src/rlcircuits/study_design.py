"""The controlled study's design as a config states it: arms (one pair per seed) and contrasts.

Torch- and numpy-free: the workflow checks a study config with it at parse time
(rules/study.smk), before any job runs; rlcircuits.study computes the statistics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rlcircuits.errors import SettingsError


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
    return arms, contrasts
