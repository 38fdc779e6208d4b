# The controlled study (config key `study`, DESIGN §4 "Study statistics"): each arm's pairs are
# its seeds, analysed by the ordinary stages; this rule turns their Table 1 and Table 4 rows into
# per-arm intervals over seeds, contrasts between arms, verdicts and forest plots.
from rlcircuits.study_design import arms_from_config

# A study naming a pair it lacks, a seed twice or seeds of different bases stops here, before any job runs.
arms_from_config(config)

STUDY_TABLES = expand(
    f"{OUT}/tables/study_{{name}}.csv", name=["seeds", "arms", "contrasts", "verdicts"]
)
STUDY_FIGURES = expand(
    f"{OUT}/figures/study_{{metric}}.{{ext}}",
    metric=["intensity", "complexity", "kurtosis", "diversity", "accuracy"],
    ext=["svg", "png"],
)


rule study:
    input:
        table1=f"{OUT}/tables/table1.csv",
        table4=f"{OUT}/tables/table4.csv",
    output:
        STUDY_TABLES,
        STUDY_FIGURES,
    log:
        f"{LOGS}/study.log",
    params:
        config_file=CONFIG_FILE,
        tables_dir=lambda wildcards, output: os.path.dirname(output[0]),
        figures_dir=lambda wildcards, output: os.path.dirname(output[-1]),
    shell:
        "python scripts/study.py --config {params.config_file} --table1 {input.table1}"
        " --table4 {input.table4} --tables-dir {params.tables_dir}"
        " --figures-dir {params.figures_dir} > {log} 2>&1"
