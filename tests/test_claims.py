"""The claims checklist (rlcircuits.claims): pairs as replicates, size under pair-level nulls, power, grouping."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rlcircuits.claims import DPO_MARGIN, claims, decide, fewest_pairs, sign_test
from rlcircuits.report import checklist_intensity
from rlcircuits.vocabulary import (
    CANNOT_TELL,
    CLAIM_TEXTS,
    CONTRADICTED,
    DPO_CLAIM,
    EXPECTED_DIRECTION,
    INCONCLUSIVE,
    METRICS,
    SUPPORTED,
    claim_group,
)

DATASETS, ALPHAS = ("x", "y", "z"), (0.1, 0.5)


def _table(pairs: dict[str, tuple[str, bool]], shift, rng, cell_noise: float = 0.01) -> tuple[pd.DataFrame, dict]:
    """Table 1 rows: each pair's relative change is shift(pair, metric) plus independent cell noise.

    ``shift`` is drawn once per pair and metric, so every cell of a pair moves together.
    """
    names = list(pairs)
    cells = len(DATASETS) * len(ALPHAS)
    index = pd.MultiIndex.from_product([names, METRICS, DATASETS, ALPHAS], names=["pair", "metric", "dataset", "alpha"])
    moved = np.repeat([shift(pair, metric) for pair in names for metric in METRICS], cells)
    change = moved + rng.normal(0, cell_noise, len(moved))
    frame = index.to_frame(index=False)
    frame["algorithm"] = frame["pair"].map({pair: algorithm for pair, (algorithm, _) in pairs.items()})
    frame["relative_change"] = frame["difference"] = change
    frame["significant"] = np.abs(change) > 2.5 * cell_noise
    return frame, {pair: online for pair, (_, online) in pairs.items()}


def _rows(checklist) -> dict:
    return {row.text: row for row in checklist.rows}


def test_the_sign_test_and_the_designs_reach():
    assert sign_test(7, 7) == pytest.approx(0.5**7) and sign_test(9, 10) == pytest.approx(11 / 1024)
    assert sign_test(3, 10) == pytest.approx(stats.binomtest(3, 10, alternative="greater").pvalue)
    assert fewest_pairs(0.05) == 5 and fewest_pairs(0.0625) == 5 and fewest_pairs(0.05 / 6) == 7
    assert decide(4, 0, 4, 0.05)[0] == CANNOT_TELL  # the paper's design: 1/16 > 0.05 whatever the data
    assert decide(5, 0, 5, 0.05)[0] == SUPPORTED and decide(0, 5, 5, 0.05)[0] == CONTRADICTED
    assert decide(3, 2, 5, 0.05)[0] == INCONCLUSIVE


def test_groups_follow_the_algorithm_not_only_the_online_flag():
    assert claim_group("GRPO", True) == "online RL" and claim_group("RLOO", True) == "online RL"
    assert claim_group("online DPO", True) == "online DPO" and claim_group("DPO", False) == "offline DPO"
    assert claim_group("continued SFT", False) == "control" and claim_group("continued SFT", True) == "control"
    assert claim_group("mystery", True) is None


def test_the_study_grid_never_counts_the_control_or_online_dpo_as_rl():
    """config/study.yaml's pairs: the control is offline and online DPO is online, as in the config."""
    pairs = {
        **{f"grpo_s{s}": ("GRPO", True) for s in range(3)},
        **{f"control_s{s}": ("continued SFT", False) for s in range(3)},
        **{f"online_dpo_s{s}": ("online DPO", True) for s in range(3)},
        **{f"dpo_s{s}": ("DPO", False) for s in range(3)},
    }
    table, online = _table(pairs, lambda pair, metric: 0.0, np.random.default_rng(0))
    checklist = claims(table, online)
    rows = _rows(checklist)
    assert [e.pair for e in rows[CLAIM_TEXTS["intensity"]].evidence] == ["grpo_s0", "grpo_s1", "grpo_s2"]
    assert [e.pair for e in rows[DPO_CLAIM].evidence] == ["dpo_s0", "dpo_s1", "dpo_s2"]
    online_dpo = rows["Online DPO moves the metrics as online RL does"]
    assert [e.pair for e in online_dpo.evidence] == ["online_dpo_s0", "online_dpo_s1", "online_dpo_s2"]
    assert set(checklist.uncounted) == {"control_s0", "control_s1", "control_s2"}
    assert "neither RL nor DPO" in checklist.uncounted["control_s0"]
    assert {row.verdict for row in checklist.rows} == {CANNOT_TELL}  # three seeds can never reach 0.05 / 6


def test_the_demo_grid_cannot_establish_any_claim_even_when_every_pair_agrees():
    pairs = {"llama": ("GRPO", True), "mistral": ("RLOO", True), "qwen2": ("GRPO", True), "dpo": ("DPO", False)}
    table, online = _table(pairs, lambda pair, metric: 0.3 * EXPECTED_DIRECTION[metric], np.random.default_rng(1))
    rows = _rows(claims(table, online))
    intensity = rows[CLAIM_TEXTS["intensity"]]
    assert intensity.verdict == CANNOT_TELL and intensity.pairs_for == 3 and intensity.pairs == 3
    assert [e.cells for e in intensity.evidence] == [6, 6, 6]
    assert intensity.evidence[0].changes["intensity"] == pytest.approx(0.3, abs=0.02)


def _many_pairs(n_online: int, n_dpo: int) -> dict[str, tuple[str, bool]]:
    return {
        **{f"rl{i}": ("GRPO" if i % 2 else "PPO", True) for i in range(n_online)},
        **{f"dpo{i}": ("DPO", False) for i in range(n_dpo)},
    }


def test_size_under_a_pair_level_null():
    """Each pair moves all its cells by its own random amount (mean zero, several cell SEs): no claim holds.

    A sign test over cells would call such a run supported or contradicted most of the time.
    """
    rng = np.random.default_rng(2)
    pairs = _many_pairs(12, 0)
    trials, decided = 200, 0
    for _ in range(trials):
        shifts = {(p, m): rng.normal(0, 0.05) for p in pairs for m in METRICS}
        table, online = _table(pairs, lambda p, m, s=shifts: s[p, m], rng)
        rows = _rows(claims(table, online))
        decided += any(rows[CLAIM_TEXTS[m]].verdict in (SUPPORTED, CONTRADICTED) for m in METRICS)
    assert decided / trials <= 0.05, decided


def test_power_under_a_planted_pair_level_effect():
    rng = np.random.default_rng(3)
    pairs = _many_pairs(12, 0)
    trials, found = 50, 0
    for _ in range(trials):
        shifts = {(p, m): EXPECTED_DIRECTION[m] * rng.normal(0.1, 0.05) for p in pairs for m in METRICS}
        table, online = _table(pairs, lambda p, m, s=shifts: s[p, m], rng)
        found += _rows(claims(table, online))[CLAIM_TEXTS["kurtosis"]].verdict == SUPPORTED
    assert found / trials >= 0.8, found  # each pair moves the claimed way with probability 0.98


def test_the_dpo_claim_needs_positive_evidence():
    rng = np.random.default_rng(4)
    pairs = _many_pairs(0, 10)
    outcomes = {"half the margin the online way": [], "twice the margin the online way": [], "at the margin": []}
    moves = {"half the margin the online way": 0.5, "twice the margin the online way": 2.0, "at the margin": 1.0}
    for _ in range(40):
        for name, move in moves.items():
            table, online = _table(pairs, lambda p, m, k=move: EXPECTED_DIRECTION[m] * k * DPO_MARGIN, rng, 0.02)
            outcomes[name].append(_rows(claims(table, online))[DPO_CLAIM].verdict)
    # Within the margin: supported; well beyond it: never supported (the old rule read a failure to
    # reject as support); at the margin (the null's boundary) supported no more often than the level.
    assert outcomes["half the margin the online way"].count(SUPPORTED) >= 38
    assert outcomes["twice the margin the online way"].count(SUPPORTED) == 0
    assert outcomes["twice the margin the online way"].count(CONTRADICTED) >= 38
    assert outcomes["at the margin"].count(SUPPORTED) <= 2


def test_an_ablation_row_and_a_pair_without_results():
    pairs = {"a": ("GRPO", True), "dpo": ("DPO", False), "abl": ("online DPO", True)}
    table, online = _table(pairs, lambda p, m: 0.1 * EXPECTED_DIRECTION[m], np.random.default_rng(5))
    table = table[~((table.pair == "a") & (table.metric == "diversity"))]
    rows = _rows(claims(table, online, {"abl": "dpo"}))
    [ablation] = [row for text, row in rows.items() if text.startswith("Ablation abl")]
    assert "online DPO from dpo's SFT model (online sampling the only difference)" in ablation.text
    assert ablation.verdict == CANNOT_TELL and ablation.pairs_for == 1
    assert rows[CLAIM_TEXTS["diversity"]].verdict == "no data" and rows[CLAIM_TEXTS["diversity"]].pairs == 0
    # Five online-RL rows (scale-free intensity among them), the DPO row and the ablation row.
    assert len(rows) == 7 and all(row.level == pytest.approx(0.05 / 7) for row in rows.values())


def test_raw_intensity_alone_moving_is_a_verdict_that_does_not_survive_its_scale_free_row():
    """Pairs whose tuned models only rescale their scores: raw intensity up in every pair, its scale-free
    version and the other metrics not moved; the two intensity rows part, and the page says so."""
    pairs = _many_pairs(12, 0)
    table, online = _table(pairs, lambda p, m: 0.2 if m == "intensity" else 0.0, np.random.default_rng(7))
    checklist = claims(table, online)
    rows = _rows(checklist)
    assert rows[CLAIM_TEXTS["intensity"]].verdict == SUPPORTED
    assert rows[CLAIM_TEXTS["scale_free_intensity"]].verdict == INCONCLUSIVE
    assert checklist_intensity(checklist).startswith(
        "The intensity verdict does not survive: raw intensity reads “supported”, scale-free intensity “inconclusive”"
    )
