"""The demo workflow for real: Snakemake trains a still smaller mini zoo on CPU and runs every
stage of config/demo.yaml (same rules) down to the report, then checks each DESIGN §3 output."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from workflow import REPO, job_counts, snakemake, workdir, write_config

pytestmark = pytest.mark.snakemake

RUN = "smoke"


def demo_config() -> dict:
    return yaml.safe_load((REPO / "config" / "demo.yaml").read_text())


def test_demo_dag(tmp_path):
    done = snakemake(workdir(tmp_path), "-n", "--quiet", "rules", "--configfile", "config/demo.yaml")
    assert done.returncode == 0, done.stderr
    counts = job_counts(done.stdout)
    assert (counts["zoo_tasks"], counts["train_sft"], counts["train_rl"]) == (3, 3, 5)
    assert counts["generate"] == counts["grade"] == 5 * 2 * 3 and counts["select"] == 5 * 3
    assert counts["attribute"] == 5 * 3 * 2 * 2 and counts["analyze"] == 5 * 3 * 2
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


def small_zoo() -> dict:
    """One SFT base (a few hundred steps: some answers right, so both-correct selection has
    samples), tuned three ways for two steps each; 100 test questions per task; one alpha."""
    config = demo_config()
    zoo = f"results/{RUN}/zoo"
    config["run_name"] = RUN
    config["zoo"] = {
        "tasks": {"seed": 0, "n_test": 100, "n_train": 400},
        "sft": {"llama": {"architecture": "llama", "steps": 450, "seed": 0}},
        "rl": {name: {"algorithm": name, "base": "llama", "steps": 2, "prompts_per_step": 4, "learning_rate": 1e-5}
               for name in ("grpo", "dpo", "online_dpo")},
    }
    pair = config["pairs"]["llama"]
    config["pairs"] = {
        "llama_grpo": {**pair, "rl": {"model": f"{zoo}/rl/grpo"}},
        "llama_dpo": {**pair, "algorithm": "DPO", "online": False, "rl": {"model": f"{zoo}/rl/dpo"}},
        "llama_online_dpo": {**pair, "algorithm": "online DPO", "ablation_of": "llama_dpo",
                             "rl": {"model": f"{zoo}/rl/online_dpo"}},
    }
    for spec in config["pairs"].values():
        spec["base"] = {"model": f"{zoo}/sft/llama"}
    for name, spec in config["datasets"].items():
        spec["path"] = f"{zoo}/tasks/{name}_test.jsonl"
    config["alphas"] = [0.5]
    config["metrics"]["resamples"] = 200
    config["figure2"] = {"pair": "llama_grpo", "dataset": "arithmetic", "alpha": 0.5}
    return config


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> Path:
    folder = workdir(tmp_path_factory.mktemp("demo"))
    done = snakemake(folder, "--cores", "2", "--configfile", str(write_config(folder, small_zoo())), timeout=1200)
    assert done.returncode == 0, done.stderr[-5000:]
    return folder


def test_every_output_of_the_data_contract_exists(smoke_run):
    out = smoke_run / "results" / RUN
    config = small_zoo()
    for pair in config["pairs"]:
        for dataset in config["datasets"]:
            for role in ("base", "rl"):
                graded = [json.loads(line) for line in (out / "graded" / pair / role / f"{dataset}.jsonl").open()]
                assert len(graded) == 100 and {"pred", "correct", "answer_token_ids"} <= set(graded[0])
                assert (out / "generations" / pair / role / f"{dataset}.jsonl").is_file()
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


def test_the_report_shows_the_tables_figures_and_the_ablation(smoke_run):
    html = (smoke_run / "results" / RUN / "report" / "index.html").read_text()
    for text in ("Table 1", "Table 4", "Claims checklist", "Ablation llama_online_dpo: online DPO from llama_dpo",
                 "arithmetic", "equations", "fractions", "train_sft", "train_rl"):
        assert text in html, text
    assert html.count("data:image/png;base64,") == 3
    assert "have no results" not in html  # every cell of the grid is there
