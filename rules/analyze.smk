rule analyze:
    input:
        base=f"{OUT}/attribution/{{pair}}/{{dataset}}/alpha{{alpha}}/base.npz",
        rl=f"{OUT}/attribution/{{pair}}/{{dataset}}/alpha{{alpha}}/rl.npz",
    output:
        f"{OUT}/metrics/{{pair}}/{{dataset}}/alpha{{alpha}}.json",
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


METRICS_FILES = expand(
    f"{OUT}/metrics/{{pair}}/{{dataset}}/alpha{{alpha}}.json",
    pair=PAIRS,
    dataset=DATASETS,
    alpha=ALPHAS,
)


rule tables:
    input:
        METRICS_FILES,
    output:
        f"{OUT}/tables/table1.csv",
    log:
        f"{LOGS}/tables.log",
    params:
        algorithms=" ".join(
            f"--algorithm {shlex.quote(label)}" for label in ALGORITHM_LABELS
        ),
    shell:
        "python scripts/tables.py --metrics {input} {params.algorithms} --out {output} > {log} 2>&1"


rule figures:
    input:
        METRICS_FILES,
    output:
        multiext(f"{OUT}/figures/fig2", ".svg", ".png"),
        multiext(f"{OUT}/figures/fig3a", ".svg", ".png"),
        multiext(f"{OUT}/figures/fig3b", ".svg", ".png"),
    log:
        f"{LOGS}/figures.log",
    params:
        cell=" ".join(
            str(config["figure2"][key]) for key in ("pair", "dataset", "alpha")
        ),
        ablations=" ".join(
            f"--ablation {pair}"
            for pair, spec in config["pairs"].items()
            if "ablation_of" in spec
        ),
        out_dir=lambda wildcards, output: os.path.dirname(output[0]),
    shell:
        "python scripts/figures.py --metrics {input} --fig2 {params.cell} {params.ablations}"
        " --out-dir {params.out_dir} > {log} 2>&1"
