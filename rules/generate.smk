rule generate:
    input:
        preflight=f"{OUT}/preflight.json",
        model=model_dir,
        data=dataset_file,
    output:
        f"{OUT}/generations/{{pair}}/{{role}}/{{dataset}}.jsonl",
    log:
        f"{LOGS}/generate/{{pair}}/{{role}}/{{dataset}}.log",
    benchmark:
        f"{BENCH}/generate/{{pair}}_{{role}}_{{dataset}}.tsv"
    threads: config["generation"]["threads"]
    resources:
        gpu=GPU,
        batch_size=halved(config["generation"]["batch_size"]),
        mem_mb=grown_mem_mb(32000),
    params:
        data=dataset_args,
        template=lambda wc: config["pairs"][wc.pair]["template"],
        max_new_tokens=lambda wc: config["pairs"][wc.pair]["max_new_tokens"],
        dtype=config["generation"]["dtype"],
        backend=config["generation"]["backend"],
        tp=config["generation"]["tensor_parallel_size"],
        device=config["device"],
    shell:
        "python scripts/generate.py --model {input.model} {params.data} --template {params.template}"
        " --max-new-tokens {params.max_new_tokens} --batch-size {resources.batch_size} --dtype {params.dtype}"
        " --device {params.device} --backend {params.backend} --tensor-parallel-size {params.tp}"
        " --out {output} > {log} 2>&1"
