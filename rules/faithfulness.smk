# The robustness audit (docs/DESIGN.md §4, "Robustness audit"), included when the config has an
# audit section: each added attribution variant reruns attribute -> analyze -> Table 1 under
# results/<run>/audit/<variant>/ (the run's own files stay where they are), and the faithfulness
# check zero-ablates the module-level graphs' edges, one job per pair x dataset x role.
AUDIT = PLAN.audit
VARIANTS = {variant.name: variant for variant in AUDIT.variants}


wildcard_constraints:
    variant=_choice(VARIANTS),


use rule attribute as audit_attribute with:
    output:
        [PLAN.variant_attribution(alpha=alpha) for alpha in PLAN.alphas],
    log:
        f"{LOGS}/audit/{{variant}}/attribute/{{pair}}/{{dataset}}/{{role}}.log",
    benchmark:
        f"{BENCH}/audit/{{variant}}/attribute/{{pair}}_{{dataset}}_{{role}}.tsv"
    params:
        alphas=" ".join(PLAN.alphas),
        layout=config["attribution"]["layout"],
        dtype=config["attribution"]["dtype"],
        device=config["device"],
        granularity=lambda wc: VARIANTS[wc.variant].granularity,
        method=lambda wc: VARIANTS[wc.variant].method,
        ig_steps=config["attribution"]["ig_steps"],
        ig_baseline=config["attribution"]["ig_baseline"],
        loss=lambda wc: VARIANTS[wc.variant].loss,


use rule analyze as audit_analyze with:
    input:
        base=lambda wc: PLAN.variant_attribution(
            wc.variant,
            PLAN.attributed_pair(wc.pair, "base"),
            wc.dataset,
            wc.alpha,
            "base",
        ),
        rl=PLAN.variant_attribution(role="rl"),
    output:
        PLAN.variant_metrics(),
    log:
        f"{LOGS}/audit/{{variant}}/analyze/{{pair}}/{{dataset}}/alpha{{alpha}}.log",
    benchmark:
        f"{BENCH}/audit/{{variant}}/analyze/{{pair}}_{{dataset}}_alpha{{alpha}}.tsv"


use rule tables as audit_tables with:
    input:
        lambda wc: PLAN.variant_metrics_files(wc.variant),
    output:
        PLAN.variant_table1(),
    log:
        f"{LOGS}/audit/{{variant}}/tables.log",


if AUDIT.faithfulness:
    FAITH = AUDIT.faithfulness

    rule faithfulness:
        input:
            selection=PLAN.selection(),
            model=lambda wc: PLAN.pair_model_path(wc.pair, wc.role),
            attribution=lambda wc: [
                PLAN.attribution_of(v, wc.pair, wc.dataset, FAITH.alpha, wc.role)
                for v in AUDIT.faithful_variants()
            ],
        output:
            PLAN.faithfulness(),
        log:
            f"{LOGS}/faithfulness/{{pair}}/{{dataset}}/{{role}}.log",
        benchmark:
            f"{BENCH}/faithfulness/{{pair}}_{{dataset}}_{{role}}.tsv"
        threads: config["audit"]["faithfulness"]["threads"]
        resources:
            gpu=GPU,
            batch_tokens=halved(config["attribution"]["batch_tokens"]),
            mem_mb=grown_mem_mb(32000 if GPU else 4000),
        params:
            fractions=" ".join(str(f) for f in FAITH.fractions),
            single_edge="--single-edge" if FAITH.single_edge else "",
            dtype=config["attribution"]["dtype"],
            device=config["device"],
        shell:
            "python scripts/faithfulness.py --model {input.model} --selection {input.selection}"
            " --pair {wildcards.pair} --dataset {wildcards.dataset} --role {wildcards.role}"
            " --attribution {input.attribution} --fractions {params.fractions} {params.single_edge}"
            " --dtype {params.dtype} --device {params.device} --batch-tokens {resources.batch_tokens}"
            " --out {output} > {log} 2>&1"

    rule faithfulness_figure:
        input:
            PLAN.faithfulness_files(),
        output:
            [PLAN.figure("faithfulness", ext) for ext in ("svg", "png")],
        log:
            f"{LOGS}/faithfulness_figure.log",
        shell:
            "python scripts/faithfulness_figure.py --records {input} --out {output} > {log} 2>&1"
