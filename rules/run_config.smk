# The effective config (schema defaults filled in, --config overrides applied), beside the
# results: the report and the study read the run's shape from it. Rewritten when the config changes.
rule run_config:
    output:
        PLAN.run_config,
    log:
        f"{LOGS}/run_config.log",
    localrule: True
    params:
        text=effective_config_text(config),
    run:
        write_run_config(params.text, output[0], log[0])
