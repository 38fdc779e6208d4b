# One job per pair x role x dataset: one model load scores every alpha, one .npz per alpha.
rule attribute:
    input:
        preflight=f"{OUT}/preflight.json",
        selection=f"{OUT}/selection/{{pair}}/{{dataset}}.json",
        model=lambda wc: pair_model_path(wc.pair, wc.role),
    output:
        [
            f"{OUT}/attribution/{{pair}}/{{dataset}}/alpha{alpha}/{{role}}.npz"
            for alpha in ALPHAS
        ],
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
        alphas=" ".join(ALPHAS),
        layout=config["attribution"]["layout"],
        dtype=config["attribution"]["dtype"],
        device=config["device"],
    shell:
        "python scripts/attribute.py --model {input.model} --selection {input.selection} --role {wildcards.role}"
        " --alpha {params.alphas} --layout {params.layout} --dtype {params.dtype} --device {params.device}"
        " --batch-tokens {resources.batch_tokens} --out {output} > {log} 2>&1"
