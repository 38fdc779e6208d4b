# The controlled study (config key `study`, docs/DESIGN.md §4 "Study statistics"): each arm's pairs
# are its seeds, analysed by the ordinary stages; this rule turns their Table 1 and Table 4 rows
# (and, for accuracy about the task, every graded answer) into per-arm intervals, contrasts
# between arms, verdicts and forest plots. The plan checked the study's arms at parse time (a
# study naming a pair it lacks, a seed twice or seeds of different bases stops before any job runs).
rule study:
    input:
        run_config=PLAN.run_config,
        table1=PLAN.table("table1"),
        table4=PLAN.table("table4"),
        graded=sorted({cell[3] for cell in PLAN.table4_cells()}),
    output:
        PLAN.study_tables(),
        PLAN.study_figures(),
    log:
        f"{LOGS}/study.log",
    params:
        tables_dir=lambda wildcards, output: os.path.dirname(output[0]),
        figures_dir=lambda wildcards, output: os.path.dirname(output[-1]),
    shell:
        "python scripts/study.py --run-config {input.run_config} --table1 {input.table1}"
        " --table4 {input.table4} --tables-dir {params.tables_dir}"
        " --figures-dir {params.figures_dir} > {log} 2>&1"
