rule grade:
    input:
        PLAN.generations(),
    output:
        PLAN.graded(),
    log:
        f"{LOGS}/grade/{{model}}/{{dataset}}.log",
    benchmark:
        f"{BENCH}/grade/{{model}}/{{dataset}}.tsv"
    threads: config["grading"]["workers"]
    params:
        timeout=config["grading"]["timeout"],
    shell:
        "python scripts/grade.py --generations {input} --out {output} --workers {threads}"
        " --timeout {params.timeout} > {log} 2>&1"


# Table 4 keeps one row per pair x role x dataset, read from the model each cell names.
rule table4:
    input:
        [cell[-1] for cell in PLAN.table4_cells()],
    output:
        PLAN.table("table4"),
    log:
        f"{LOGS}/table4.log",
    params:
        cells=" ".join(f"--cell {' '.join(cell)}" for cell in PLAN.table4_cells()),
    shell:
        "python scripts/table4.py {params.cells} --out {output} > {log} 2>&1"
