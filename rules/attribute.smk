rule attribute:
    input:
        preflight=f"{OUT}/preflight.json",
        selection=f"{OUT}/selection/{{pair}}/{{dataset}}.json",
        model=model_dir,
    output:
        f"{OUT}/attribution/{{pair}}/{{dataset}}/alpha{{alpha}}/{{role}}.npz",
    log:
        f"{LOGS}/attribute/{{pair}}/{{dataset}}/alpha{{alpha}}/{{role}}.log",
    benchmark:
        f"{BENCH}/attribute/{{pair}}_{{dataset}}_alpha{{alpha}}_{{role}}.tsv"
    threads: config["attribution"]["threads"]
    resources:
        gpu=GPU,
        batch_tokens=halved(config["attribution"]["batch_tokens"]),
        mem_mb=grown_mem_mb(32000),
    params:
        layout=config["attribution"]["layout"],
        dtype=config["attribution"]["dtype"],
        device=config["device"],
    shell:
        "python scripts/attribute.py --model {input.model} --selection {input.selection} --role {wildcards.role}"
        " --alpha {wildcards.alpha} --layout {params.layout} --dtype {params.dtype} --device {params.device}"
        " --batch-tokens {resources.batch_tokens} --out {output} > {log} 2>&1"
