# Each Hub model is fetched once, however many pairs use it; local folders are used in place.
HUB_MODELS = [name for name, model in PLAN.models.items() if not model.local]


rule fetch_model:
    input:
        PLAN.preflight,
    output:
        directory(PLAN.fetched()),
    log:
        f"{LOGS}/fetch_model/{{model}}.log",
    benchmark:
        f"{BENCH}/fetch_model/{{model}}.tsv"
    wildcard_constraints:
        model=_choice(HUB_MODELS),
    resources:
        downloads=1,
    params:
        model=lambda wc: PLAN.models[wc.model].model,
        revision=lambda wc: PLAN.models[wc.model].revision,
    shell:
        "python scripts/fetch_model.py --model {params.model} --revision {params.revision} --out {output} > {log} 2>&1"
