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
        "python scripts/select_samples.py --base {input.base} --rl {input.rl} --pair {wildcards.pair}"
        " --dataset {wildcards.dataset} --beta {params.beta} --gamma {params.gamma} --delta {params.delta}"
        " --n {params.n} --seed {params.seed} --out {output} > {log} 2>&1"
