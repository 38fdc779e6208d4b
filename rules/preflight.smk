rule preflight:
    output:
        f"{OUT}/preflight.json",
    log:
        f"{LOGS}/preflight.log",
    params:
        device=config["device"],
        run=RUN,
    shell:
        "python scripts/preflight.py --device {params.device} --config-name {params.run} --out {output} > {log} 2>&1"
