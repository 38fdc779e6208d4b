# Each Hub model is fetched once, however many pairs use it; local folders are used in place.
HUB_MODELS = [name for name, model in MODELS.items() if not model.local]


rule fetch_model:
    input:
        f"{OUT}/preflight.json",
    output:
        directory("models/{model}"),
    log:
        f"{LOGS}/fetch_model/{{model}}.log",
    benchmark:
        f"{BENCH}/fetch_model/{{model}}.tsv"
    wildcard_constraints:
        model=_choice(HUB_MODELS),
    resources:
        downloads=1,
    params:
        model=lambda wc: MODELS[wc.model].model,
        revision=lambda wc: MODELS[wc.model].revision,
    shell:
        "python scripts/fetch_model.py --model {params.model} --revision {params.revision} --out {output} > {log} 2>&1"
