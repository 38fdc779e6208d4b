"""The demo workflow for real: Snakemake trains the still smaller mini zoo of config/smoke.yaml on
CPU and runs every stage of config/demo.yaml (same rules) down to the report, then checks each
DESIGN §3 output. Every test here runs Snakemake: all are `slow`."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from workflow import REPO, job_counts, outputs, snakemake, workdir, write_config

pytestmark = [pytest.mark.slow, pytest.mark.snakemake]

SMOKE = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
RUN = SMOKE["run_name"]


def demo_config() -> dict:
    return yaml.safe_load((REPO / "config" / "demo.yaml").read_text())


def test_demo_dag(tmp_path):
    done = snakemake(workdir(tmp_path), "-n", "--configfile", "config/demo.yaml")
    assert done.returncode == 0, done.stderr
    counts = job_counts(done.stdout)
    assert (counts["zoo_tasks"], counts["train_sft"], counts["train_rl"]) == (3, 3, 5)
    # 8 distinct models (the three Qwen2 pairs share one SFT base): each generated once, over all 3 datasets.
    assert counts["generate"] == 8 and counts["grade"] == 8 * 3 and counts["select"] == 5 * 3
    generations = outputs(done.stdout, r"results/demo/generations/\S+?\.jsonl")
    assert len(generations) == 8 * 3 and "results/demo/generations/sft/qwen2/fractions.jsonl" in generations
    assert counts["attribute"] == 5 * 2 * 3 and counts["analyze"] == 5 * 3 * 2
    assert len(outputs(done.stdout, r"results/demo/attribution/\S+?\.npz")) == 5 * 3 * 2 * 2
    assert "fetch_model" not in counts  # the zoo's models are local folders the workflow trains


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
    done = snakemake(folder, "--cores", "2", "--configfile", "config/smoke.yaml", timeout=1200)
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
    for model in ("sft/llama", "rl/grpo", "rl/dpo", "rl/online_dpo"):
        assert (out / "zoo" / model / "model.safetensors").is_file()
    assert sorted(p.name for p in (smoke_run / "benchmarks" / RUN / "generate").rglob("*.tsv")) == [
        "dpo.tsv",
        "grpo.tsv",
        "llama.tsv",
        "online_dpo.tsv",
    ]  # one generation job per distinct model


def test_the_report_shows_the_tables_figures_and_the_ablation(smoke_run):
    html = (smoke_run / "results" / RUN / "report" / "index.html").read_text()
    for text in (
        "Table 1",
        "Table 4",
        "Claims checklist",
        "Ablation llama_online_dpo: online DPO from llama_dpo",
        "arithmetic",
        "equations",
        "fractions",
        "train_sft",
        "train_rl",
    ):
        assert text in html, text
    assert html.count("data:image/png;base64,") == 4  # Figures 2, 3(a), 3(b) and the zoo's training curves
    assert "Training curves of the mini zoo's models (rl/dpo, rl/grpo, rl/online_dpo, sft/llama)" in html
    assert "have no results" not in html  # every cell of the grid is there
