"""profiles/slurm, checked without a cluster (.ci/slurm_lane.sh runs it on one): the keys a site sets
stay free, every rule it names exists, retries still get more memory, CPU configs ask for CPU-sized
jobs, and nothing in it caps the GPU jobs of a cluster run."""

import re

import pytest
import yaml

from workflow import REPO, snakemake, workdir

PROFILE = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
RULES_TEXT = "\n".join(path.read_text() for path in sorted((REPO / "rules").glob("*.smk")))
# Every rule a site can set resources for: defined (at the top level or under a config switch), or
# derived from another by `use rule ... as`, which keeps that rule's resources.
RULE_START = r"^ *(?:rule (\w+):|use rule (\w+) as (\w+))"
RULES = {name or derived for name, _, derived in re.findall(RULE_START, RULES_TEXT, flags=re.MULTILINE)}


def test_the_profile_leaves_the_sites_keys_free():
    """A site's `--default-resources slurm_account=... slurm_partition=...` replaces that whole key:
    the profile keeps nothing there, and names no account or partition anywhere."""
    assert "default-resources" not in PROFILE
    per_rule = [key for settings in PROFILE["set-resources"].values() for key in settings]
    assert not {"slurm_account", "slurm_partition"} & set(per_rule)


def test_the_profile_sets_no_gpu_limit_and_polls_with_squeue():
    assert "gpu" not in str(PROFILE.get("resources", ""))
    assert PROFILE["executor"] == "slurm" and PROFILE["slurm-status-command"] == "squeue"


def test_every_rule_the_profile_names_exists():
    assert len(RULES) >= 15
    grouped = {entry.split("=")[0] for entry in PROFILE["groups"]}
    assert set(PROFILE["set-resources"]) <= RULES and grouped <= RULES


def test_retries_keep_their_growing_memory():
    """A fixed mem_mb in set-resources would replace the rules' attempt-scaled memory."""
    growing = set(
        re.findall(r"^ *rule (\w+):(?:(?!^ *(?:use )?rule ).)*?mem_mb=grown_mem_mb", RULES_TEXT, flags=re.M | re.S)
    )
    assert growing == {"generate", "attribute", "dynamics_generate", "dynamics_attribute", "faithfulness"}
    derived = {new for _, old, new in re.findall(RULE_START, RULES_TEXT, flags=re.MULTILINE) if old in growing}
    assert derived == {"audit_attribute"}
    assert not any("mem_mb" in PROFILE["set-resources"].get(rule, {}) for rule in growing | derived)


def _resources(dry_run: str, rule: str) -> str:
    block = dry_run.split(f"rule {rule}:", 1)[1]
    return re.search(r"resources: (.*)", block).group(1)


@pytest.mark.slow
@pytest.mark.snakemake
@pytest.mark.parametrize(
    ("config", "gpu", "mem_mb"),
    [("config/smoke.yaml", "gpu=0", "mem_mb=4000"), ("config/paper.yaml", "gpu=1", "mem_mb=32000")],
)
def test_gpu_rules_ask_for_a_gpu_and_their_memory_only_under_cuda(tmp_path, config, gpu, mem_mb):
    """Through the profile, a CPU config's generate and attribute jobs fit a CPU node."""
    done = snakemake(workdir(tmp_path), "-n", "--workflow-profile", "profiles/slurm", "--configfile", config)
    assert done.returncode == 0, done.stderr
    for rule in ("generate", "attribute"):
        resources = _resources(done.stdout, rule).split(", ")
        assert gpu in resources and mem_mb in resources, (rule, resources)


def test_the_cluster_check_reads_keys_the_profile_has():
    """check_cluster.sh reads the status command and the group cap from the profile by key."""
    script = (REPO / "profiles" / "slurm" / "check_cluster.sh").read_text()
    read = set(re.findall(r"s/\^([\w-]+): \*//p", script))
    assert read == {"slurm-status-command", "cores"} and read <= set(PROFILE)
