rule analyze:
    input:
        base=lambda wc: PLAN.attribution(
            PLAN.attributed_pair(wc.pair, "base"), wc.dataset, wc.alpha, "base"
        ),
        rl=PLAN.attribution(role="rl"),
    output:
        PLAN.metrics(),
    log:
        f"{LOGS}/analyze/{{pair}}/{{dataset}}/alpha{{alpha}}.log",
    benchmark:
        f"{BENCH}/analyze/{{pair}}_{{dataset}}_alpha{{alpha}}.tsv"
    params:
        bins=config["metrics"]["bins"],
        kurtosis_of=config["metrics"]["kurtosis_of"],
        resamples=config["metrics"]["resamples"],
        seed=config["metrics"]["seed"],
    shell:
        "python scripts/analyze.py --base {input.base} --rl {input.rl} --pair {wildcards.pair}"
        " --dataset {wildcards.dataset} --alpha {wildcards.alpha} --bins {params.bins}"
        " --kurtosis-of {params.kurtosis_of} --resamples {params.resamples} --seed {params.seed}"
        " --out {output} > {log} 2>&1"


rule tables:
    input:
        PLAN.metrics_files(),
    output:
        PLAN.table("table1"),
    log:
        f"{LOGS}/tables.log",
    params:
        algorithms=" ".join(
            f"--algorithm {shlex.quote(label)}" for label in PLAN.algorithm_labels()
        ),
    shell:
        "python scripts/tables.py --metrics {input} {params.algorithms} --out {output} > {log} 2>&1"


rule figures:
    input:
        PLAN.metrics_files(),
    output:
        [PLAN.figure(name, ext) for name in FIGURES for ext in ("svg", "png")],
    log:
        f"{LOGS}/figures.log",
    params:
        cell=" ".join(
            str(config["figure2"][key]) for key in ("pair", "dataset", "alpha")
        ),
        ablations=" ".join(f"--ablation {pair}" for pair in PLAN.ablations),
        out_dir=lambda wildcards, output: os.path.dirname(output[0]),
    shell:
        "python scripts/figures.py --metrics {input} --fig2 {params.cell} {params.ablations}"
        " --out-dir {params.out_dir} > {log} 2>&1"
