"""The report's Robustness section: each claim's verdict under every attribution variant, and faithfulness.

Each variant's Table 1 goes through the same claims checklist (rlcircuits.claims, its rule unchanged),
so a claim's row reads across variants; a claim *survives* a variant when its verdict there is the
verdict under the paper's choices. A controlled study's checklist rows can rarely reach a verdict (a
handful of seeds per arm is too few pairs for the sign test), so on a study each variant's Table 1
also goes through the study's own verdicts (rlcircuits.study, seeds the replicate), hypothesis by
hypothesis: "does the study's finding survive EAP-IG?" asked where there is a finding.

The faithfulness records (rlcircuits.audit) give the curve of loss-gap recovered against the
fraction of edges kept, per variant, and the per-sample Spearman correlation of the scores with
exact single-edge ablations, summarised here and drawn by :func:`faithfulness_figure`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rlcircuits.audit import Audit, FaithfulnessRecord, Variant, mean_curve
from rlcircuits.claims import Claim, claims
from rlcircuits.study import ACCURACY, HYPOTHESES, seed_values, verdicts
from rlcircuits.study_design import Arm, Contrast

PAPER_CHOICES = "the paper's choices"


@dataclass(frozen=True)
class ClaimAcrossVariants:
    """One claim's verdict under each variant (None: that variant's Table 1 is missing) and its sentence."""

    claim: str
    verdicts: tuple[str | None, ...]
    sentence: str
    details: tuple[str, ...] = ()  # per variant, what the verdict rests on: pair counts, or an effect and interval


@dataclass(frozen=True)
class FaithfulnessRow:
    """One variant's faithfulness over every record that scored it."""

    label: str
    samples: int
    recovered: tuple[str, ...]  # mean fraction recovered at each of the section's fractions, formatted
    spearman: str  # median [quartiles] over samples, or a dash without single-edge ablations


@dataclass(frozen=True)
class RobustnessSection:
    """What the page shows of the audit."""

    labels: tuple[str, ...]  # the default variant first
    rows: tuple[ClaimAcrossVariants, ...]
    study_rows: tuple[ClaimAcrossVariants, ...]  # a study's circuit-metric hypotheses; empty for other runs
    missing: tuple[str, ...]  # variants whose Table 1 is absent
    fractions: tuple[str, ...]
    faithfulness: tuple[FaithfulnessRow, ...]
    figure: str | None
    faithfulness_alpha: str | None
    ig_steps: int
    ig_baseline: str
    uses_ig: bool


def _sentence(claim: str, verdicts: Sequence[str | None], labels: Sequence[str]) -> str:
    """Which choices the claim's verdict survives (same verdict as under the paper's), and where it changes."""
    default = verdicts[0]
    if default is None:
        return f"“{claim}”: no verdict under {PAPER_CHOICES} (its Table 1 is missing)."
    same = [label for label, v in zip(labels[1:], verdicts[1:], strict=True) if v == default]
    changed: dict[str, list[str]] = {}  # verdict -> the variants under which the claim reads it, in order
    for label, verdict in zip(labels[1:], verdicts[1:], strict=True):
        if verdict not in (None, default):
            changed.setdefault(verdict, []).append(label)
    head = f"“{claim}”: {default} under {PAPER_CHOICES}"
    if not changed:
        return f"{head}; the same under every variant that has results ({len(same)} of {len(labels) - 1})."
    kept = f"; it survives {', '.join(same)}" if same else "; it survives no variant"
    becomes = "; ".join(f"{verdict} under {', '.join(under)}" for verdict, under in changed.items())
    return f"{head}{kept}; it becomes {becomes}."


def _majority(claim: Claim) -> int:
    """+1 when most of a claim's pairs point for it, -1 when most point against, 0 on a tie."""
    return int(np.sign(claim.pairs_for - claim.pairs_against))


def _turned(found: Sequence[Claim | None], labels: Sequence[str]) -> str:
    """Where a claim keeps its verdict but most of its pairs turn the other way (what "the design
    cannot tell" or "inconclusive" would hide), as a sentence; empty where none does."""
    default = found[0]
    if default is None or not _majority(default):
        return ""
    turned = [
        label
        for label, claim in zip(labels[1:], found[1:], strict=True)
        if claim is not None and claim.verdict == default.verdict and _majority(claim) == -_majority(default)
    ]
    return f" Most of its pairs point the other way under {', '.join(turned)}." if turned else ""


def verdict_rows(
    tables: Sequence[pd.DataFrame | None],
    labels: Sequence[str],
    online: Mapping[str, bool],
    ablations: Mapping[str, str],
) -> tuple[ClaimAcrossVariants, ...]:
    """One row per claim of the default variant's checklist, its verdict under each variant's Table 1."""
    checklists = [None if table is None else claims(table, online, ablations) for table in tables]
    if checklists[0] is None:
        texts = next((tuple(r.text for r in c.rows) for c in checklists if c is not None), ())
    else:
        texts = tuple(r.text for r in checklists[0].rows)
    rows = []
    for text in texts:
        found = [None if c is None else next((r for r in c.rows if r.text == text), None) for c in checklists]
        verdicts = tuple(None if claim is None else claim.verdict for claim in found)
        details = tuple(
            "" if claim is None else f"{claim.pairs_for} for, {claim.pairs_against} against, of {claim.pairs}"
            for claim in found
        )
        rows.append(
            ClaimAcrossVariants(text, verdicts, _sentence(text, verdicts, labels) + _turned(found, labels), details)
        )
    return tuple(rows)


def _estimate(row: pd.Series) -> str:
    """A hypothesis's difference of relative changes and its interval, in % of the base's value."""
    if np.isnan(row["ci_low"]):
        return f"{100 * row['difference']:+.2f}%"
    return f"{100 * row['difference']:+.2f}% [{100 * row['ci_low']:+.2f}, {100 * row['ci_high']:+.2f}]"


@dataclass(frozen=True)
class StudyInputs:
    """What a study's hypotheses across variants need besides each variant's Table 1; the file names
    (each variant's Table 1, in the tables' order, and Table 4) are for errors."""

    table4: pd.DataFrame | None
    arms: Sequence[Arm]
    contrasts: Sequence[Contrast]
    table1_files: Sequence[str]
    table4_file: str


def study_rows(
    tables: Sequence[pd.DataFrame | None], study: StudyInputs, labels: Sequence[str]
) -> tuple[ClaimAcrossVariants, ...]:
    """The study's circuit-metric hypotheses, each with its verdict under each variant's Table 1.

    Judged exactly as the study's own table (rlcircuits.study.verdicts over the same family of
    hypotheses, accuracy included, so the Bonferroni level is the study page's); the accuracy rows
    are left out, as no attribution choice changes an answer's grade. Table 4 supplies the seeds'
    accuracy only to keep that family whole. A Table 1 that lacks a seed is an InputFormatError
    naming its file.
    """
    arms, contrasts = study.arms, study.contrasts
    if study.table4 is None or not arms or not contrasts:
        return ()
    judged = [
        None
        if table is None
        else verdicts(
            seed_values(table, study.table4, arms, sources=(path, study.table4_file)), arms, contrasts, HYPOTHESES
        )
        for table, path in zip(tables, study.table1_files, strict=True)
    ]
    first = next((frame for frame in judged if frame is not None), None)
    if first is None:
        return ()
    rows = []
    for hypothesis in first.loc[first["metric"] != ACCURACY, "hypothesis"]:
        found = [None if frame is None else frame[frame["hypothesis"] == hypothesis].iloc[0] for frame in judged]
        verdicts_here = tuple(None if row is None else str(row["verdict"]) for row in found)
        rows.append(
            ClaimAcrossVariants(
                hypothesis,
                verdicts_here,
                _sentence(hypothesis, verdicts_here, labels),
                tuple("" if row is None else _estimate(row) for row in found),
            )
        )
    return tuple(rows)


def faithfulness_rows(
    records: Sequence[FaithfulnessRecord], variants: Sequence[Variant]
) -> tuple[tuple[str, ...], tuple[FaithfulnessRow, ...]]:
    """The fractions (formatted) and one summary row per variant that the records scored."""
    if not records:
        return (), ()
    rows = []
    fractions: tuple[float, ...] = ()
    for variant in variants:
        fractions_here, means = mean_curve(records, variant.name)
        if not means:
            continue
        fractions = fractions_here
        found = [m for r in records for m in r.methods if m.variant == variant.name]
        rho = np.array([v for m in found if m.spearman for v in m.spearman if v is not None], dtype=float)
        spearman = (
            f"{np.median(rho):+.2f} [{np.quantile(rho, 0.25):+.2f}, {np.quantile(rho, 0.75):+.2f}] (n = {rho.size})"
            if rho.size
            else "—"
        )
        rows.append(
            FaithfulnessRow(
                variant.label, sum(len(m.recovered[0]) for m in found), tuple(f"{v:.2f}" for v in means), spearman
            )
        )
    return tuple(f"{100 * f:g}%" for f in fractions), tuple(rows)


def faithfulness_figure(records: Sequence[FaithfulnessRecord]) -> plt.Figure:
    """Left: mean fraction of the loss gap recovered against the fraction of edges kept, one line per
    variant; right: each variant's per-sample Spearman correlations with exact single-edge ablations."""
    names = list(dict.fromkeys(m.variant for r in records for m in r.methods))
    figure, (curves, ranks) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [3, 2]})
    for name in names:
        fractions, means = mean_curve(records, name)
        curves.plot([100 * f for f in fractions], means, marker="o", markersize=3, label=Variant.from_name(name).label)
    curves.axhline(1.0, color="grey", linewidth=0.6, linestyle=":")
    curves.set_xscale("symlog", linthresh=1.0)
    curves.set_xlim(0, 100)
    curves.set_xlabel("edges kept, top % by |score| (the rest zero-ablated)")
    curves.set_ylabel("fraction of loss gap recovered")
    curves.set_title("Faithfulness curve (mean over samples)")
    curves.legend(fontsize=7)
    rho = {
        Variant.from_name(name).label: [
            v
            for r in records
            for m in r.methods
            if m.variant == name and m.spearman
            for v in m.spearman
            if v is not None
        ]
        for name in names
    }
    rho = {label: values for label, values in rho.items() if values}
    if rho:
        ranks.boxplot(list(rho.values()), tick_labels=list(rho), showfliers=False)
        ranks.axhline(0.0, color="grey", linewidth=0.6)
        ranks.set_ylabel("Spearman ρ per sample (score vs exact effect)")
        ranks.tick_params(axis="x", labelsize=6, labelrotation=30)
        ranks.set_title("Single-edge ablations")
    else:
        ranks.axis("off")
        ranks.text(0.5, 0.5, "no single-edge ablations\n(audit.faithfulness.single_edge off)", ha="center", va="center")
    figure.tight_layout()
    return figure


def robustness_section(
    audit: Audit,
    tables: Sequence[pd.DataFrame | None],
    records: Sequence[FaithfulnessRecord],
    figure: str | None,
    online: Mapping[str, bool],
    ablations: Mapping[str, str],
    ig: Mapping[str, object],
    study: StudyInputs | None = None,
) -> RobustnessSection:
    """The section from each variant's Table 1 (``tables``, in ``audit.all_variants`` order) and the records;
    ``study``: what a study's hypotheses across variants need, on a run with a study."""
    variants = audit.all_variants
    labels = tuple(
        f"{v.label} ({PAPER_CHOICES})" if v == audit.default and i == 0 else v.label for i, v in enumerate(variants)
    )
    fractions, rows = faithfulness_rows(records, variants)
    return RobustnessSection(
        labels=labels,
        rows=verdict_rows(tables, labels, online, ablations),
        study_rows=study_rows(tables, study, labels) if study else (),
        missing=tuple(label for label, table in zip(labels, tables, strict=True) if table is None),
        fractions=fractions,
        faithfulness=rows,
        figure=figure,
        faithfulness_alpha=audit.faithfulness.alpha if audit.faithfulness else None,
        ig_steps=int(ig["ig_steps"]),  # type: ignore[call-overload]
        ig_baseline=str(ig["ig_baseline"]),
        uses_ig=any(v.method == "eap_ig" for v in variants),
    )
