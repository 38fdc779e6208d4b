rule render_report:
    input:
        run_config=PLAN.run_config,
        table1=PLAN.table("table1"),
        table4=PLAN.table("table4"),
        figures=rules.figures.output,
        selections=[PLAN.selection(p, d) for p in PLAN.pairs for d in PLAN.datasets],
        models=[PLAN.model_path(name) for name in PLAN.models],
        template="report/index.html.j2",
        study=PLAN.study_tables() + PLAN.study_figures(),
        dynamics=PLAN.dynamics_tables() + PLAN.dynamics_figures(),
        audit=PLAN.audit_files(),
    output:
        PLAN.report,
    log:
        f"{LOGS}/render_report.log",
    params:
        benchmarks=BENCH,
    shell:
        "python scripts/render_report.py --run-config {input.run_config} --benchmarks {params.benchmarks}"
        " --models {input.models} --out {output} > {log} 2>&1"
