rule grade:
    input:
        f"{OUT}/generations/{{model}}/{{dataset}}.jsonl",
    output:
        f"{OUT}/graded/{{model}}/{{dataset}}.jsonl",
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
TABLE4_CELLS = [
    (pair, role, dataset, graded_file(pair, role, dataset))
    for pair in PAIRS
    for role in ROLES
    for dataset in DATASETS
]


rule table4:
    input:
        [cell[-1] for cell in TABLE4_CELLS],
    output:
        f"{OUT}/tables/table4.csv",
    log:
        f"{LOGS}/table4.log",
    params:
        cells=" ".join(f"--cell {' '.join(cell)}" for cell in TABLE4_CELLS),
    shell:
        "python scripts/table4.py {params.cells} --out {output} > {log} 2>&1"
