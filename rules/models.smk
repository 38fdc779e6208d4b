rule fetch_model:
    input:
        f"{OUT}/preflight.json",
    output:
        directory("models/{pair}/{role}"),
    log:
        f"{LOGS}/fetch_model/{{pair}}/{{role}}.log",
    benchmark:
        f"{BENCH}/fetch_model/{{pair}}_{{role}}.tsv"
    resources:
        downloads=1,
    params:
        model=lambda wc: model_spec(wc)["model"],
        revision=lambda wc: model_spec(wc)["revision"],
    shell:
        "python scripts/fetch_model.py --model {params.model} --revision {params.revision} --out {output} > {log} 2>&1"
