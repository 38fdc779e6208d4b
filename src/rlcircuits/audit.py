"""The robustness audit's shape and files: which attribution variants a run adds, and the faithfulness record.

A variant is one choice of method × granularity × loss (docs/DESIGN.md §4, "Robustness audit"). The
attribution section of the config is the paper's choice (the default variant); ``audit.variants``
lists the others, each attributed, analysed and judged by the claims checklist on its own. The
faithfulness stage (rlcircuits.faithfulness) writes one :class:`FaithfulnessRecord` per pair ×
role × dataset; :func:`write_faithfulness` and :func:`read_faithfulness` are its one writer and
one reader. Torch- and numpy-free: the workflow imports it at parse time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rlcircuits.contracts import ROLES
from rlcircuits.errors import InputFormatError, SettingsError
from rlcircuits.files import atomic_output, read_json
from rlcircuits.options import GRANULARITIES, LOSS_TEXTS, METHODS, Granularity, LossText, Method

_METHOD_LABELS = {"eap": "EAP", "eap_ig": "EAP-IG"}
_LOSS_LABELS = {"own_answer": "own answer", "shared_answer": "shared answer"}


@dataclass(frozen=True)
class Variant:
    """One attribution choice: method × granularity × loss."""

    method: Method
    granularity: Granularity
    loss: LossText

    def __post_init__(self) -> None:
        for value, allowed, key in (
            (self.method, METHODS, "method"),
            (self.granularity, GRANULARITIES, "granularity"),
            (self.loss, LOSS_TEXTS, "loss"),
        ):
            if value not in allowed:
                raise SettingsError(f"variant {key} {value!r}: choose one of {', '.join(allowed)}")

    @property
    def name(self) -> str:
        """The variant's folder name, e.g. ``eap_ig-module-own_answer``."""
        return f"{self.method}-{self.granularity}-{self.loss}"

    @classmethod
    def from_name(cls, name: str) -> Variant:
        """The variant a folder name (:attr:`name`) stands for."""
        parts = name.split("-")
        if len(parts) != 3:
            raise SettingsError(f"{name!r} is not a variant name (method-granularity-loss)")
        return cls(*parts)  # type: ignore[arg-type]

    @property
    def label(self) -> str:
        return f"{_METHOD_LABELS[self.method]} · {self.granularity} · {_LOSS_LABELS[self.loss]}"


@dataclass(frozen=True)
class FaithfulnessSettings:
    """What the faithfulness stage computes: at which α, the curve's kept fractions, and whether to run
    one ablation per edge and sample (affordable on the mini zoo only)."""

    alpha: str
    fractions: tuple[float, ...]
    single_edge: bool


@dataclass(frozen=True)
class Audit:
    """The audit section of a run: the default variant, the added ones, and the faithfulness settings."""

    default: Variant
    variants: tuple[Variant, ...]
    faithfulness: FaithfulnessSettings | None

    @property
    def all_variants(self) -> tuple[Variant, ...]:
        return (self.default, *self.variants)

    def faithful_variants(self) -> tuple[Variant, ...]:
        """The variants whose edges the faithfulness stage ablates: module-level graphs (head-level
        edges are not ablated one by one)."""
        return tuple(v for v in self.all_variants if v.granularity == "module")


def default_variant(attribution: Mapping[str, Any]) -> Variant:
    """The attribution section's own choice (schema defaults filled in)."""
    return Variant(
        str(attribution.get("method", "eap")),  # type: ignore[arg-type]
        str(attribution.get("granularity", "module")),  # type: ignore[arg-type]
        str(attribution.get("loss", "own_answer")),  # type: ignore[arg-type]
    )


def audit_from_config(config: Mapping[str, Any]) -> Audit | None:
    """The run's audit, or None without an ``audit`` section; a repeated variant, the default listed
    as a variant, or a faithfulness α that is not one of the run's is a SettingsError."""
    section = config.get("audit")
    if not section:
        return None
    default = default_variant(config["attribution"])
    variants: list[Variant] = []
    for index, raw in enumerate(section["variants"]):
        where = f"config audit.variants[{index}]"
        variant = Variant(raw["method"], raw["granularity"], raw["loss"])
        if variant == default:
            raise SettingsError(f"{where}: {variant.name} is the attribution section's own choice, already run")
        if variant in variants:
            raise SettingsError(f"{where}: {variant.name} is listed twice")
        variants.append(variant)
    faithfulness = None
    raw_faith = section.get("faithfulness")
    if raw_faith:
        alphas = [str(a) for a in config["alphas"]]
        alpha = str(raw_faith["alpha"])
        if alpha not in alphas:
            raise SettingsError(f"config audit.faithfulness.alpha: {alpha} is not one of alphas ({', '.join(alphas)})")
        fractions = tuple(sorted({float(f) for f in raw_faith["fractions"]} | {0.0, 1.0}))
        faithfulness = FaithfulnessSettings(alpha, fractions, bool(raw_faith["single_edge"]))
    return Audit(default, tuple(variants), faithfulness)


# --- the faithfulness record ---------------------------------------------------------------------


@dataclass(frozen=True)
class MethodFaithfulness:
    """One variant's scores against what ablating its edges does, over the samples of a record.

    ``recovered[i][j]``: sample j's fraction of the clean-versus-all-ablated loss gap recovered when
    its top ``fractions[i]`` of edges by |score| are kept and every other edge is zero-ablated.
    ``spearman[j]``: the rank correlation over edges of sample j's scores with the exact effect on
    the loss of ablating each edge alone (None without single-edge ablations, or where either side
    is constant).
    """

    variant: str
    loss: LossText
    recovered: tuple[tuple[float, ...], ...]
    spearman: tuple[float | None, ...] | None


@dataclass(frozen=True)
class FaithfulnessRecord:
    """``faithfulness/{pair}/{dataset}/{role}.json``: one model's faithfulness check at one α."""

    pair: str
    dataset: str
    role: str
    alpha: float
    t_cut: int
    model: str
    sample_ids: tuple[str, ...]
    n_edges: int
    fractions: tuple[float, ...]
    methods: tuple[MethodFaithfulness, ...]


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_faithfulness(record: FaithfulnessRecord, where: str) -> None:
    """Every invariant a reader relies on; errors start with ``where``."""
    n = len(record.sample_ids)
    if record.role not in ROLES:
        raise InputFormatError(f"{where}: role must be one of {ROLES}, got {record.role!r}")
    if n < 1 or record.n_edges < 1:
        raise InputFormatError(f"{where}: needs at least one sample and one edge")
    fractions = record.fractions
    if (
        not fractions
        or any(not _finite(f) or not 0 <= f <= 1 for f in fractions)
        or list(fractions) != sorted(set(fractions))
    ):
        raise InputFormatError(f"{where}: fractions must be distinct increasing numbers in [0, 1]")
    if not record.methods:
        raise InputFormatError(f"{where}: no method scored")
    for method in record.methods:
        label = f"{where}: methods.{method.variant}"
        if method.loss not in LOSS_TEXTS:
            raise InputFormatError(f"{label}.loss must be one of {LOSS_TEXTS}")
        if len(method.recovered) != len(fractions) or any(len(row) != n for row in method.recovered):
            raise InputFormatError(f"{label}.recovered must hold one value per fraction and sample")
        if any(not _finite(v) for row in method.recovered for v in row):
            raise InputFormatError(f"{label}.recovered must be finite numbers")
        if method.spearman is not None and (
            len(method.spearman) != n or any(v is not None and not _finite(v) for v in method.spearman)
        ):
            raise InputFormatError(f"{label}.spearman must hold one number (or null) per sample")


def write_faithfulness(path: str | Path, record: FaithfulnessRecord) -> None:
    """Validate, then write the record atomically as one JSON object."""
    check_faithfulness(record, str(path))
    with atomic_output(path, "w") as handle:
        json.dump(asdict(record), handle, indent=1)
        handle.write("\n")


def read_faithfulness(path: str | Path) -> FaithfulnessRecord:
    """A faithfulness record, validated; errors name the file and key."""
    data = read_json(path, "faithfulness file")
    try:
        methods = tuple(
            MethodFaithfulness(
                variant=str(m["variant"]),
                loss=m["loss"],
                recovered=tuple(tuple(row) for row in m["recovered"]),
                spearman=None if m["spearman"] is None else tuple(m["spearman"]),
            )
            for m in data["methods"]
        )
        record = FaithfulnessRecord(
            pair=str(data["pair"]),
            dataset=str(data["dataset"]),
            role=str(data["role"]),
            alpha=float(data["alpha"]),
            t_cut=int(data["t_cut"]),
            model=str(data["model"]),
            sample_ids=tuple(str(s) for s in data["sample_ids"]),
            n_edges=int(data["n_edges"]),
            fractions=tuple(data["fractions"]),
            methods=methods,
        )
    except KeyError as exc:
        raise InputFormatError(f"{path}: missing key {exc}") from None
    except (TypeError, ValueError) as exc:
        raise InputFormatError(f"{path}: malformed faithfulness record ({exc})") from None
    check_faithfulness(record, str(path))
    return record


def mean_curve(records: Sequence[FaithfulnessRecord], variant: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(fractions, mean recovered fraction) of one variant over every sample of ``records`` that scored it."""
    rows = [(r.fractions, m.recovered) for r in records for m in r.methods if m.variant == variant]
    if not rows:
        return (), ()
    fractions = rows[0][0]
    if any(f != fractions for f, _ in rows):
        raise InputFormatError(f"faithfulness records of {variant} use different fractions")
    means = tuple(
        sum(sum(rec[i]) for _, rec in rows) / sum(len(rec[i]) for _, rec in rows) for i in range(len(fractions))
    )
    return fractions, means
