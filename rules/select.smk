# selection.shared: base chooses one question set per dataset on the base alone, shared by every
# pair of that base (the study's seeds and arms); absent or pair, each pair selects as the paper
# does (and the command is the paper selection's own).
AGAINST_BASE = "--against-base " if config["selection"].get("shared") == "base" else ""


rule select:
    input:
        base=lambda wc: PLAN.graded_file(wc.pair, "base", wc.dataset),
        rl=lambda wc: PLAN.graded_file(wc.pair, "rl", wc.dataset),
    output:
        PLAN.selection(),
    log:
        f"{LOGS}/select/{{pair}}/{{dataset}}.log",
    params:
        beta=config["selection"]["beta"],
        gamma=config["selection"]["gamma"],
        delta=config["selection"]["delta"],
        n=config["selection"]["n"],
        seed=config["selection"]["seed"],
    shell:
        "python scripts/select_samples.py "
        + AGAINST_BASE
        + "--base {input.base} --rl {input.rl} --pair {wildcards.pair}"
        " --dataset {wildcards.dataset} --beta {params.beta} --gamma {params.gamma} --delta {params.delta}"
        " --n {params.n} --seed {params.seed} --out {output} > {log} 2>&1"
