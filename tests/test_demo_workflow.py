"""The demo workflow for real: Snakemake trains the still smaller mini zoo of config/smoke.yaml on
CPU and runs every stage of config/demo.yaml (same rules) down to the report, then checks each
docs/DESIGN.md §3 output. Every test here runs Snakemake: all are `slow`."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from rlcircuits.vocabulary import METRICS
from workflow import REPO, job_counts, outputs, snakemake, workdir, write_config

pytestmark = [pytest.mark.slow, pytest.mark.snakemake]

SMOKE = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
RUN = SMOKE["run_name"]


def demo_config() -> dict:
    return yaml.safe_load((REPO / "config" / "demo.yaml").read_text())


def test_demo_dag(tmp_path):
    done = snakemake(workdir(tmp_path), "-n", "-p", "--configfile", "config/demo.yaml")
    assert done.returncode == 0, done.stderr
    assert "--against-base" not in done.stdout and "--checkpoint-every" not in done.stdout  # the paper's selection
    counts = job_counts(done.stdout)
    assert (counts["zoo_tasks"], counts["train_sft"], counts["train_rl"]) == (3, 3, 5)
    # 8 distinct models (the three Qwen2 pairs share one SFT base): each generated once, over all 3 datasets.
    assert counts["generate"] == 8 and counts["grade"] == 8 * 3 and counts["select"] == 5 * 3
    generations = outputs(done.stdout, r"results/demo/generations/\S+?\.jsonl")
    assert len(generations) == 8 * 3 and "results/demo/generations/sft/qwen2/fractions.jsonl" in generations
    assert counts["attribute"] == 5 * 2 * 3 and counts["analyze"] == 5 * 3 * 2
    assert len(outputs(done.stdout, r"results/demo/attribution/\S+?\.npz")) == 5 * 3 * 2 * 2
    assert "fetch_model" not in counts  # the zoo's models are local folders the workflow trains


def test_study_dag(tmp_path):
    """config/study.yaml: one base, four arms of five seeds, every seed an ordinary pair, then the study rule."""
    done = snakemake(workdir(tmp_path), "-n", "-p", "--configfile", "config/study.yaml")
    assert done.returncode == 0, done.stderr
    counts = job_counts(done.stdout)
    assert (counts["zoo_tasks"], counts["train_sft"], counts["train_rl"]) == (3, 1, 20)
    selects = [line for line in done.stdout.splitlines() if "scripts/select_samples.py" in line]
    assert len(selects) == 20 * 3 and all("--against-base" in line for line in selects)  # one question set per dataset
    assert "--checkpoint-every" not in done.stdout
    assert counts["generate"] == 1 + 20 and counts["select"] == 20 * 3 and counts["analyze"] == 20 * 3 * 2
    assert counts["study"] == 1 and counts["render_report"] == 1
    # The base is attributed once per dataset, not once per seed: every pair reads grpo_s0's base files.
    assert counts["attribute"] == 20 * 3 + 3
    analyzes = [line for line in done.stdout.splitlines() if "scripts/analyze.py" in line]
    assert len(analyzes) == 20 * 3 * 2
    assert all("--base results/study/attribution/grpo_s0/" in line for line in analyzes)
    # Longest training first (run_plan.training_priority): every GRPO job before the DPOs, the control last.
    priority = {name: int(n) for name, n in re.findall(r"wildcards: tuned=(\w+)\n\s+priority: (\d+)", done.stdout)}
    arms = {name.rsplit("_s", 1)[0] for name in priority}
    assert len(priority) == 20 and arms == {"grpo", "online_dpo", "dpo", "control"}
    ranked = sorted(priority, key=priority.get, reverse=True)
    assert {name.rsplit("_s", 1)[0] for name in ranked[:5]} == {"grpo"}
    assert {name.rsplit("_s", 1)[0] for name in ranked[-5:]} == {"control"}


def test_the_study_arms_differ_only_in_algorithm_and_seed():
    """Steps, questions per step, schedule, sampling and base are shared by every arm; the rate and beta
    within the policy-gradient pair (GRPO, its control) and within the DPO pair (online, offline)."""
    study = yaml.safe_load((REPO / "config" / "study.yaml").read_text())
    models = study["zoo"]["rl"]
    per_arm = {}
    for name, spec in models.items():
        arm, seed = name.rsplit("_s", 1)
        assert spec["seed"] == int(seed) and study["pairs"][name]["rl"]["model"].endswith(f"/rl/{name}")
        per_arm.setdefault(arm, []).append({k: v for k, v in spec.items() if k != "seed"})
    assert all(len(specs) == 5 and all(s == specs[0] for s in specs) for specs in per_arm.values())
    shared = {
        arm: {k: v for k, v in specs[0].items() if k not in ("algorithm", "learning_rate", "beta")}
        for arm, specs in per_arm.items()
    }
    assert len({tuple(sorted(s.items())) for s in shared.values()}) == 1
    rate = {arm: (specs[0]["learning_rate"], specs[0]["beta"]) for arm, specs in per_arm.items()}
    assert rate["grpo"] == rate["control"] and rate["dpo"] == rate["online_dpo"]


def test_a_study_seed_must_share_the_base(tmp_path):
    folder = workdir(tmp_path)
    config = yaml.safe_load((REPO / "config" / "study.yaml").read_text())
    config["pairs"]["dpo_s2"]["base"] = {"model": "results/study/zoo/sft/other"}
    done = snakemake(folder, "-n", "--configfile", str(write_config(folder, config)))
    assert done.returncode != 0
    assert "every seed must be tuned from one base" in done.stdout + done.stderr


def test_a_zoo_rl_model_must_name_an_sft_base(tmp_path):
    folder = workdir(tmp_path)
    config = demo_config()
    config["zoo"]["rl"]["llama_grpo"]["base"] = "gpt2"
    done = snakemake(folder, "-n", "--configfile", str(write_config(folder, config)))
    assert done.returncode != 0
    assert "config zoo.rl.llama_grpo.base: 'gpt2' is not an SFT model of zoo.sft" in done.stdout + done.stderr


def test_an_ablation_must_name_another_pair(tmp_path):
    folder = workdir(tmp_path)
    config = demo_config()
    config["pairs"]["qwen2_online_dpo"]["ablation_of"] = "qwen2_ppo"
    done = snakemake(folder, "-n", "--configfile", str(write_config(folder, config)))
    assert done.returncode != 0
    assert "config pairs.qwen2_online_dpo.ablation_of: 'qwen2_ppo' is not another pair" in done.stdout + done.stderr


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> Path:
    folder = workdir(tmp_path_factory.mktemp("demo"))
    done = snakemake(folder, "--cores", "2", "--configfile", "config/smoke.yaml", timeout=3000)
    assert done.returncode == 0, done.stderr[-5000:]
    return folder


def test_every_output_of_the_data_contract_exists(smoke_run):
    out = smoke_run / "results" / RUN
    models = {"base": "sft/llama", **{pair: f"rl/{pair.removeprefix('llama_')}" for pair in SMOKE["pairs"]}}
    for pair in SMOKE["pairs"]:
        for dataset in SMOKE["datasets"]:
            for role in ("base", "rl"):
                model = models["base" if role == "base" else pair]  # the pairs share one base: one set of files
                graded = [json.loads(line) for line in (out / "graded" / model / f"{dataset}.jsonl").open()]
                assert len(graded) == 100 and {"pred", "correct", "answer_token_ids"} <= set(graded[0])
                assert (out / "generations" / model / f"{dataset}.jsonl").is_file()
                with np.load(out / "attribution" / pair / dataset / "alpha0.5" / f"{role}.npz") as npz:
                    assert npz["scores"].dtype == np.float32 and npz["scores"].shape[1:] == (5, 9)
            selection = json.loads((out / "selection" / pair / f"{dataset}.json").read_text())
            assert selection["counts"]["selected"] >= 2
            metrics = json.loads((out / "metrics" / pair / dataset / "alpha0.5.json").read_text())
            assert metrics["n_samples"] == selection["counts"]["selected"]
    for table in ("table1", "table4"):
        assert (out / "tables" / f"{table}.csv").stat().st_size > 0
    for figure in ("fig2", "fig3a", "fig3b"):
        assert (out / "figures" / f"{figure}.png").is_file() and (out / "figures" / f"{figure}.svg").is_file()
    tuned = ("grpo", "dpo", "online_dpo", "grpo_seed1", "control", "control_seed1")
    for model in ("sft/llama", *(f"rl/{name}" for name in tuned)):
        assert (out / "zoo" / model / "model.safetensors").is_file()
    generated = sorted(p.name for p in (smoke_run / "benchmarks" / RUN / "generate").rglob("*.tsv"))
    assert generated == sorted(f"{name}.tsv" for name in ("llama", *tuned))  # one generation job per distinct model


def test_the_study_summarises_its_seeds(smoke_run):
    """Two arms (GRPO, the continued-SFT control) of two seeds each: intervals over seeds and a verdict per metric."""
    out = smoke_run / "results" / RUN
    control = json.loads((out / "zoo" / "rl" / "control" / "zoo_training.json").read_text())
    grpo = json.loads((out / "zoo" / "rl" / "grpo" / "zoo_training.json").read_text())
    assert control["stage"] == "continued_sft" and control["settings"] == grpo["settings"]  # only the algorithm differs
    arms = pd.read_csv(out / "tables" / "study_arms.csv")
    assert set(arms.arm) == {"grpo", "control"} and (arms.n_seeds == 2).all()
    intensity = arms[arms.metric == "intensity"]
    assert len(intensity) == 2 * len(SMOKE["datasets"]) and np.isfinite(intensity[["ci_low", "ci_high"]]).all().all()
    assert (intensity.ci_low <= intensity["mean"]).all() and (intensity["mean"] <= intensity.ci_high).all()
    seeds = pd.read_csv(out / "tables" / "study_seeds.csv")
    table1 = pd.read_csv(out / "tables" / "table1.csv")
    cell = seeds[(seeds.pair == "llama_control") & (seeds.metric == "kurtosis") & (seeds.dataset == "equations")]
    expected = table1[
        (table1.pair == "llama_control") & (table1.metric == "kurtosis") & (table1.dataset == "equations")
    ]
    assert cell.value.tolist() == pytest.approx(expected.relative_change.tolist())
    contrasts = pd.read_csv(out / "tables" / "study_contrasts.csv")
    assert set(contrasts.contrast) == {"RL vs more training"} and np.isfinite(contrasts.ci_low).all()
    verdicts = pd.read_csv(out / "tables" / "study_verdicts.csv")
    assert sorted(verdicts.metric) == sorted([*METRICS, "accuracy"])
    assert set(verdicts.set_index("metric").population.items()) >= {("accuracy", "the task")}
    assert set(verdicts.verdict) <= {"supported", "contradicted", "inconclusive"}
    for metric in verdicts.metric:
        assert (out / "figures" / f"study_{metric}.png").is_file() and (
            out / "figures" / f"study_{metric}.svg"
        ).is_file()


def test_the_report_shows_the_tables_figures_and_the_ablation(smoke_run):
    html = (smoke_run / "results" / RUN / "report" / "index.html").read_text()
    for text in (
        "Table 1",
        "Table 4",
        "Claims checklist",
        "Ablation llama_online_dpo: online DPO from llama_dpo",
        "arithmetic",
        "equations",
        "train_sft",
        "train_rl",
    ):
        assert text in html, text
    # Figures 2, 3(a), 3(b), the zoo's curves, the study's forest plots (each metric, accuracy), its arms'
    # curves; the training dynamics: each metric against step and against KL, accuracy, KL, the effects.
    assert html.count("data:image/png;base64,") == 4 + len(METRICS) + 1 + 1 + 2 * len(METRICS) + 3
    assert "<h2>Training dynamics</h2>" in html
    models = "rl/control, rl/control_seed1, rl/dpo, rl/grpo, rl/grpo_seed1, rl/online_dpo, sft/llama"
    assert f"Training curves of the mini zoo's models ({models})" in html
    assert "Controlled study" in html and "GRPO raises intensity more than continued SFT (RL vs more training)" in html
    assert "One line per seed (llama_control, llama_control_seed1, llama_grpo, llama_grpo_seed1)" in html
    assert "have no results" not in html  # every cell of the grid is there


def test_dynamics_dag(tmp_path):
    """config/dynamics.yaml: 8 runs of 6 checkpoints and the base, each measured once, beside a 4-pair grid."""
    done = snakemake(workdir(tmp_path), "-n", "-p", "--configfile", "config/dynamics.yaml")
    assert done.returncode == 0, done.stderr
    trainings = [line for line in done.stdout.splitlines() if "scripts/train_rl.py" in line]
    assert len(trainings) == 8 and all("--checkpoint-every 50" in line for line in trainings)
    counts = job_counts(done.stdout)
    assert (counts["zoo_tasks"], counts["train_sft"], counts["train_rl"]) == (3, 1, 8)
    for rule in ("dynamics_generate", "dynamics_select", "dynamics_attribute", "dynamics_point"):
        assert counts[rule] == 1 + 8 * 6, rule
    assert counts["dynamics_grade"] == 49 and counts["dynamics_analyze"] == 48 and counts["dynamics"] == 1
    assert counts["select"] == 4 and counts["render_report"] == 1


def test_the_dynamics_measures_a_checkpoint_sequence(smoke_run):
    """GRPO's checkpoints at steps 1 and 2, the control's at 2: each measured on the base's one question set."""
    out = smoke_run / "results" / RUN
    assert sorted(p.name for p in (out / "zoo" / "rl" / "grpo" / "checkpoints").iterdir()) == [
        "step-000001",
        "step-000002",
    ]
    assert sorted(p.name for p in (out / "zoo" / "rl" / "control" / "checkpoints").iterdir()) == ["step-000002"]
    assert not (out / "zoo" / "rl" / "grpo_seed1" / "checkpoints").exists()
    selections = sorted((out / "dynamics").glob("*/step-*/selection/arithmetic.json"))
    assert len(selections) == 4
    ids = {tuple(s["id"] for s in json.loads(path.read_text())["samples"]) for path in selections}
    assert len(ids) == 1  # one question set for the base and every checkpoint
    points = pd.read_csv(out / "tables" / "dynamics_points.csv")
    steps = points.groupby("run")["step"].unique().map(sorted).to_dict()
    assert steps == {"grpo": [0, 1, 2], "control": [0, 2]}
    kl = points[points["quantity"] == "kl"]
    assert (kl[kl["step"] == 0]["value"] == 0).all() and (kl["value"] >= 0).all()
    assert set(pd.read_csv(out / "tables" / "dynamics_effects.csv")["contrast"]) == {"GRPO vs continued SFT"}
    page = (out / "report" / "index.html").read_text()
    assert "<h2>Training dynamics</h2>" in page and "The figure dynamics_" not in page
