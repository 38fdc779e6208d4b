"""The Snakemake workflow: lint, formatting, the paper's DAG, config validation, preflight,
container execution (with a stand-in apptainer), the SLURM profile, and a generate job that
fails on its second dataset and is rerun. No GPU, no engine. Every test that starts Snakemake
is `slow`."""

import html
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from transformers import LlamaConfig, LlamaForCausalLM

import tiny_models
import tiny_tokenizer
from workflow import REPO, job_counts, outputs, paper_config, snakemake, workdir, write_config

pytestmark = pytest.mark.snakemake


@pytest.mark.slow
def test_lint_is_clean(tmp_path):
    done = snakemake(workdir(tmp_path), "--lint")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Congratulations, your workflow is in a good condition!" in done.stdout + done.stderr


def test_snakefmt_is_clean():
    snakefmt = str(Path(os.sys.executable).with_name("snakefmt"))
    done = subprocess.run(
        [snakefmt, "--check", "Snakefile", "rules"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_paper_dag_is_the_grid(tmp_path):
    done = snakemake(workdir(tmp_path), "-n")
    assert done.returncode == 0, done.stderr
    counts = job_counts(done.stdout)
    # One job per model for generation (all datasets) and per pair x role x dataset for attribution (all alphas).
    assert counts["generate"] == 8 and counts["grade"] == 8 * 3 and counts["fetch_model"] == 8
    assert counts["select"] == 4 * 3 and counts["attribute"] == 4 * 2 * 3
    assert len(outputs(done.stdout, r"results/paper/attribution/\S+?\.npz")) == 4 * 3 * 4 * 2
    assert len(outputs(done.stdout, r"results/paper/generations/\S+?\.jsonl")) == 8 * 3
    assert counts["analyze"] == 4 * 3 * 4
    assert counts["preflight"] == counts["tables"] == counts["figures"] == counts["render_report"] == 1
    assert "models/deepseek-ai/deepseek-math-7b-rl" in outputs(done.stdout, r"models/\S+?(?=,|$)")


@pytest.mark.slow
def test_a_configfile_replaces_the_paper_config_instead_of_merging(tmp_path):
    folder = workdir(tmp_path)
    config = paper_config()
    config["pairs"] = {"only": config["pairs"]["mistral"]}
    config["figure2"]["pair"] = "only"
    done = snakemake(folder, "-n", "--quiet", "rules", "--configfile", str(write_config(folder, config)))
    assert done.returncode == 0, done.stderr
    assert job_counts(done.stdout)["generate"] == 2  # not the paper's 8 models on top


@pytest.mark.slow
@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda c: c.update(alphas=[0.1, 1.5]), "alphas"),
        (lambda c: c["pairs"]["mistral"].pop("template"), "template"),
        (lambda c: c["datasets"].update(AIME={"source": "hub"}), "AIME"),
        (lambda c: c["datasets"]["math"].update(format="latex"), "latex"),
        (lambda c: c["attribution"].update(layout="heads"), "heads"),
        (lambda c: c["datasets"]["math"].update(source="local"), "path"),
    ],
)
def test_schema_rejects_a_bad_config_naming_the_key(tmp_path, edit, named):
    folder = workdir(tmp_path)
    config = paper_config()
    edit(config)
    done = snakemake(folder, "-n", "--configfile", str(write_config(folder, config)))
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert named in output and "ValidationError" in output


@pytest.mark.slow
def test_paper_config_without_cuda_stops_at_preflight(tmp_path):
    folder = workdir(tmp_path)
    done = snakemake(folder, "--cores", "1")
    assert done.returncode != 0
    log = (folder / "logs" / "paper" / "preflight.log").read_text()
    assert "needs a CUDA GPU" in log and "config/demo.yaml" in log
    assert not (folder / "models").exists() and not (folder / "results" / "paper" / "generations").exists()


@pytest.mark.slow
def test_use_singularity_runs_jobs_in_the_configured_image_with_nv(tmp_path):
    folder = workdir(tmp_path)
    calls = tmp_path / "apptainer-calls.txt"
    fake = tmp_path / "bin" / "apptainer"
    fake.parent.mkdir()
    # Stand-in for the apptainer binary: records its arguments and runs the job's command on
    # the host (the last two arguments are `-c "<command>"` of the shell it would start).
    fake.write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$@" >> {calls}\n'
        'if [ "$1" = "--version" ]; then echo "apptainer version 1.3.4"; exit 0; fi\n'
        'if [ "$1" = "exec" ]; then eval "${@: -1}"; fi\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    image = tmp_path / "rl-circuits.sif"
    image.write_bytes(b"stand-in image")
    config = paper_config()
    config.update(run_name="container", device="cpu", container=str(image))
    path = write_config(folder, config)
    done = snakemake(
        folder,
        "results/container/preflight.json",
        "--cores",
        "1",
        "--use-singularity",
        "--configfile",
        str(path),
        env={"PATH": f"{fake.parent}:{os.environ['PATH']}"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    execs = [line for line in calls.read_text().splitlines() if line.startswith("exec")]
    assert len(execs) == 1
    assert "--nv" in execs[0].split() and str(image) in execs[0] and "scripts/preflight.py" in execs[0]
    assert (folder / "results" / "container" / "preflight.json").is_file()


@pytest.mark.slow
def test_slurm_profile_dry_runs(tmp_path):
    pytest.importorskip("snakemake_executor_plugin_slurm")
    done = snakemake(workdir(tmp_path), "-n", "--workflow-profile", "profiles/slurm", "--quiet", "rules")
    assert done.returncode == 0, done.stdout + done.stderr
    assert job_counts(done.stdout)["attribute"] == 24


# --- a generate job that fails on its second dataset --------------------------------------------


def _model_without_the_inst_tokens(folder: Path) -> Path:
    """A tiny Llama whose embedding stops short of the tokenizer's last ids (the merges IN, INS, INST):
    a prompt holding "INST" makes its forward pass fail, as a real model fails on a bad input."""
    config = LlamaConfig(**{**tiny_models.CONFIGS["llama"](2).to_dict(), "vocab_size": tiny_models.VOCAB - 3})
    return tiny_tokenizer.save_with_model(LlamaForCausalLM(config).eval(), folder)


def _qa_file(path: Path, questions: list[str]) -> Path:
    path.write_text(
        "".join(json.dumps({"id": f"q{i}", "question": q, "gold": "1"}) + "\n" for i, q in enumerate(questions))
    )
    return path


@pytest.mark.slow
def test_a_generate_job_failing_on_its_second_dataset_keeps_the_first_for_the_rerun(tmp_path):
    folder = workdir(tmp_path)
    model = _model_without_the_inst_tokens(tmp_path / "zoo" / "sft")
    first = _qa_file(tmp_path / "first.jsonl", ["what is one?", "add two and three", "is nine odd?"])
    second = _qa_file(tmp_path / "second.jsonl", ["say one", "INST two"])
    config = paper_config()
    pair = {
        **config["pairs"]["deepseek_math"],
        "max_new_tokens": 4,
        "base": {"model": str(model)},
        "rl": {"model": str(tmp_path / "zoo" / "rl")},
    }
    config.update(
        run_name="resume",
        device="cpu",
        pairs={"toy": pair},
        figure2={"pair": "toy", "dataset": "first", "alpha": 0.5},
        datasets={
            name: {"source": "local", "format": "qa", "path": str(path)}
            for name, path in (("first", first), ("second", second))
        },
        generation={"backend": "transformers", "batch_size": 2, "dtype": "float32", "threads": 1},
    )
    path = write_config(folder, config)
    out = folder / "results" / "resume" / "generations" / "sft"
    targets = [str((out / f"{name}.jsonl").relative_to(folder)) for name in ("first", "second")]
    failed = snakemake(folder, *targets, "--cores", "1", "--configfile", str(path))
    assert failed.returncode != 0, failed.stdout
    log = folder / "logs" / "resume" / "generate" / "sft.log"
    assert log.is_file() and "IndexError" in log.read_text(), failed.stdout + failed.stderr
    assert not (out / "first.jsonl").exists() and not (out / "second.jsonl").exists()
    kept = [json.loads(line) for line in (out / "first.jsonl.partial").read_text().splitlines()][1:]
    assert [record["id"] for record in kept] == ["q0", "q1", "q2"]  # the first dataset's answers, all kept

    _qa_file(second, ["say one", "say two"])
    done = snakemake(folder, *targets, "--cores", "1", "--configfile", str(path))
    assert done.returncode == 0, done.stderr
    assert re.search(r"3 questions: 3 already answered in \S+first\.jsonl\.partial, 0 to go", log.read_text())
    assert [json.loads(line) for line in (out / "first.jsonl").read_text().splitlines()] == kept
    assert len((out / "second.jsonl").read_text().splitlines()) == 2
    assert not list(out.glob("*.partial"))


@pytest.mark.slow
def test_a_config_override_reaches_the_run_config_and_the_report_page(tmp_path):
    """The page describes the run that happened: a --config override and the schema's filled-in
    defaults reach results/<run>/config.yaml, which the report reads (never the user's YAML)."""
    folder = workdir(tmp_path)
    override = "selection={beta: 0.5, gamma: 1.5, delta: 0.5, n: 7, seed: 42}"
    done = snakemake(folder, "results/paper/config.yaml", "--cores", "1", "--config", override)
    assert done.returncode == 0, done.stdout + done.stderr
    effective = yaml.safe_load((folder / "results" / "paper" / "config.yaml").read_text())
    assert effective["selection"]["n"] == 7 and paper_config()["selection"]["n"] != 7
    assert effective["generation"]["tensor_parallel_size"] == 1  # a schema default the YAML leaves out
    page = folder / "index.html"
    render = [sys.executable, "scripts/render_report.py", "--run-config", "results/paper/config.yaml"]
    render += ["--out", str(page)]
    assert subprocess.run(render, cwd=folder, check=False).returncode == 0
    assert '"n": 7' in html.unescape(page.read_text())
    again = snakemake(folder, "results/paper/config.yaml", "--cores", "1", "--config", override)
    assert "Nothing to be done" in again.stdout + again.stderr  # an unchanged config is not rewritten
