"""The Snakemake workflow: lint, formatting, the paper's DAG, config validation, preflight,
container execution (with a stand-in apptainer) and the SLURM profile. No GPU, no engine."""

import os
import stat
import subprocess
from pathlib import Path

import pytest

from workflow import REPO, job_counts, paper_config, snakemake, workdir, write_config

pytestmark = pytest.mark.snakemake


def test_lint_is_clean(tmp_path):
    done = snakemake(workdir(tmp_path), "--lint")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Congratulations, your workflow is in a good condition!" in done.stdout + done.stderr


def test_snakefmt_is_clean():
    snakefmt = str(Path(os.sys.executable).with_name("snakefmt"))
    done = subprocess.run([snakefmt, "--check", "Snakefile", "rules"], cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_paper_dag_is_the_grid(tmp_path):
    done = snakemake(workdir(tmp_path), "-n", "--quiet", "rules")
    assert done.returncode == 0, done.stderr
    counts = job_counts(done.stdout)
    assert counts["generate"] == 8 * 3 and counts["grade"] == 8 * 3
    assert counts["select"] == 4 * 3 and counts["attribute"] == 4 * 3 * 4 * 2
    assert counts["analyze"] == 4 * 3 * 4 and counts["fetch_model"] == 8
    assert counts["preflight"] == counts["tables"] == counts["figures"] == counts["render_report"] == 1


def test_a_configfile_replaces_the_paper_config_instead_of_merging(tmp_path):
    folder = workdir(tmp_path)
    config = paper_config()
    config["pairs"] = {"only": config["pairs"]["mistral"]}
    config["figure2"]["pair"] = "only"
    done = snakemake(folder, "-n", "--quiet", "rules", "--configfile", str(write_config(folder, config)))
    assert done.returncode == 0, done.stderr
    assert job_counts(done.stdout)["generate"] == 2 * 3  # not the paper's 8 models on top


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


def test_paper_config_without_cuda_stops_at_preflight(tmp_path):
    folder = workdir(tmp_path)
    done = snakemake(folder, "--cores", "1")
    assert done.returncode != 0
    log = (folder / "logs" / "paper" / "preflight.log").read_text()
    assert "needs a CUDA GPU" in log and "config/demo.yaml" in log
    assert not (folder / "models").exists() and not (folder / "results" / "paper" / "generations").exists()


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
        folder, "results/container/preflight.json", "--cores", "1", "--use-singularity", "--configfile", str(path),
        env={"PATH": f"{fake.parent}:{os.environ['PATH']}"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    execs = [line for line in calls.read_text().splitlines() if line.startswith("exec")]
    assert len(execs) == 1
    assert "--nv" in execs[0].split() and str(image) in execs[0] and "scripts/preflight.py" in execs[0]
    assert (folder / "results" / "container" / "preflight.json").is_file()


def test_slurm_profile_dry_runs(tmp_path):
    pytest.importorskip("snakemake_executor_plugin_slurm")
    done = snakemake(workdir(tmp_path), "-n", "--profile", "profiles/slurm", "--quiet", "rules")
    assert done.returncode == 0, done.stdout + done.stderr
    assert job_counts(done.stdout)["attribute"] == 96
