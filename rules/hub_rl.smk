# The paper-scale training dynamics (config key `hub_rl`, docs/DESIGN.md §1): GRPO with TRL on a
# Hub model, one run per setting (e.g. per sampling temperature), a checkpoint every
# `checkpoint_every` steps inside each run's folder (run_plan.checkpoint_path). The tuned model is a
# pair's base, so the fetch rule downloads it once at its pinned revision.
from rlcircuits.hub_rl import base_model, config_runs

HUB_RL = config["hub_rl"]
HUB_RL_RUNS = config_runs(config)
HUB_RL_BASE = base_model(config, PLAN.models)
HUB_RL_TRAIN = HUB_RL["train"]


wildcard_constraints:
    hub_run=_choice(HUB_RL_RUNS),


rule train_hub_rl:
    input:
        preflight=PLAN.preflight,
        base=PLAN.model_path(HUB_RL_BASE),
        data=[HUB_RL_TRAIN["path"]] if HUB_RL_TRAIN["source"] == "local" else [],
    output:
        directory(PLAN.hub_rl_model()),
    log:
        f"{LOGS}/train_hub_rl/{{hub_run}}.log",
    benchmark:
        f"{BENCH}/train_hub_rl/{{hub_run}}.tsv"
    threads: 4
    resources:
        gpu=GPU,
        mem_mb=64000 if GPU else 4000,
    params:
        settings=lambda wc: HUB_RL_RUNS[wc.hub_run].flags(),
        data=lambda wc, input: " ".join(
            [f"--data-source {HUB_RL_TRAIN['source']}"]
            + [f"--data-path {path}" for path in input.data]
            + ([f"--limit {HUB_RL_TRAIN['limit']}"] if "limit" in HUB_RL_TRAIN else [])
        ),
        template=PLAN.models[HUB_RL_BASE].template,
    shell:
        "python scripts/train_hub_rl.py --base {input.base} {params.data} --template {params.template}"
        " {params.settings} --threads {threads} --out {output} > {log} 2>&1"
