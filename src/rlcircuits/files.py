"""Atomic outputs: a killed job must never leave a file or folder that looks complete."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from rlcircuits.errors import InputFormatError


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it onto ``path`` only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.chmod(tmp_name, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A scratch folder beside ``path`` that replaces it only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}.tmp"
    scratch.mkdir()
    try:
        yield scratch
        for child in scratch.iterdir():  # e.g. safetensors writes 0600; outputs get the usual mode
            child.chmod(0o666 & ~_umask())
        if target.exists():
            stale = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}.old"
            target.rename(stale)
            scratch.rename(target)
            shutil.rmtree(stale)
        else:
            scratch.rename(target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def is_local_path(name: str) -> bool:
    """Whether a model name can only mean a local folder (absolute, ./, ../, ~, or two slashes or more).

    Anything else (``org/model``) is a Hub id; the loaders and the workflow decide it here alike.
    """
    return os.path.isabs(name) or name.startswith((".", "~")) or name.count("/") > 1


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def read_json(path: str | os.PathLike[str], what: str = "file") -> Any:
    """One JSON document; a missing file or bad JSON is an InputFormatError naming the file (and line)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputFormatError(f"{path}: {what} not found") from None
    except json.JSONDecodeError as exc:
        raise InputFormatError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None


def iter_jsonl(path: str | os.PathLike[str], what: str = "file") -> Iterator[tuple[str, Any]]:
    """("path:line", record) for each non-blank line of a JSON-lines file; bad JSON names the line."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8")
    except FileNotFoundError:
        raise InputFormatError(f"{path}: {what} not found") from None
    with handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputFormatError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from None
            yield f"{path}:{lineno}", record
