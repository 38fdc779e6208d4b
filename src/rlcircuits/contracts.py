"""The files stages hand each other (docs/DESIGN.md §3) as typed records, each with one writer and one reader.

Torch-free (the grader, the report and the workflow import it): a record type, the function
that writes it and the function that reads it back live together, so a format is defined once.
Readers validate every key downstream code relies on and name the file (and line or key) at
fault.

* generations JSONL: :class:`GenerationRecord`, :func:`write_generations` / :func:`read_generations`
* graded JSONL: :class:`GradedRecord`, :func:`write_graded` / :func:`read_graded`
* selection JSON: :class:`Selection`, :func:`write_selection` / :func:`read_selection`
* attribution ``.npz``: :class:`AttributionFile`, :func:`save_attribution` / :func:`load_attribution`
* a zoo model's ``training_curve.json``: :class:`TrainingCurve`, :func:`write_training_curve` /
  :func:`read_training_curve`
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self, TypeVar, get_args

from rlcircuits.errors import InputFormatError
from rlcircuits.files import atomic_output, iter_jsonl, read_json

if TYPE_CHECKING:  # numpy is imported where used: the workflow imports this module on a bare host
    import numpy as np

Role = Literal["base", "rl"]
ROLES: tuple[Role, ...] = get_args(Role)
FinishReason = Literal["stop", "length"]
FINISH_REASONS: tuple[FinishReason, ...] = get_args(FinishReason)
# "ok" judged by math-verify; "no_answer" nothing extracted; "timeout" over the hard limit;
# "crashed" the worker died (e.g. a native crash in sympy). All but "ok" are wrong.
GradeStatus = Literal["ok", "no_answer", "timeout", "crashed"]
GRADE_STATUSES: tuple[GradeStatus, ...] = get_args(GradeStatus)


def _is_token_list(value: Any) -> bool:
    """A JSON list of integers (booleans excluded): the only form token ids take in a file."""
    return isinstance(value, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in value)


# --- generations and graded JSONL ---------------------------------------------------------------

_TOKEN_KEYS = ("prompt_token_ids", "answer_token_ids")


@dataclass(frozen=True)
class GenerationRecord:
    """One answered question (docs/DESIGN.md §3; the exact token-id contract: rlcircuits.generation)."""

    id: str
    question: str
    gold: str
    prompt: str
    prompt_token_ids: tuple[int, ...]
    answer: str
    answer_token_ids: tuple[int, ...]
    finish_reason: FinishReason

    def to_json(self) -> dict[str, Any]:
        """The record as written: keys in field order, token ids as lists."""
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Self:
        """The record of a validated JSON object (its keys beyond the fields are not kept)."""
        return cls(**{f.name: tuple(raw[f.name]) if f.name in _TOKEN_KEYS else raw[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class GradedRecord(GenerationRecord):
    """A generation record plus the grader's extracted answer and verdict."""

    pred: str | None
    correct: bool
    grade_status: GradeStatus


GENERATION_KEYS = tuple(field.name for field in fields(GenerationRecord))
# Keys fixed before any decoding (a resumed record must agree with its run on all of them).
PROMPT_KEYS = GENERATION_KEYS[: GENERATION_KEYS.index("prompt_token_ids") + 1]
GRADED_KEYS = tuple(field.name for field in fields(GradedRecord))


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else f"must be a string, got {type(value).__name__}"


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    return lambda value: None if value in choices else f"must be one of {choices}, got {value!r}"


# Per key, None when the value is valid, else what is wrong with it.
_CHECKS: dict[str, Callable[[Any], str | None]] = {
    **dict.fromkeys(("id", "question", "gold", "prompt", "answer"), _string),
    **dict.fromkeys(_TOKEN_KEYS, lambda v: None if _is_token_list(v) else "must be a list of integers"),
    "finish_reason": _one_of(FINISH_REASONS),
    "pred": lambda v: None if v is None or isinstance(v, str) else f"must be a string or null, got {type(v).__name__}",
    "correct": lambda v: None if isinstance(v, bool) else "must be true or false",
    "grade_status": _one_of(GRADE_STATUSES),
}

R = TypeVar("R", GenerationRecord, GradedRecord)


def parse_record(raw: Any, kind: type[R], where: str) -> R:
    """One JSON object as a ``kind`` record, every key checked; errors start with ``where``."""
    if not isinstance(raw, dict):
        raise InputFormatError(f"{where}: expected a JSON object")
    keys = [field.name for field in fields(kind)]
    missing = [key for key in keys if key not in raw]
    if missing:
        raise InputFormatError(f"{where}: missing key(s) {', '.join(missing)}")
    for key in keys:
        problem = _CHECKS[key](raw[key])
        if problem:
            raise InputFormatError(f"{where}: {key} {problem}")
    return kind.from_json(raw)


def _read_records(path: str | Path, kind: type[R], what: str) -> list[R]:
    records: list[R] = []
    first_seen: dict[str, str] = {}
    for where, raw in iter_jsonl(path, what=what):
        record = parse_record(raw, kind, where)
        if record.id in first_seen:
            raise InputFormatError(f"{where}: duplicate id {record.id!r} (first at {first_seen[record.id]})")
        first_seen[record.id] = where
        records.append(record)
    return records


def jsonl_line(record: Mapping[str, Any]) -> bytes:
    """One JSON-lines record as the stages write it: UTF-8, non-ASCII kept."""
    return json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n"


def _write_records(path: str | Path, records: Iterable[GenerationRecord]) -> None:
    with atomic_output(path) as handle:
        for record in records:
            handle.write(jsonl_line(record.to_json()))


def write_generations(path: str | Path, records: Iterable[GenerationRecord]) -> None:
    """The generate stage's output, atomically."""
    _write_records(path, records)


def read_generations(path: str | Path) -> list[GenerationRecord]:
    """A generations file, validated; errors name the file and line."""
    return _read_records(path, GenerationRecord, "generations file")


def write_graded(path: str | Path, records: Iterable[GradedRecord]) -> None:
    """The grade stage's output, atomically: a killed job leaves no graded file."""
    _write_records(path, records)


def read_graded(path: str | Path) -> list[GradedRecord]:
    """A graded file, validated; errors name the file and line."""
    return _read_records(path, GradedRecord, "graded file")


# --- selection JSON -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RoleTokens:
    """One model's exact prompt and answer token ids for a question."""

    prompt_token_ids: tuple[int, ...]
    answer_token_ids: tuple[int, ...]


@dataclass(frozen=True)
class SelectedSample:
    id: str
    base: RoleTokens
    rl: RoleTokens

    def role(self, role: Role) -> RoleTokens:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        return self.base if role == "base" else self.rl


@dataclass(frozen=True)
class Selection:
    """``selection/{pair}/{dataset}.json``: T_bar, the thresholds, per-filter counts, the samples."""

    pair: str
    dataset: str
    t_bar: float
    thresholds: dict[str, float]
    counts: dict[str, int]
    fewer_than_n: bool
    samples: tuple[SelectedSample, ...]


def write_selection(path: str | Path, selection: Selection) -> None:
    """Write a selection atomically, compactly (it holds every chosen token id)."""
    record = asdict(selection)
    record["samples"] = [
        {"id": s.id, **{role: {key: list(ids) for key, ids in asdict(s.role(role)).items()} for role in ROLES}}
        for s in selection.samples
    ]
    with atomic_output(path, "w") as handle:
        json.dump(record, handle, separators=(",", ":"))
        handle.write("\n")


def _require(mapping: Any, key: str, where: str, path: Path) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise InputFormatError(f"{path}: missing key {where}{key}")
    return mapping[key]


def _token_ids(value: Any, where: str) -> tuple[int, ...]:
    if not _is_token_list(value):
        raise InputFormatError(f"{where} must be a list of integers")
    return tuple(value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def read_selection(path: str | Path) -> Selection:
    """Parse and validate a selection file; an empty sample list is an error here."""
    path = Path(path)
    data = read_json(path, "selection file")
    t_bar = _require(data, "t_bar", "", path)
    if not _number(t_bar) or t_bar <= 0:
        raise InputFormatError(f"{path}: t_bar must be a positive number, got {t_bar!r}")
    raw_samples = _require(data, "samples", "", path)
    if not isinstance(raw_samples, list):
        raise InputFormatError(f"{path}: samples must be a list")
    if not raw_samples:
        raise InputFormatError(f"{path}: the selection is empty (no samples to attribute)")
    samples = []
    for index, raw in enumerate(raw_samples):
        where = f"samples[{index}]."
        roles = {}
        for role in ROLES:
            tokens = _require(raw, role, where, path)
            roles[role] = RoleTokens(
                *(
                    _token_ids(_require(tokens, key, f"{where}{role}.", path), f"{path}: {where}{role}.{key}")
                    for key in ("prompt_token_ids", "answer_token_ids")
                )
            )
        samples.append(SelectedSample(id=str(_require(raw, "id", where, path)), **roles))
    ids = [sample.id for sample in samples]
    if len(set(ids)) != len(ids):
        raise InputFormatError(f"{path}: duplicate sample ids")
    checks = {"pair": str, "dataset": str, "thresholds": dict, "counts": dict, "fewer_than_n": bool}
    for key, kind in checks.items():
        if not isinstance(_require(data, key, "", path), kind):
            raise InputFormatError(f"{path}: {key} must be a {kind.__name__}, got {type(data[key]).__name__}")
    for group in ("thresholds", "counts"):
        bad = [key for key, value in data[group].items() if not _number(value)]
        if bad:
            raise InputFormatError(f"{path}: {group}.{bad[0]} must be a number")
    return Selection(
        pair=data["pair"],
        dataset=data["dataset"],
        t_bar=float(t_bar),
        thresholds=data["thresholds"],
        counts=data["counts"],
        fewer_than_n=data["fewer_than_n"],
        samples=tuple(samples),
    )


# --- a zoo model's training curve --------------------------------------------------------------

TRAINING_CURVE = "training_curve.json"  # beside a zoo model's weights


@dataclass(frozen=True)
class TrainingCurve:
    """One logged value per optimiser step of a zoo model's training, so any trainer's curve can be drawn.

    ``metric`` is the trainer's log key (``loss``, ``reward``, ``objective/scores``,
    ``rewards/margins``) and ``meaning`` says what it measures, for the figure's axis.
    """

    metric: str
    meaning: str
    steps: tuple[int, ...]
    values: tuple[float, ...]


def write_training_curve(path: str | Path, curve: TrainingCurve) -> None:
    """Write the curve atomically as one JSON object."""
    with atomic_output(path, "w") as handle:
        json.dump({**asdict(curve), "steps": list(curve.steps), "values": list(curve.values)}, handle)
        handle.write("\n")


def read_training_curve(path: str | Path) -> TrainingCurve:
    """A training curve, validated: steps strictly increasing integers, one finite value per step."""
    path = Path(path)
    data = read_json(path, "training curve")
    metric, meaning = (_require(data, key, "", path) for key in ("metric", "meaning"))
    steps, values = (_require(data, key, "", path) for key in ("steps", "values"))
    if not (isinstance(metric, str) and isinstance(meaning, str)):
        raise InputFormatError(f"{path}: metric and meaning must be strings")
    if not _is_token_list(steps) or any(b <= a for a, b in itertools.pairwise(steps)):
        raise InputFormatError(f"{path}: steps must be strictly increasing integers")
    if not isinstance(values, list) or not all(_number(v) for v in values) or len(values) != len(steps) or not steps:
        raise InputFormatError(f"{path}: values must be finite numbers, one per step (at least one)")
    return TrainingCurve(metric, meaning, tuple(steps), tuple(float(v) for v in values))


# --- attribution .npz ---------------------------------------------------------------------------


class _GraphLike(Protocol):
    edge_mask: np.ndarray
    src_names: Sequence[str]
    dst_names: Sequence[str]
    layout: str
    granularity: str


class ScoredSamples(Protocol):
    """What the attribute stage produces (rlcircuits.eap.Attribution has it)."""

    graph: _GraphLike
    scores: np.ndarray
    losses: np.ndarray
    sample_ids: Sequence[str]
    n_targets: np.ndarray


@dataclass(frozen=True)
class AttributionFile:
    """``attribution/{pair}/{dataset}/alpha{alpha}/{role}.npz``: per-sample EAP matrices and their provenance.

    The metadata (``n_targets`` on) is absent from files written without it, e.g. by tests. ``method`` is
    ``eap`` or ``eap_ig`` (then with ``ig_steps``, ``ig_baseline`` and the loss at the baseline input,
    ``baseline_losses``); ``loss`` is ``own_answer`` or ``shared_answer`` and ``answer_role`` the role
    whose prompt and answer tokens the model was scored on (the base's, for ``shared_answer``).
    """

    scores: np.ndarray  # float32 [N, n_src, n_dst], zero on non-edges
    edge_mask: np.ndarray  # bool [n_src, n_dst]
    src_names: np.ndarray  # str [n_src]
    dst_names: np.ndarray  # str [n_dst]
    sample_ids: np.ndarray  # str [N]
    losses: np.ndarray  # [N] mean NLL of each sample's targets
    t_cut: int
    n_targets: np.ndarray | None = None  # [N] targets actually scored
    layout: str | None = None
    model: str | None = None
    role: Role | None = None
    alpha: float | None = None
    dtype: str | None = None
    granularity: str | None = None  # module, or head: attention heads are nodes of their own
    method: str | None = None
    ig_steps: int | None = None
    ig_baseline: str | None = None
    baseline_losses: np.ndarray | None = None  # [N] EAP-IG only
    loss: str | None = None
    answer_role: Role | None = None


_REQUIRED_ARRAYS = tuple(field.name for field in fields(AttributionFile) if field.default is not None)
_OPTIONAL_ARRAYS = tuple(field.name for field in fields(AttributionFile) if field.default is None)


def save_attribution(
    path: str | Path, result: ScoredSamples, *, t_cut: int, **metadata: str | float | np.ndarray
) -> None:
    """Write docs/DESIGN.md §3's attribution ``.npz`` (scores as float32) atomically."""
    import numpy as np

    record = AttributionFile(
        scores=result.scores.astype(np.float32),
        edge_mask=result.graph.edge_mask,
        src_names=np.array(result.graph.src_names),
        dst_names=np.array(result.graph.dst_names),
        sample_ids=np.array(result.sample_ids),
        losses=result.losses,
        t_cut=t_cut,
        n_targets=result.n_targets,
        layout=result.graph.layout,
        granularity=result.graph.granularity,
        **metadata,  # type: ignore[arg-type]  # an unknown key is a TypeError here, before writing
    )
    arrays = {key: np.asarray(value) for key, value in asdict(record).items() if value is not None}
    arrays["t_cut"] = np.int64(t_cut)
    with atomic_output(path) as handle:
        np.savez(handle, **arrays)


def load_attribution(path: str | Path) -> AttributionFile:
    """Read an attribution ``.npz`` (no pickles), checking the docs/DESIGN.md §3 arrays are present."""
    import numpy as np

    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputFormatError(f"{path}: attribution file not found") from None
    except (OSError, ValueError) as exc:
        raise InputFormatError(f"{path}: not a readable .npz file ({exc})") from None
    with data:
        missing = [key for key in _REQUIRED_ARRAYS if key not in data.files]
        if missing:
            raise InputFormatError(f"{path}: missing arrays {', '.join(missing)}")
        arrays = {key: data[key] for key in _REQUIRED_ARRAYS}
        optional = {key: data[key] for key in _OPTIONAL_ARRAYS if key in data.files}
    per_sample = {key: optional.pop(key, None) for key in ("n_targets", "baseline_losses")}
    scalars = {key: value.item() for key, value in optional.items()}
    return AttributionFile(**{**arrays, "t_cut": int(arrays["t_cut"])}, **per_sample, **scalars)
