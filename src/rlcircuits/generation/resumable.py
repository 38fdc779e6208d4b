"""``<out>.partial``: finished records kept batch by batch, so a killed generate job resumes."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from rlcircuits.contracts import GENERATION_KEYS, PROMPT_KEYS, GenerationRecord, jsonl_line, parse_record
from rlcircuits.errors import InputFormatError
from rlcircuits.generation.backends import GenerationError, GenerationSettings

log = logging.getLogger(__name__)


def model_fingerprint(name_or_path: str) -> str | None:
    """Digest of a local model folder's file names, sizes and mtimes; None for a Hub id.

    A model retrained in place keeps its path, and its partial file must not be resumed; a Hub
    model is pinned by its revision instead.
    """
    folder = Path(name_or_path).expanduser()
    if not folder.is_dir():
        return None
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def partial_path(out: str | os.PathLike[str]) -> Path:
    """Where a run keeps its finished records until the output is complete."""
    out = Path(out)
    return out.with_name(out.name + ".partial")


class PartialFile:
    """``<out>.partial``: a ``{"settings": ...}`` header line, then finished records, batch by batch."""

    def __init__(self, out: Path, settings: GenerationSettings) -> None:
        self.path = partial_path(out)
        self._header = {"settings": {**asdict(settings), "model_files": model_fingerprint(settings.model)}}
        self._valid_bytes = 0
        self._handle: IO[bytes] | None = None

    def __enter__(self) -> PartialFile:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()

    def resume(self, expected: Mapping[str, Mapping[str, Any]]) -> dict[str, GenerationRecord]:
        """Finished records of this run's questions (``expected``: their prompt fields), by id.

        A torn last line (killed mid-write) is dropped.
        """
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        self._valid_bytes = data.rfind(b"\n") + 1
        lines = data[: self._valid_bytes].split(b"\n")[:-1]
        if not lines:
            return {}
        self._check_header(self._parse(lines[0], 1))
        done: dict[str, GenerationRecord] = {}
        for lineno, line in enumerate(lines[1:], start=2):
            record = self._check_record(self._parse(line, lineno), lineno, expected)
            if record is None:
                continue
            if record.id in done:
                raise InputFormatError(f"{self.path}:{lineno}: question {record.id} is recorded twice")
            done[record.id] = record
        skipped = len(lines) - 1 - len(done)
        if skipped:
            log.info("%s: %d finished record(s) are for questions outside this run; ignored", self.path, skipped)
        return done

    def append(self, records: Sequence[GenerationRecord]) -> None:
        """Add finished records durably: a kill after this returns never loses them."""
        if self._handle is None:
            if self._valid_bytes:
                os.truncate(self.path, self._valid_bytes)  # drop a torn last line before appending
                self._handle = self.path.open("ab")
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._handle = self.path.open("wb")
                self._handle.write(jsonl_line(self._header))
        self._handle.write(b"".join(jsonl_line(record.to_json()) for record in records))
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def _parse(self, line: bytes, lineno: int) -> Any:
        try:
            return json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputFormatError(f"{self.path}:{lineno}: invalid JSON ({exc}); delete it to start over") from None

    def _check_header(self, header: Any) -> None:
        if header == self._header:
            return
        theirs = header.get("settings") if isinstance(header, dict) else None
        if not isinstance(theirs, dict):
            raise InputFormatError(f"{self.path}:1: no settings header; not a partial file of the generate stage")
        ours = self._header["settings"]
        differences = [
            f"{key}: {theirs.get(key)!r} there, {ours.get(key)!r} here"
            for key in sorted(set(ours) | set(theirs))
            if theirs.get(key) != ours.get(key)
        ]
        raise GenerationError(
            f"{self.path} was written with other settings ({'; '.join(differences)}); delete it to start over"
        )

    def _check_record(
        self, record: Any, lineno: int, expected: Mapping[str, Mapping[str, Any]]
    ) -> GenerationRecord | None:
        """The record, or None if its question is not in this run."""
        where = f"{self.path}:{lineno}"
        if isinstance(record, dict) and set(record) != set(GENERATION_KEYS):
            raise InputFormatError(
                f"{where}: expected a record with keys {', '.join(GENERATION_KEYS)}, got {sorted(record)}"
            )
        parsed = parse_record(record, GenerationRecord, where)
        if parsed.id not in expected:
            return None
        for key in PROMPT_KEYS:
            if record[key] != expected[parsed.id][key]:
                raise InputFormatError(
                    f"{where}: question {parsed.id}: {key} differs from this run's; delete {self.path} to start over"
                )
        return parsed
