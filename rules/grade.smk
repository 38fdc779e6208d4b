rule grade:
    input:
        f"{OUT}/generations/{{pair}}/{{role}}/{{dataset}}.jsonl",
    output:
        f"{OUT}/graded/{{pair}}/{{role}}/{{dataset}}.jsonl",
    log:
        f"{LOGS}/grade/{{pair}}/{{role}}/{{dataset}}.log",
    benchmark:
        f"{BENCH}/grade/{{pair}}_{{role}}_{{dataset}}.tsv"
    threads: config["grading"]["workers"]
    params:
        timeout=config["grading"]["timeout"],
    shell:
        "python scripts/grade.py --generations {input} --out {output} --workers {threads}"
        " --timeout {params.timeout} > {log} 2>&1"


rule table4:
    input:
        expand(
            f"{OUT}/graded/{{pair}}/{{role}}/{{dataset}}.jsonl",
            pair=PAIRS,
            role=ROLES,
            dataset=DATASETS,
        ),
    output:
        f"{OUT}/tables/table4.csv",
    log:
        f"{LOGS}/table4.log",
    shell:
        "python scripts/table4.py --graded {input} --out {output} > {log} 2>&1"
