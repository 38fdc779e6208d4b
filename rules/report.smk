rule render_report:
    input:
        table1=f"{OUT}/tables/table1.csv",
        table4=f"{OUT}/tables/table4.csv",
        figures=rules.figures.output,
        selections=expand(
            f"{OUT}/selection/{{pair}}/{{dataset}}.json", pair=PAIRS, dataset=DATASETS
        ),
        models=[model_path(name) for name in MODELS],
        template="report/index.html.j2",
        study=(STUDY_TABLES + STUDY_FIGURES) if "study" in config else [],
    output:
        f"{OUT}/report/index.html",
    log:
        f"{LOGS}/render_report.log",
    params:
        config_file=CONFIG_FILE,
        run_dir=lambda wildcards, output: os.path.dirname(os.path.dirname(output[0])),
        benchmarks=BENCH,
    shell:
        "python scripts/render_report.py --config {params.config_file} --run-dir {params.run_dir}"
        " --benchmarks {params.benchmarks} --models {input.models} --out {output} > {log} 2>&1"
