# Training dynamics (config key `dynamics`, docs/DESIGN.md §4 "Training dynamics"): every checkpoint
# of every run, and the base as step 0, answers the dynamics datasets, is graded, is measured on the
# base's question set (select_samples.py --against-base: the same questions for every checkpoint of
# every run) by the ordinary stages' scripts, and gets its accuracy and KL from the base. A
# checkpoint lives inside its run's model folder (a directory output), so each job takes that folder
# as input and the checkpoint's path as a parameter; all paths come from the plan.

from rlcircuits.run_plan import DYNAMICS_BASE

DYN = config["dynamics"]


wildcard_constraints:
    run=_choice([DYNAMICS_BASE, *PLAN.dynamics_runs]),
    step=r"\d{6}",


# The model a (run, step) job reads, inside the folder its input names.
DYNAMICS_MODEL = lambda wc: PLAN.dynamics_model_path(wc.run, int(wc.step))
DYNAMICS_BASE_GRADED = lambda wc: PLAN.dynamics_graded(DYNAMICS_BASE, 0, wc.dataset)


rule dynamics_generate:
    input:
        preflight=PLAN.preflight,
        model=lambda wc: PLAN.dynamics_model_folder(wc.run),
        data=DATA_FILES,
    output:
        [
            PLAN.dynamics_generations(dataset=dataset)
            for dataset in PLAN.dynamics_datasets
        ],
    log:
        f"{LOGS}/dynamics_generate/{{run}}/step-{{step}}.log",
    benchmark:
        f"{BENCH}/dynamics_generate/{{run}}_step-{{step}}.tsv"
    threads: config["generation"]["threads"]
    resources:
        gpu=GPU,
        batch_size=halved(config["generation"]["batch_size"]),
        mem_mb=grown_mem_mb(32000 if GPU else 4000),
    params:
        model=DYNAMICS_MODEL,
        datasets=lambda wc, output: dataset_args(output, PLAN.dynamics_datasets),
        template=DYN["template"],
        max_new_tokens=DYN["max_new_tokens"],
        dtype=config["generation"]["dtype"],
        backend=config["generation"]["backend"],
        tp=config["generation"]["tensor_parallel_size"],
        device=config["device"],
    shell:
        "python scripts/generate.py --model {params.model} {params.datasets} --template {params.template}"
        " --max-new-tokens {params.max_new_tokens} --batch-size {resources.batch_size} --dtype {params.dtype}"
        " --device {params.device} --backend {params.backend} --tensor-parallel-size {params.tp} > {log} 2>&1"


rule dynamics_grade:
    input:
        PLAN.dynamics_generations(),
    output:
        PLAN.dynamics_graded(),
    log:
        f"{LOGS}/dynamics_grade/{{run}}/step-{{step}}/{{dataset}}.log",
    threads: config["grading"]["workers"]
    params:
        timeout=config["grading"]["timeout"],
    shell:
        "python scripts/grade.py --generations {input} --out {output} --workers {threads}"
        " --timeout {params.timeout} > {log} 2>&1"


rule dynamics_select:
    input:
        base=DYNAMICS_BASE_GRADED,
        rl=PLAN.dynamics_graded(),
    output:
        PLAN.dynamics_selection(),
    log:
        f"{LOGS}/dynamics_select/{{run}}/step-{{step}}/{{dataset}}.log",
    params:
        beta=config["selection"]["beta"],
        gamma=config["selection"]["gamma"],
        delta=config["selection"]["delta"],
        n=config["selection"]["n"],
        seed=config["selection"]["seed"],
    shell:
        "python scripts/select_samples.py --against-base --base {input.base} --rl {input.rl}"
        " --pair {wildcards.run}@step-{wildcards.step} --dataset {wildcards.dataset} --beta {params.beta}"
        " --gamma {params.gamma} --delta {params.delta} --n {params.n} --seed {params.seed}"
        " --out {output} > {log} 2>&1"


rule dynamics_attribute:
    input:
        preflight=PLAN.preflight,
        selection=PLAN.dynamics_selection(),
        model=lambda wc: PLAN.dynamics_model_folder(wc.run),
    output:
        [PLAN.dynamics_attribution(alpha=alpha) for alpha in PLAN.dynamics_alphas],
    log:
        f"{LOGS}/dynamics_attribute/{{run}}/step-{{step}}/{{dataset}}.log",
    benchmark:
        f"{BENCH}/dynamics_attribute/{{run}}_step-{{step}}_{{dataset}}.tsv"
    threads: config["attribution"]["threads"]
    resources:
        gpu=GPU,
        batch_tokens=halved(config["attribution"]["batch_tokens"]),
        mem_mb=grown_mem_mb(32000 if GPU else 4000),
    params:
        model=DYNAMICS_MODEL,
        role=lambda wc: "base" if wc.run == DYNAMICS_BASE else "rl",
        alphas=" ".join(PLAN.dynamics_alphas),
        layout=config["attribution"]["layout"],
        dtype=config["attribution"]["dtype"],
        device=config["device"],
        granularity=config["attribution"]["granularity"],
        method=config["attribution"]["method"],
        ig_steps=config["attribution"]["ig_steps"],
        ig_baseline=config["attribution"]["ig_baseline"],
        loss=config["attribution"]["loss"],
    shell:
        "python scripts/attribute.py --model {params.model} --selection {input.selection} --role {params.role}"
        " --alpha {params.alphas} --layout {params.layout} --dtype {params.dtype} --device {params.device}"
        " --method {params.method} --ig-steps {params.ig_steps} --ig-baseline {params.ig_baseline}"
        " --loss {params.loss} --granularity {params.granularity}"
        " --batch-tokens {resources.batch_tokens} --no-progress --out {output} > {log} 2>&1"


rule dynamics_analyze:
    input:
        base=lambda wc: PLAN.dynamics_attribution(
            DYNAMICS_BASE, 0, wc.dataset, wc.alpha
        ),
        rl=PLAN.dynamics_attribution(),
    output:
        PLAN.dynamics_metrics(),
    log:
        f"{LOGS}/dynamics_analyze/{{run}}/step-{{step}}/{{dataset}}/alpha{{alpha}}.log",
    wildcard_constraints:
        alpha=_choice(PLAN.dynamics_alphas),
    params:
        bins=config["metrics"]["bins"],
        kurtosis_of=config["metrics"]["kurtosis_of"],
        resamples=config["metrics"]["resamples"],
        seed=config["metrics"]["seed"],
    shell:
        "python scripts/analyze.py --base {input.base} --rl {input.rl} --pair {wildcards.run}@step-{wildcards.step}"
        " --dataset {wildcards.dataset} --alpha {wildcards.alpha} --bins {params.bins}"
        " --kurtosis-of {params.kurtosis_of} --resamples {params.resamples} --seed {params.seed}"
        " --out {output} > {log} 2>&1"


rule dynamics_point:
    input:
        model=lambda wc: PLAN.dynamics_model_folder(wc.run),
        base=PLAN.dynamics_base,
        graded=PLAN.dynamics_graded(),
        selection=PLAN.dynamics_selection(),
    output:
        PLAN.dynamics_point(),
    log:
        f"{LOGS}/dynamics_point/{{run}}/step-{{step}}/{{dataset}}.log",
    resources:
        gpu=GPU,
    params:
        model=DYNAMICS_MODEL,
        dtype=config["attribution"]["dtype"],
        device=config["device"],
    shell:
        "python scripts/dynamics_point.py --model {params.model} --base {input.base} --graded {input.graded}"
        " --selection {input.selection} --run {wildcards.run} --step {wildcards.step} --dataset {wildcards.dataset}"
        " --dtype {params.dtype} --device {params.device} --out {output} > {log} 2>&1"


rule dynamics:
    input:
        run_config=PLAN.run_config,
        metrics=PLAN.dynamics_metrics_files(),
        points=PLAN.dynamics_point_files(),
    output:
        PLAN.dynamics_tables(),
        PLAN.dynamics_figures(),
    log:
        f"{LOGS}/dynamics.log",
    shell:
        "python scripts/dynamics.py --run-config {input.run_config} > {log} 2>&1"
