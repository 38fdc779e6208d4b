# The mini zoo (config key `zoo`, docs/DESIGN.md §1 demo): synthetic task splits, SFT bases trained
# from scratch, and RL models tuned from them. Training runs single-threaded so that a rerun gives
# identical weights; the pairs of the config point at the folders these rules write.
ZOO = config["zoo"]


wildcard_constraints:
    task=_choice(ZOO_TASKS),
    sft=_choice(ZOO["sft"]),
    tuned=_choice(ZOO["rl"]),


def cli_flags(spec, skip=()):
    """A config mapping as command-line options: {kv_heads: 2} -> '--kv-heads 2'."""
    return " ".join(
        f"--{key.replace('_', '-')} {value}"
        for key, value in spec.items()
        if key not in skip
    )


ZOO_TRAIN = [PLAN.zoo_task(task, "train") for task in ZOO_TASKS]


rule zoo_tasks:
    output:
        test=PLAN.zoo_task(split="test"),
        train=PLAN.zoo_task(split="train"),
    log:
        f"{LOGS}/zoo_tasks/{{task}}.log",
    params:
        sizes=cli_flags(ZOO["tasks"]),
    shell:
        "python scripts/zoo_tasks.py --task {wildcards.task} {params.sizes}"
        " --test-out {output.test} --train-out {output.train} > {log} 2>&1"


rule train_sft:
    input:
        ZOO_TRAIN,
    output:
        directory(PLAN.zoo_model("sft", "{sft}")),
    log:
        f"{LOGS}/train_sft/{{sft}}.log",
    benchmark:
        f"{BENCH}/train_sft/{{sft}}.tsv"
    threads: 1
    params:
        settings=lambda wc: cli_flags(ZOO["sft"][wc.sft]),
    shell:
        "python scripts/train_sft.py {params.settings} --train {input} --threads {threads}"
        " --out {output} > {log} 2>&1"


rule train_rl:
    input:
        base=lambda wc: PLAN.zoo_model("sft", ZOO["rl"][wc.tuned]["base"]),
        train=ZOO_TRAIN,
    output:
        directory(PLAN.zoo_model("rl", "{tuned}")),
    log:
        f"{LOGS}/train_rl/{{tuned}}.log",
    benchmark:
        f"{BENCH}/train_rl/{{tuned}}.tsv"
    priority: lambda wc: training_priority(ZOO["rl"][wc.tuned])
    threads: 1
    params:
        settings=lambda wc: cli_flags(ZOO["rl"][wc.tuned], skip=("base",)),
    shell:
        "python scripts/train_rl.py {params.settings} --base {input.base} --train {input.train}"
        " --threads {threads} --out {output} > {log} 2>&1"
