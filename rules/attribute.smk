# One job per pair x role x dataset: one model load scores every alpha, one .npz per alpha.
rule attribute:
    input:
        preflight=PLAN.preflight,
        selection=PLAN.selection(),
        model=lambda wc: PLAN.pair_model_path(wc.pair, wc.role),
    output:
        [PLAN.attribution(alpha=alpha) for alpha in PLAN.alphas],
    log:
        f"{LOGS}/attribute/{{pair}}/{{dataset}}/{{role}}.log",
    benchmark:
        f"{BENCH}/attribute/{{pair}}_{{dataset}}_{{role}}.tsv"
    threads: config["attribution"]["threads"]
    resources:
        gpu=GPU,
        batch_tokens=halved(config["attribution"]["batch_tokens"]),
        mem_mb=grown_mem_mb(32000 if GPU else 4000),
    params:
        alphas=" ".join(PLAN.alphas),
        layout=config["attribution"]["layout"],
        dtype=config["attribution"]["dtype"],
        device=config["device"],
        granularity=config["attribution"]["granularity"],
        method=config["attribution"]["method"],
        ig_steps=config["attribution"]["ig_steps"],
        ig_baseline=config["attribution"]["ig_baseline"],
        loss=config["attribution"]["loss"],
    shell:
        "python scripts/attribute.py --model {input.model} --selection {input.selection} --role {wildcards.role}"
        " --alpha {params.alphas} --layout {params.layout} --dtype {params.dtype} --device {params.device}"
        " --method {params.method} --ig-steps {params.ig_steps} --ig-baseline {params.ig_baseline}"
        " --loss {params.loss} --granularity {params.granularity}"
        " --batch-tokens {resources.batch_tokens} --out {output} > {log} 2>&1"
