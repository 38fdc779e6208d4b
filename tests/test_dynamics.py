"""Training dynamics: the plan's checkpoint axis, KL from the base, the point contract, the summaries and figures."""

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

import tiny_models
from rlcircuits.contracts import RoleTokens
from rlcircuits.divergence import answer_kl
from rlcircuits.dynamics import (
    ACCURACY,
    KL,
    DynamicsPoint,
    effect_table,
    points_table,
    read_point,
    run_summaries,
    setting_table,
    write_point,
)
from rlcircuits.dynamics_figures import against_kl, against_step, effects_forest
from rlcircuits.errors import InputFormatError, SettingsError
from rlcircuits.report import DynamicsSection, dynamics_rows
from rlcircuits.run_plan import DYNAMICS_BASE, RunPlan
from rlcircuits.study import detectable_difference, mean_interval, welch_interval
from rlcircuits.vocabulary import METRICS
from script_loader import load_script

REPO = Path(__file__).resolve().parents[1]


def _config(name: str = "dynamics") -> dict:
    return yaml.safe_load((REPO / "config" / f"{name}.yaml").read_text())


# --- the plan ---------------------------------------------------------------------------------


def test_the_dynamics_config_plans_eight_runs_of_six_checkpoints_on_the_shared_base():
    plan = RunPlan.from_config(_config())
    assert len(plan.dynamics_runs) == 8 and all(
        run.steps == (50, 100, 150, 200, 250, 300) for run in plan.dynamics_runs.values()
    )
    assert plan.dynamics_base == "results/study/zoo/sft/llama" == plan.zoo_model("sft", "llama")
    points = plan.dynamics_points()
    assert points[0] == (DYNAMICS_BASE, 0) and len(points) == 1 + 8 * 6
    run = plan.dynamics_runs["dyn_grpo_t13_s1"]
    assert (run.setting, run.folder) == ("grpo_t13", "results/study/zoo/rl/dyn_grpo_t13_s1")
    assert plan.dynamics_model_folder("dyn_grpo_t13_s1") == run.folder
    assert plan.dynamics_model_path("dyn_grpo_t13_s1", 150) == f"{run.folder}/checkpoints/step-000150"
    assert plan.dynamics_model_folder(DYNAMICS_BASE) == plan.dynamics_model_path(DYNAMICS_BASE, 0) == plan.dynamics_base
    assert plan.dynamics_point("dyn_grpo_t13_s1", 150, "equations") == (
        "results/dynamics/dynamics/dyn_grpo_t13_s1/step-000150/point/equations.json"
    )
    assert plan.dynamics_metrics() == "results/dynamics/dynamics/{run}/step-{step}/metrics/{dataset}/alpha{alpha}.json"
    assert len(plan.dynamics_metrics_files()) == 48 and len(plan.dynamics_point_files()) == 49
    assert len(plan.dynamics_tables()) == 3 and len(plan.dynamics_figures()) == 2 * (2 * len(METRICS) + 3)
    assert [c.versus for c in plan.dynamics_contrasts] == ["grpo_t07", "grpo_t07", "control"]
    assert plan.dynamics_settings["control"].control and not plan.dynamics_settings["grpo_t10"].control


def test_without_a_dynamics_section_the_plan_has_no_checkpoint_axis():
    plan = RunPlan.from_config(_config("study"))
    assert plan.dynamics_points() == plan.dynamics_tables() == plan.dynamics_figures() == []
    assert plan.dynamics_metrics_files() == [] and plan.zoo_dir == "results/study/zoo"


def _broken(change) -> dict:
    config = copy.deepcopy(_config())
    change(config)
    return config


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["dynamics"]["settings"]["control"]["runs"].append("nope"), "'nope' is neither a model of zoo.rl"),
        (
            lambda c: c["zoo"]["rl"]["dyn_control_s1"].pop("checkpoint_every"),
            "zoo.rl.dyn_control_s1: a dynamics run needs",
        ),
        (lambda c: c["zoo"]["rl"]["dyn_control_s1"].update(checkpoint_every=500), "checkpoint_every exceeds steps"),
        (
            lambda c: c["dynamics"]["settings"]["control"]["runs"].append("dyn_grpo_t07_s0"),
            "already a run of setting grpo_t07",
        ),
        (
            lambda c: c["dynamics"]["contrasts"].append({"name": "x", "setting": "grpo_t07", "versus": "t9"}),
            "versus 't9'",
        ),
        (lambda c: c["dynamics"].update(datasets=["fractions"]), "dynamics.datasets: fractions not under datasets"),
        (
            lambda c: (
                c["zoo"]["sft"].update(other={"architecture": "llama"}),
                c["zoo"]["rl"]["dyn_control_s1"].update(base="other"),
            ),
            "every run must be tuned from one base",
        ),
    ],
)
def test_a_dynamics_section_the_schema_cannot_check_is_refused_by_name(change, message):
    with pytest.raises(SettingsError, match=message):
        RunPlan.from_config(_broken(change))


# --- KL from the base -------------------------------------------------------------------------


def _direct_kl(model, base, answers) -> float:
    """Token by token in float64 numpy: sum_v p log(p / q) at each answer position, pooled."""
    total, count = 0.0, 0
    for answer in answers:
        ids = list(answer.prompt_token_ids) + list(answer.answer_token_ids)
        for position in range(len(answer.prompt_token_ids) - 1, len(ids) - 1):
            prefix = torch.tensor([ids[: position + 1]])
            p, q = (torch.softmax(m(input_ids=prefix).logits[0, -1].double(), -1).numpy() for m in (model, base))
            total += float(np.sum(p * np.log(p / q)))
            count += 1
    return total / count


def test_answer_kl_is_the_token_pooled_kl_of_a_direct_float64_computation():
    model, base = (tiny_models.build("llama", dtype=torch.float64, seed=seed) for seed in (0, 1))
    rng = np.random.default_rng(0)
    answers = [
        RoleTokens(
            tuple(rng.integers(0, tiny_models.VOCAB, size=n).tolist()),
            tuple(rng.integers(0, tiny_models.VOCAB, size=m).tolist()),
        )
        for n, m in ((3, 5), (6, 1), (2, 9))
    ]
    kl, tokens = answer_kl(model, base, answers)
    assert tokens == 15
    assert kl == pytest.approx(_direct_kl(model, base, answers), rel=1e-10) and kl > 0
    assert answer_kl(model, model, answers) == (0.0, 15)
    with pytest.raises(InputFormatError, match="empty prompt or answer"):
        answer_kl(model, base, [RoleTokens((1, 2), ())])


# --- the point contract -----------------------------------------------------------------------


def _point(**change) -> DynamicsPoint:
    values = dict(
        run="r",
        step=50,
        dataset="d",
        model="m",
        questions=300,
        correct=150,
        set_size=100,
        set_correct=80,
        kl=0.25,
        kl_tokens=900,
    )
    return DynamicsPoint(**{**values, **change})


def test_a_point_round_trips_and_a_bad_one_is_named(tmp_path):
    write_point(tmp_path / "p.json", _point())
    point = read_point(tmp_path / "p.json")
    assert point == _point() and point.accuracy == 50.0 and point.set_accuracy == 80.0
    for change, message in (
        ({"kl": -0.5}, "kl must be a finite number >= 0"),
        ({"correct": 301}, "inconsistent counts"),
        ({"step": "50"}, "step must be a int"),
    ):
        record = {**json.loads((tmp_path / "p.json").read_text()), **change}
        (tmp_path / "bad.json").write_text(json.dumps(record))
        with pytest.raises(InputFormatError, match=f"bad.json: {message}"):
            read_point(tmp_path / "bad.json")
    (tmp_path / "bad.json").write_text(json.dumps({"run": "r"}))
    with pytest.raises(InputFormatError, match="missing key step"):
        read_point(tmp_path / "bad.json")


# --- summaries on synthetic inputs --------------------------------------------------------------


def _synthetic(plan: RunPlan, seed: int = 0) -> tuple[dict, dict]:
    """Points and analyze records for every checkpoint: metric = base x (1 + run effect x step)."""
    rng = np.random.default_rng(seed)
    base_values = {metric: 1.0 + i for i, metric in enumerate(METRICS)}
    points, cells = {}, {}
    for run, step in plan.dynamics_points():
        for dataset in plan.dynamics_datasets:
            correct = 100 + step // 10 + (0 if run == DYNAMICS_BASE else int(rng.integers(0, 5)))
            kl = 0.0 if run == DYNAMICS_BASE else step / 1000 + float(rng.uniform(0, 0.01))
            points[plan.dynamics_point(run, step, dataset)] = _point(
                run=run, step=step, dataset=dataset, correct=correct, kl=kl
            )
            if run == DYNAMICS_BASE:
                continue
            effect = 0.001 * (1 + int(run.endswith("s1")) * 0.1)
            for alpha in plan.dynamics_alphas:
                metrics = {m: {"base": v, "rl": v * (1 + effect * step)} for m, v in base_values.items()}
                cells[plan.dynamics_metrics(run, step, dataset, alpha)] = {"metrics": metrics}
    return points, cells


def test_points_summaries_and_contrasts_follow_the_study_statistics():
    plan = RunPlan.from_config(_config())
    points = points_table(plan, *_synthetic(plan))
    assert set(points["quantity"]) == {ACCURACY, "set_accuracy", KL, *METRICS}
    first = points[(points["run"] == "dyn_grpo_t07_s0") & (points["quantity"] == "intensity")]
    assert first["step"].tolist() == [0, 50, 100, 150, 200, 250, 300] and first["value"].iloc[0] == 1.0
    summaries = run_summaries(points)
    row = summaries[(summaries["run"] == "dyn_grpo_t07_s1") & (summaries["step"] == 300)].set_index("quantity")[
        "change"
    ]
    assert row["intensity"] == pytest.approx(100 * 0.0011 * 300)  # relative change in %
    base_accuracy = 100 * 100 / 300
    assert (
        row[KL]
        == points[(points["run"] == "dyn_grpo_t07_s1") & (points["step"] == 300) & (points["quantity"] == KL)][
            "value"
        ].item()
    )
    start = points[(points["run"] == "dyn_grpo_t07_s1") & (points["step"] == 300) & (points["quantity"] == ACCURACY)][
        "value"
    ].item()
    assert row[ACCURACY] == pytest.approx(start - base_accuracy)  # points
    settings = setting_table(plan, summaries)
    cell = settings[
        (settings["setting"] == "grpo_t13") & (settings["quantity"] == "kurtosis") & (settings["step"] == 300)
    ]
    values = summaries[
        (summaries["setting"] == "grpo_t13") & (summaries["quantity"] == "kurtosis") & (summaries["step"] == 300)
    ]["change"]
    expected = mean_interval(values.to_numpy())
    assert cell[["mean", "ci_low", "ci_high"]].to_numpy()[0].tolist() == pytest.approx(
        [expected.estimate, expected.low, expected.high]
    )
    effects = effect_table(plan, summaries)
    assert len(effects) == 3 * (len(METRICS) + 3) and set(effects["step"]) == {300}
    effect = effects[(effects["contrast"] == "T=1.3 vs T=0.7") & (effects["quantity"] == KL)].iloc[0]
    last = summaries[(summaries["step"] == 300) & (summaries["quantity"] == KL)]
    a, b = (last[last["setting"] == s]["change"].to_numpy() for s in ("grpo_t13", "grpo_t07"))
    interval = welch_interval(a, b)
    assert [effect.difference, effect.ci_low, effect.ci_high] == pytest.approx(
        [interval.estimate, interval.low, interval.high]
    )
    assert effect.detectable == pytest.approx(detectable_difference(a, b, 0.95))
    # The metrics move identically for every setting here: a zero difference with no spread is no finding.
    same = effects[effects["quantity"] == "intensity"]
    assert not same["excludes_zero"].any()


def test_figures_draw_every_run_and_the_control(tmp_path):
    plan = RunPlan.from_config(_config())
    points = points_table(plan, *_synthetic(plan))
    figure = against_step(points, "intensity")
    lines = figure.axes[0].get_lines()
    assert len(lines) == 8 + 4  # a thin line per run, a thick one per setting
    assert sum(line.get_linestyle() == "--" for line in lines) == 3  # the control: two runs and its mean
    assert [t.get_text() for t in figure.axes[0].get_legend().get_texts()] == [
        "GRPO T=0.7",
        "GRPO T=1.0",
        "GRPO T=1.3",
        "continued SFT",
    ]
    kl_figure = against_kl(points, "complexity")
    assert len(kl_figure.axes[0].get_lines()) == 8
    first = kl_figure.axes[0].get_lines()[0]
    assert first.get_xdata()[0] == 0.0 and len(first.get_xdata()) == 7  # from the base (KL 0) on
    effects = effect_table(plan, run_summaries(points))
    forest = effects_forest(effects)
    assert len(forest.axes) == len(METRICS) + 3  # accuracy, accuracy on the set, KL, each metric
    from rlcircuits.figures import save_figure

    svg, png = save_figure(forest, tmp_path / "effects")
    assert svg.read_bytes().startswith(b"<?xml") and png.stat().st_size > 1000


def test_the_smoke_run_covers_a_checkpoint_sequence():
    plan = RunPlan.from_config(_config("smoke"))
    assert {name: (run.setting, run.steps) for name, run in plan.dynamics_runs.items()} == {
        "grpo": ("grpo", (1, 2)),
        "control": ("control", (2,)),
    }


def _full_cell(cell: dict, dataset: str, alpha: str) -> dict:
    """A synthetic analyze record with every key Table 1 reads."""
    metrics = {
        m: {
            "test": "t",
            "difference": v["rl"] - v["base"],
            "ci_low": 0.0,
            "ci_high": 0.0,
            "p_value": 0.5,
            "n": 5,
            "paper": {},
            **v,
        }
        for m, v in cell["metrics"].items()
    }
    return {"pair": "p", "dataset": dataset, "alpha": float(alpha), "metrics": metrics}


def test_the_summary_script_and_the_report_section(tmp_path, monkeypatch):
    """scripts/dynamics.py on synthetic points and records, then the page: the section is there, and only then."""
    config = {**_config(), "run_name": "unit"}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.chdir(tmp_path)
    plan = RunPlan.from_config(config)
    points, cells = _synthetic(plan)
    for path, point in points.items():
        write_point(path, point)
    for path, cell in cells.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        dataset, alpha = Path(path).parent.name, Path(path).stem.removeprefix("alpha")
        Path(path).write_text(json.dumps(_full_cell(cell, dataset, alpha)))
    assert load_script("dynamics").main(["--run-config", "config.yaml"]) == 0
    assert all(Path(path).is_file() for path in plan.dynamics_tables() + plan.dynamics_figures())
    effects = pd.read_csv(plan.table("dynamics_effects"))
    assert effects["contrast"].unique().tolist() == ["T=1.3 vs T=0.7", "T=1.0 vs T=0.7", "GRPO T=0.7 vs continued SFT"]
    render = load_script("render_report")
    assert render.main(["--run-config", "config.yaml", "--out", "with.html"]) == 0
    page = Path("with.html").read_text()
    assert "<h2>Training dynamics</h2>" in page and page.count('alt="Training dynamics: ') == 2 * len(METRICS) + 3
    assert "GRPO T=1.3" in page and "T=1.0 vs T=0.7" in page and "continued SFT" in page
    assert (
        "The figure" not in page and "missing" not in page.split("<h2>Training dynamics</h2>")[1].split("</section>")[0]
    )
    without = {key: value for key, value in config.items() if key != "dynamics"}
    without["selection"] = {**without["selection"], "shared": "pair"}
    (tmp_path / "plain.yaml").write_text(yaml.safe_dump(without))
    assert render.main(["--run-config", "plain.yaml", "--out", "without.html"]) == 0
    plain = Path("without.html").read_text()
    assert "Training dynamics" not in plain and "This run selects against the base" not in plain


def test_the_page_rows_use_fixed_decimals_per_unit():
    """A mean that is zero up to rounding (two seeds at -1 and +1 points) reads +0.00, not -3.553e-15."""
    settings = pd.DataFrame(
        [
            ("t", "T", ACCURACY, 50, 2, -3.552713678800501e-15, -12.7, 12.7),
            ("t", "T", KL, 50, 2, 0.0066650, 0.0010271, 0.0123),
            ("t", "T", "intensity", 50, 2, 6.89962, 3.89228, 9.90697),
        ],
        columns=["setting", "label", "quantity", "step", "n_seeds", "mean", "ci_low", "ci_high"],
    )
    rows, _ = dynamics_rows(DynamicsSection({}, settings, None, ["d"], ["0.5"]))
    assert [(row["estimate"], row["ci"]) for row in rows] == [
        ("+0.00 pts", "[-12.70 pts, +12.70 pts]"),
        ("+0.0067 nats", "[+0.0010 nats, +0.0123 nats]"),
        ("+6.90%", "[+3.89%, +9.91%]"),
    ]
