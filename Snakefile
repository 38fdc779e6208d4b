# rl-circuits: reproduce arXiv 2509.21044 end to end (docs/DESIGN.md: generate -> grade -> select ->
# attribute -> analyze -> report). `snakemake --cores all --use-singularity` runs the paper's
# grid on GPUs; `--configfile config/demo.yaml` runs the CPU mini-zoo demo.
import sys

from snakemake.utils import min_version, validate

min_version("9.0")

# The library's own definitions (torch-free modules only: this runs at parse time, on the host).
sys.path.insert(0, f"{workflow.basedir}/src")
from rlcircuits.run_plan import retype_overrides

# The paper's config is the default; a --configfile replaces it rather than being merged into
# it (Snakemake would otherwise merge, e.g. adding the demo's pairs to the paper's four).
if not workflow.overwrite_configfiles:

    configfile: "config/paper.yaml"


# Nested --config values arrive as strings (selection={n: 7}); typed before the schema checks them.
retype_overrides(config, workflow.config_settings.overwrite_config)
validate(config, "schemas/config.schema.yaml")


container: config["container"]


include: "rules/common.smk"
include: "rules/run_config.smk"
include: "rules/preflight.smk"
include: "rules/models.smk"


if "zoo" in config:

    include: "rules/zoo.smk"


if "hub_rl" in config:

    include: "rules/hub_rl.smk"


include: "rules/generate.smk"
include: "rules/grade.smk"
include: "rules/select.smk"
include: "rules/attribute.smk"
include: "rules/analyze.smk"


if "audit" in config:

    include: "rules/faithfulness.smk"


if "study" in config:

    include: "rules/study.smk"


if "dynamics" in config:

    include: "rules/dynamics.smk"


include: "rules/report.smk"


rule all:
    default_target: True
    input:
        PLAN.report,
