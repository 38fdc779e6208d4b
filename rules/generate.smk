# One job per distinct model answers every dataset with one loaded model (or vLLM engine).
# Finished answers wait in .partial files beside the outputs (not declared outputs, so a failed
# job's rerun keeps them); the outputs appear only when every dataset is answered.
rule generate:
    input:
        preflight=PLAN.preflight,
        model=lambda wc: PLAN.model_path(wc.model),
        data=DATA_FILES,
    output:
        [PLAN.generations(dataset=dataset) for dataset in PLAN.datasets],
    log:
        f"{LOGS}/generate/{{model}}.log",
    benchmark:
        f"{BENCH}/generate/{{model}}.tsv"
    threads: config["generation"]["threads"]
    resources:
        gpu=GPU,
        batch_size=halved(config["generation"]["batch_size"]),
        mem_mb=grown_mem_mb(32000 if GPU else 4000),
    params:
        datasets=lambda wc, output: dataset_args(output),
        template=lambda wc: PLAN.models[wc.model].template,
        max_new_tokens=lambda wc: PLAN.models[wc.model].max_new_tokens,
        dtype=config["generation"]["dtype"],
        backend=config["generation"]["backend"],
        tp=config["generation"]["tensor_parallel_size"],
        device=config["device"],
    shell:
        "python scripts/generate.py --model {input.model} {params.datasets} --template {params.template}"
        " --max-new-tokens {params.max_new_tokens} --batch-size {resources.batch_size} --dtype {params.dtype}"
        " --device {params.device} --backend {params.backend} --tensor-parallel-size {params.tp} > {log} 2>&1"
