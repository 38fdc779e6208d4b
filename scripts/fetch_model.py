#!/usr/bin/env python
"""Download a pinned Hugging Face Hub snapshot into a folder of the working directory.

The revision (branch, tag or commit) is resolved to a commit first and that commit is
downloaded, so the files match the recorded revision; `rlcircuits_revision.json` in the folder
records both for the report. The download goes to a sibling partial folder (resumable) and is
renamed into place only when complete. Generation and attribution then run offline from it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from rlcircuits.cli import run_stage
from rlcircuits.errors import ModelLoadError
from rlcircuits.model_names import DEFAULT_REVISION
from rlcircuits.run_plan import REVISION_FILE

# Weights in safetensors or PyTorch format, configs and tokenizer files; not GGUF or raw checkpoints.
IGNORE = ["*.gguf", "original/*", "*.pth", "*.msgpack", "*.h5", "*.ot"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="Hub id, e.g. deepseek-ai/deepseek-math-7b-rl")
    parser.add_argument("--revision", default=DEFAULT_REVISION, help="branch, tag or commit (default: %(default)s)")
    parser.add_argument("--out", required=True, help="destination folder")
    return parser.parse_args(argv)


def fetch(args: argparse.Namespace) -> None:
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError

    out = Path(args.out)
    partial = out.parent / f".{out.name}.partial"
    try:
        commit = HfApi().model_info(args.model, revision=args.revision).sha
        snapshot_download(args.model, revision=commit, local_dir=partial, ignore_patterns=IGNORE)
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot download {args.model}@{args.revision}: {exc}") from exc
    record = {"model": args.model, "requested": args.revision, "resolved": commit}
    (partial / REVISION_FILE).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    shutil.rmtree(partial / ".cache", ignore_errors=True)
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)


def main(argv: list[str] | None = None) -> int:
    return run_stage("fetch_model", lambda: fetch(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
