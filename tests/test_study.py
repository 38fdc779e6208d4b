"""Study statistics over seeds (rlcircuits.study) on synthetic inputs, against scipy's own intervals."""

import warnings
import zlib

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats
from scipy.special import expit

from cli_failure import fails_cleanly
from rlcircuits.contracts import GradedRecord, write_graded
from rlcircuits.errors import InputFormatError, SettingsError
from rlcircuits.run_plan import RunPlan
from rlcircuits.study import (
    ACCURACY,
    ALL_DATASETS,
    TASK,
    Interval,
    arm_table,
    contrast_table,
    detectable_difference,
    mean_interval,
    question_changes,
    seed_values,
    task_detectable,
    task_interval,
    task_spread,
    verdicts,
    welch_interval,
)
from rlcircuits.study_design import (
    Arm,
    Contrast,
    StudyDesignWarning,
    arms_from_config,
    detectable_in_seed_sds,
    t_cdf,
    t_quantile,
)
from rlcircuits.tables import TABLE1_COLUMNS, TABLE4_COLUMNS
from rlcircuits.vocabulary import EXPECTED_DIRECTION
from script_loader import load_script

DATASETS = ("arithmetic", "equations")
ALPHAS = (0.1, 0.5)
EXPECTED = {"intensity": 1, "kurtosis": -1, ACCURACY: 1}


def test_mean_interval_is_the_student_t_interval():
    values = [0.3, -0.1, 0.7, 0.2]
    interval = mean_interval(values, 0.9)
    low, high = stats.t.interval(0.9, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert interval.estimate == pytest.approx(np.mean(values))
    assert (interval.low, interval.high) == pytest.approx((low, high))
    assert np.isnan(mean_interval([0.4]).low)


def test_welch_interval_is_scipys_welch_interval():
    a, b = [1.0, 1.4, 0.7], [0.2, -0.3, 0.5, 0.1]
    interval = welch_interval(a, b)
    reference = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert interval.estimate == pytest.approx(np.mean(a) - np.mean(b))
    assert (interval.low, interval.high) == pytest.approx((reference.low, reference.high))
    assert welch_interval([1.0, 1.0], [0.0, 0.0]) == Interval(1.0, 1.0, 1.0)


def test_intervals_over_three_seeds_cover_the_truth_at_the_nominal_rate():
    rng = np.random.default_rng(0)
    trials = 4000
    draws = rng.normal(0.2, 0.05, size=(trials, 2, 3))
    covered_mean = np.mean([(i := mean_interval(d[0])).low <= 0.2 <= i.high for d in draws])
    covered_zero = np.mean([(i := welch_interval(d[0], d[1])).low <= 0 <= i.high for d in draws])
    assert 0.935 <= covered_mean <= 0.965
    assert 0.935 <= covered_zero <= 0.975  # Welch is slightly conservative with equal variances


def _tables(
    effects: dict[str, float],
    seeds: int,
    rng: np.random.Generator,
    noise: float = 0.02,
    expected: dict[str, int] = EXPECTED,
):
    """Table 1 and Table 4 rows of ``seeds`` pairs per arm whose mean relative change is the arm's effect."""
    table1, table4 = [], []
    for arm, effect in effects.items():
        for seed in range(seeds):
            pair = f"{arm}_s{seed}"
            seed_shift = rng.normal(0, noise)
            for dataset in DATASETS:
                for alpha in ALPHAS:
                    for metric, direction in expected.items():
                        if metric != ACCURACY:
                            change = direction * effect + seed_shift + rng.normal(0, noise / 4)
                            table1.append(
                                {
                                    "pair": pair,
                                    "dataset": dataset,
                                    "alpha": alpha,
                                    "metric": metric,
                                    "relative_change": change,
                                }
                            )
                table4 += [
                    {"pair": pair, "role": "base", "dataset": dataset, "accuracy_pct": 50.0},
                    {
                        "pair": pair,
                        "role": "rl",
                        "dataset": dataset,
                        "accuracy_pct": 50.0 + 100 * (effect + seed_shift),
                    },
                ]
    arms = [Arm(name, name.upper(), tuple(f"{name}_s{s}" for s in range(seeds))) for name in effects]
    return pd.DataFrame(table1), pd.DataFrame(table4), arms


def test_seed_values_take_relative_changes_from_table1_and_accuracy_changes_from_table4():
    table1, table4, arms = _tables({"grpo": 0.1, "control": 0.0}, 3, np.random.default_rng(1))
    seeds = seed_values(table1, table4, arms)
    assert len(seeds) == 2 * 3 * (len(DATASETS) * len(ALPHAS) * 2 + len(DATASETS) + 1)
    row = table1.iloc[0]
    value = seeds[
        (seeds.pair == row.pair)
        & (seeds.metric == row.metric)
        & (seeds.dataset == row.dataset)
        & (seeds.alpha == row.alpha)
    ].value
    assert value.tolist() == [row.relative_change]
    accuracy = seeds[(seeds.pair == "grpo_s0") & (seeds.metric == ACCURACY)].set_index("dataset").value
    rl = table4[(table4.pair == "grpo_s0") & (table4.role == "rl")].set_index("dataset").accuracy_pct
    assert accuracy["arithmetic"] == pytest.approx(rl["arithmetic"] - 50)
    assert accuracy[ALL_DATASETS] == pytest.approx(np.mean([rl[d] - 50 for d in DATASETS]))
    with pytest.raises(InputFormatError, match="Table 1: no rows of pair 'ghost'"):
        seed_values(table1, table4, [Arm("ghost", "G", ("ghost",))])


def test_a_planted_arm_effect_is_found_and_the_arms_table_has_every_cell():
    rng = np.random.default_rng(2)
    table1, table4, arms = _tables({"grpo": 0.3, "control": 0.0, "dpo": -0.3}, 3, rng)
    seeds = seed_values(table1, table4, arms)
    table = arm_table(seeds, arms)
    assert len(table) == 3 * (len(DATASETS) * len(ALPHAS) * 2 + len(DATASETS) + 1)
    intensity = table[(table.arm == "grpo") & (table.metric == "intensity")]
    assert (intensity.n_seeds == 3).all() and (intensity.ci_low > 0.2).all()
    contrasts = [Contrast("RL vs more training", "grpo", "control"), Contrast("reversed", "dpo", "control")]
    differences = contrast_table(seeds, contrasts)
    rl = differences[(differences.contrast == "RL vs more training") & (differences.metric != "kurtosis")]
    assert len(rl) == 4 + 3 and (rl.ci_low > 0).all()
    found = verdicts(seeds, arms, contrasts, EXPECTED).set_index(["contrast", "metric"]).verdict
    assert set(found[("RL vs more training",)]) == {"supported"}
    assert set(found[("reversed",)]) == {"contradicted"}


def test_without_an_effect_verdicts_are_almost_never_supported():
    rng = np.random.default_rng(3)
    contrasts = [Contrast("null", "grpo", "control")]
    outcomes = []
    for _ in range(100):
        table1, table4, arms = _tables({"grpo": 0.0, "control": 0.0}, 3, rng)
        outcomes += verdicts(seed_values(table1, table4, arms), arms, contrasts, EXPECTED).verdict.tolist()
    assert outcomes.count("supported") / len(outcomes) <= 0.05 / len(EXPECTED) * 2
    assert outcomes.count("inconclusive") / len(outcomes) >= 0.95


def test_the_verdicts_level_is_bonferroni_over_the_hypotheses():
    table1, table4, arms = _tables({"grpo": 0.0, "control": 0.0}, 3, np.random.default_rng(4))
    contrasts = [Contrast("a", "grpo", "control"), Contrast("b", "control", "grpo")]
    found = verdicts(seed_values(table1, table4, arms), arms, contrasts, EXPECTED)
    assert found.confidence.tolist() == pytest.approx([1 - 0.05 / 6] * 6)
    assert found.cells.tolist() == [4, 4, 1] * 2


def _config(**study):
    pairs = {f"{arm}_s{s}": {"base": {"model": "zoo/sft/llama"}} for arm in ("grpo", "control") for s in range(2)}
    arms = {arm: {"label": arm, "pairs": [f"{arm}_s0", f"{arm}_s1"]} for arm in ("grpo", "control")}
    return {
        "pairs": pairs,
        "study": {"arms": arms, "contrasts": [{"name": "c", "arm": "grpo", "versus": "control"}], **study},
    }


def _run_config() -> dict:
    """A whole effective config (results/<run>/config.yaml) around _config()'s study."""
    config = _config()
    for name, spec in config["pairs"].items():
        online = name.startswith("grpo")
        spec.update(algorithm="GRPO" if online else "continued SFT", online=online, template="zoo", max_new_tokens=8)
        spec["rl"] = {"model": f"zoo/rl/{name}"}
    datasets = {dataset: {"source": "local"} for dataset in DATASETS}
    return {"run_name": "unit", "datasets": datasets, "alphas": [0.1], **config}


def test_arms_from_config_reads_and_checks_the_study():
    arms, contrasts = arms_from_config(_config())
    assert [arm.pairs for arm in arms] == [("grpo_s0", "grpo_s1"), ("control_s0", "control_s1")]
    assert contrasts == [Contrast("c", "grpo", "control")]
    config = _config()
    config["study"]["arms"]["grpo"]["pairs"][1] = "ghost"
    with pytest.raises(SettingsError, match=r"study\.arms\.grpo\.pairs: 'ghost' is not a pair"):
        arms_from_config(config)
    config = _config()
    config["study"]["arms"]["control"]["pairs"] = ["grpo_s0", "control_s1"]
    with pytest.raises(SettingsError, match="'grpo_s0' is already a seed of arm grpo"):
        arms_from_config(config)
    config = _config(contrasts=[{"name": "c", "arm": "grpo", "versus": "ppo"}])
    with pytest.raises(SettingsError, match="versus 'ppo' is not an arm"):
        arms_from_config(config)
    config = _config()
    config["pairs"]["control_s1"]["base"]["model"] = "zoo/sft/llama_seed1"
    with pytest.raises(SettingsError, match=r"one base.*grpo_s0 \(zoo/sft/llama\), control_s1 \(zoo/sft/llama_seed1\)"):
        arms_from_config(config)
    with pytest.raises(SettingsError, match="no `study` key"):
        arms_from_config({"pairs": {}})


def _study_inputs(folder, rng: np.random.Generator):
    """A run's Table 1, Table 4 (every column), graded answers and config: GRPO with a planted effect, a null control.

    Table 4's accuracies are those of the graded answers, written where the run's plan looks for
    them (relative to ``folder``, the working directory of the script under test).
    """
    table1, _, _ = _tables({"grpo": 0.3, "control": 0.0}, 2, rng, expected={**EXPECTED_DIRECTION, ACCURACY: 1})
    plan = RunPlan.from_config(_run_config())
    rows = []
    for pair, role, dataset, path in plan.table4_cells():
        chance = 0.5 + (0.2 if pair.startswith("grpo") and role == "rl" else 0.0)
        correct = np.random.default_rng(zlib.crc32(path.encode())).uniform(size=40) < chance  # one file, one draw
        write_graded(folder / path, [_graded(f"{dataset}-{i}", bool(c)) for i, c in enumerate(correct)])
        rows.append({"pair": pair, "role": role, "dataset": dataset, "n": 40, "n_correct": int(correct.sum())})
    table4 = pd.DataFrame(rows).assign(
        accuracy_pct=lambda t: 100 * t.n_correct / 40, no_answer=0, timeouts=0, crashed=0
    )
    paths = {}
    for name, frame, columns in (("table1", table1, TABLE1_COLUMNS), ("table4", table4, TABLE4_COLUMNS)):
        paths[name] = folder / f"{name}.csv"
        frame.reindex(columns=list(columns)).to_csv(paths[name], index=False)
    paths["config"] = folder / "config.yaml"
    paths["config"].write_text(yaml.safe_dump(_run_config()))
    return table4, paths


def _graded(question: str, correct: bool) -> GradedRecord:
    return GradedRecord(question, "q?", "1", "q?", (1,), "1" if correct else "2", (5,), "stop", "1", correct, "ok")


def _argv(paths, folder) -> list[str]:
    return [
        *("--run-config", str(paths["config"]), "--table1", str(paths["table1"]), "--table4", str(paths["table4"])),
        *("--tables-dir", str(folder / "tables"), "--figures-dir", str(folder / "figures")),
    ]


def test_the_study_script_writes_every_table_and_forest_plot(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    table4, paths = _study_inputs(tmp_path, np.random.default_rng(5))
    assert load_script("study").main(_argv(paths, tmp_path)) == 0
    found = pd.read_csv(tmp_path / "tables" / "study_verdicts.csv")
    assert found.metric.tolist() == [*EXPECTED_DIRECTION, ACCURACY]
    assert found.set_index("metric").verdict["intensity"] == "supported"  # 0.3 against noise 0.02
    assert found.set_index("metric").population[ACCURACY] == TASK
    arms = pd.read_csv(tmp_path / "tables" / "study_arms.csv")
    assert set(arms.n_seeds) == {2}
    # The accuracy rows' estimate is Table 4's change, whatever the interval adds.
    grpo = arms[(arms.arm == "grpo") & (arms.metric == ACCURACY)].set_index("dataset")["mean"]
    by_role = table4[table4.pair.str.startswith("grpo")].groupby(["dataset", "role"]).accuracy_pct.mean().unstack()
    assert grpo[list(DATASETS)].to_numpy() == pytest.approx((by_role.rl - by_role.base)[list(DATASETS)].to_numpy())
    assert len(pd.read_csv(tmp_path / "tables" / "study_seeds.csv")) > 0
    assert len(pd.read_csv(tmp_path / "tables" / "study_contrasts.csv")) > 0
    for metric in found.metric:
        assert (tmp_path / "figures" / f"study_{metric}.svg").stat().st_size > 0
        assert (tmp_path / "figures" / f"study_{metric}.png").stat().st_size > 0


def test_the_study_script_names_the_table_that_lacks_a_seed(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    table4, paths = _study_inputs(tmp_path, np.random.default_rng(6))
    table4[table4.pair != "control_s1"].reindex(columns=list(TABLE4_COLUMNS)).to_csv(paths["table4"], index=False)
    message = f"{paths['table4']}: no base or no rl accuracy of pair 'control_s1' (study arm control)"
    outputs = [tmp_path / "tables" / f"study_{name}.csv" for name in ("seeds", "arms", "contrasts", "verdicts")]
    fails_cleanly(capsys, load_script("study").main, _argv(paths, tmp_path), "study", message, outputs)


def test_no_verdict_from_a_zero_variance_interval():
    table1, table4, arms = _tables({"grpo": 0.0, "control": 0.0}, 3, np.random.default_rng(7), noise=0.0)
    table1["relative_change"] = np.where(table1.pair.str.startswith("grpo"), 0.1, 0.0)  # every seed alike
    found = verdicts(seed_values(table1, table4, arms), arms, [Contrast("c", "grpo", "control")], EXPECTED)
    intensity = found.set_index("metric").loc["intensity"]
    assert intensity.ci_low == intensity.ci_high == pytest.approx(0.1)  # the point interval a verdict once read
    assert intensity.verdict == "inconclusive" and "point interval" in intensity.note
    assert np.isnan(intensity.detectable)


def test_nan_seeds_are_left_out_and_counted():
    table1, table4, arms = _tables({"grpo": 0.2, "control": 0.0}, 3, np.random.default_rng(8))
    hit = (table1.pair == "grpo_s1") & (table1.metric == "intensity") & (table1.dataset == "arithmetic")
    table1.loc[hit & (table1.alpha == 0.1), "relative_change"] = np.nan
    seeds = seed_values(table1, table4, arms)
    table = arm_table(seeds, arms).set_index(["arm", "metric", "dataset", "alpha"])
    assert table.loc[("grpo", "intensity", "arithmetic", 0.1), ["n_seeds", "n_dropped"]].tolist() == [2, 1]
    assert table.loc[("grpo", "intensity", "arithmetic", 0.5), ["n_seeds", "n_dropped"]].tolist() == [3, 0]
    contrasts = contrast_table(seeds, [Contrast("c", "grpo", "control")])
    assert contrasts.n_dropped.sum() == 1
    found = verdicts(seeds, arms, [Contrast("c", "grpo", "control")], EXPECTED).set_index("metric")
    assert found.loc["intensity", ["cells", "cells_dropped"]].tolist() == [3, 1]
    assert found.loc["kurtosis", ["cells", "cells_dropped"]].tolist() == [4, 0]


def test_the_detectable_difference_has_the_stated_power_by_simulation():
    """Normal seeds, 3 per arm, spread 1: a true difference of `detectable` is found ~80% of the time."""
    unit = np.array([-1.0, 0.0, 1.0])  # sample standard deviation exactly 1
    level = 0.05 / 15
    detectable = detectable_difference(unit, unit, 1 - level)
    assert detectable >= detectable_in_seed_sds(3, 3, level)  # the parse-time bound is a t test's, of known df
    rng = np.random.default_rng(9)
    trials = 20000
    a, b = rng.normal(detectable, 1, (trials, 3)), rng.normal(0, 1, (trials, 3))
    p = stats.ttest_ind(a, b, axis=1, equal_var=False).pvalue
    assert 0.75 <= np.mean(p < level) <= 0.85
    assert np.isnan(detectable_difference([1.0], unit, 0.95))


def test_the_t_distribution_at_parse_time_is_scipys():
    for df in (1, 2, 3, 4, 7, 12):
        for t in (-4.0, -0.3, 0.0, 1.2, 30.0):
            assert t_cdf(t, df) == pytest.approx(stats.t.cdf(t, df), abs=1e-12)
        for probability in (0.1, 0.8, 0.975, 1 - 0.05 / 30):
            assert t_quantile(probability, df) == pytest.approx(stats.t.ppf(probability, df), rel=1e-9)


def test_an_underpowered_design_is_warned_about_at_parse_time():
    with pytest.warns(StudyDesignWarning, match=r"with 2 and 2 seeds.*11\.9 seed standard deviations or more"):
        arms_from_config(_config())
    config = _config()
    for arm in ("grpo", "control"):
        config["study"]["arms"][arm]["pairs"] = [f"{arm}_s{s}" for s in range(12)]
    config["pairs"] = {
        p: {"base": {"model": "zoo/sft/llama"}}
        for arm in ("grpo", "control")
        for p in config["study"]["arms"][arm]["pairs"]
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        arms_from_config(config)  # 12 seeds per arm detect 1.5 seed SDs: no warning


# --- accuracy about the task: question sampling and seeds -------------------------------------


def _task_truth(effect: float, seed_sd: float, question_sd: float, draws: int = 1_000_000) -> float:
    """The task-level accuracy change (points) of an arm: over the task's questions and training seeds."""
    rng = np.random.default_rng(99)
    difficulty = rng.normal(0, 1.5, draws)
    tuned = expit(difficulty + rng.normal(effect, seed_sd, draws) + rng.normal(0, question_sd, draws))
    return 100 * float(tuned.mean() - expit(difficulty).mean())


def _task_answers(rng, effects, seeds, questions, seed_sd, question_sd, agreement=0.95):
    """One study's per-question changes per arm: questions drawn from the task (logit difficulty), each arm's
    training a seed shift and a per-question shift; a tuned model keeps the base's luck on a question
    with probability ``agreement`` (greedy answers of related models agree)."""
    difficulty, luck = rng.normal(0, 1.5, questions), rng.uniform(size=questions)
    base = luck < expit(difficulty)
    found = {}
    for arm, effect in effects.items():
        logit = difficulty + rng.normal(0, question_sd, questions) + rng.normal(effect, seed_sd, (seeds, 1))
        own = np.where(rng.uniform(size=(seeds, questions)) < agreement, luck, rng.uniform(size=(seeds, questions)))
        found[arm] = 100.0 * ((own < expit(logit)).astype(float) - base)
    return found


@pytest.mark.parametrize(
    ("seed_sd", "question_sd", "seeds", "questions", "least_new", "most_old"),
    [(0.0, 0.5, 3, 900, 0.92, 0.75), (0.05, 0.3, 3, 300, 0.92, 0.88), (0.4, 0.3, 3, 300, 0.9, 1.0)],
)
def test_accuracy_intervals_cover_the_task_level_change(seed_sd, question_sd, seeds, questions, least_new, most_old):
    """Coverage of the task's truth: the seed-only interval misses it when questions dominate; ours holds."""
    effects = {"grpo": 0.4, "control": 0.1}
    truth = {arm: _task_truth(effect, seed_sd, question_sd) for arm, effect in effects.items()}
    rng, trials = np.random.default_rng(31), 300
    covered = {"arm": 0, "contrast": 0, "seeds only": 0}
    for _ in range(trials):
        answers = _task_answers(rng, effects, seeds, questions, seed_sd, question_sd)
        arm = task_interval([(1, {"d": answers["grpo"]})], 0.95)
        contrast = task_interval([(1, {"d": answers["grpo"]}), (-1, {"d": answers["control"]})], 0.95)
        old = mean_interval(answers["grpo"].mean(axis=1))
        covered["arm"] += arm.low <= truth["grpo"] <= arm.high
        covered["contrast"] += contrast.low <= truth["grpo"] - truth["control"] <= contrast.high
        covered["seeds only"] += old.low <= truth["grpo"] <= old.high
    rates = {key: value / trials for key, value in covered.items()}
    assert least_new <= rates["arm"] <= 0.99 and least_new <= rates["contrast"] <= 0.99, rates
    assert rates["seeds only"] <= most_old, rates


def test_task_spread_is_the_two_way_anova_variance():
    """One arm, one dataset: (MS_questions + MS_seeds - MS_residual) / (questions x seeds), Satterthwaite df."""
    rng = np.random.default_rng(32)
    y = rng.normal(0, 1, (4, 50)) + rng.normal(0, 1.5, (4, 1)) + rng.normal(0, 2, 50)
    n_s, n_q = y.shape
    grand = y.mean()
    ms_q = n_s * ((y.mean(axis=0) - grand) ** 2).sum() / (n_q - 1)
    ms_s = n_q * ((y.mean(axis=1) - grand) ** 2).sum() / (n_s - 1)
    ss_e = ((y - grand) ** 2).sum() - (n_q - 1) * ms_q - (n_s - 1) * ms_s
    ms_e = ss_e / ((n_s - 1) * (n_q - 1))
    spread = task_spread([(1, {"d": y})])
    assert spread.estimate == pytest.approx(grand)
    assert spread.variance == pytest.approx((ms_q + ms_s - ms_e) / (n_q * n_s))
    parts = [(ms_q, n_q - 1), (ms_s, n_s - 1), (-ms_e, (n_s - 1) * (n_q - 1))]
    assert spread.df == pytest.approx(sum(m for m, _ in parts) ** 2 / sum(m**2 / df for m, df in parts))
    # Seeds that vary no more than the residual: only the questions' part is left.
    flat = rng.normal(0, 1, (3, 50)) + rng.normal(0, 2, 50)
    assert task_spread([(1, {"d": flat - flat.mean(axis=1, keepdims=True)})]).variance == pytest.approx(
        flat.mean(axis=0).var(ddof=1) / 50
    )
    assert task_detectable([(1, {"d": y})], 0.95) > 0 and np.isnan(task_detectable(None, 0.95))
    assert np.isnan(task_interval(None, 0.95).low)


def test_question_changes_align_questions_and_refuse_different_test_sets():
    arms = [Arm("grpo", "GRPO", ("g0", "g1"))]
    base = {"q1": True, "q2": False, "q3": False}
    correct = {
        ("g0", "base", "d"): base,
        ("g0", "rl", "d"): {"q3": True, "q1": True, "q2": True},
        ("g1", "base", "d"): dict(reversed(base.items())),
        ("g1", "rl", "d"): {"q1": False, "q2": False, "q3": True},
    }
    np.testing.assert_array_equal(question_changes(correct, arms, ["d"])["grpo"]["d"], [[0, 100, 100], [-100, 0, 100]])
    correct["g1", "rl", "d"] = {"q1": False, "q2": False}
    with pytest.raises(InputFormatError, match=r"graded answers of g1 \(rl\) on d: not the questions g0 \(base\)"):
        question_changes(correct, arms, ["d"])


def test_tables_say_which_population_each_interval_is_about():
    table1, table4, arms = _tables({"grpo": 0.2, "control": 0.0}, 3, np.random.default_rng(33))
    seeds = seed_values(table1, table4, arms)
    contrasts = [Contrast("c", "grpo", "control")]
    answers = {
        arm.name: {d: np.random.default_rng(34).choice([-100.0, 0.0, 100.0], (3, 60)) for d in DATASETS} for arm in arms
    }
    for frame in (arm_table(seeds, arms), contrast_table(seeds, contrasts), verdicts(seeds, arms, contrasts, EXPECTED)):
        assert set(frame.set_index("metric").population.items()) >= {
            (ACCURACY, "these test questions"),
            ("intensity", "these selected questions"),
        }
    with_answers = arm_table(seeds, arms, answers=answers)
    accuracy = with_answers[with_answers.metric == ACCURACY]
    assert set(accuracy.population) == {TASK}
    everything = accuracy[(accuracy.arm == "grpo") & (accuracy.dataset == ALL_DATASETS)].iloc[0]
    assert everything["mean"] == pytest.approx(np.mean([answers["grpo"][d].mean() for d in DATASETS]))
