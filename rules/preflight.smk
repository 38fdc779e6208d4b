rule preflight:
    output:
        PLAN.preflight,
    log:
        f"{LOGS}/preflight.log",
    params:
        device=config["device"],
        run=PLAN.run,
    shell:
        "python scripts/preflight.py --device {params.device} --config-name {params.run} --out {output} > {log} 2>&1"
