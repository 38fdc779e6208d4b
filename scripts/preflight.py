#!/usr/bin/env python
"""First job of every run: check the hardware the config asks for, before any download or GPU job.

A config that needs CUDA on a machine without it stops here, pointing to the CPU demo, instead
of starting a multi-hour CPU run or a 100 GB model download.
"""

from __future__ import annotations

import argparse
import json
import sys

from rlcircuits.cli import run_stage
from rlcircuits.errors import RLCircuitsError
from rlcircuits.files import atomic_output
from rlcircuits.options import DEVICES


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", required=True, choices=DEVICES, help="the config's device")
    parser.add_argument("--config-name", required=True, help="run name, for the message")
    parser.add_argument("--out", required=True, help="JSON record of the hardware found")
    return parser.parse_args(argv)


def check(args: argparse.Namespace) -> None:
    import torch

    found = {"device": args.device, "torch": torch.__version__, "cuda_available": torch.cuda.is_available()}
    if args.device == "cuda":
        if not found["cuda_available"]:
            raise RLCircuitsError(
                f"run '{args.config_name}' needs a CUDA GPU (device: cuda) but torch {torch.__version__} finds none "
                "on this machine. Without a GPU, run the CPU demo instead: "
                "snakemake --cores all --configfile config/demo.yaml"
            )
        found["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    with atomic_output(args.out, "w") as handle:
        json.dump(found, handle, indent=1)


def main(argv: list[str] | None = None) -> int:
    return run_stage("preflight", lambda: check(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
