"""A run's shape, defined once: its folders, every path pattern, the grid and each pair's facts.

The Snakefile builds one ``RunPlan`` from the validated config (the schema's defaults filled in,
``--config`` overrides applied), takes every target and path from it, and writes that effective
config to ``results/<run>/config.yaml``. The stages that need the run's shape (the report, the
study) rebuild the plan from that file, never from the user's YAML, so the page always describes
the run that happened. A new axis of the grid (an attribution variant, a training checkpoint)
becomes a field here and a segment of the paths below, and every reader follows.

Torch- and numpy-free: it runs at parse time on the host (docs/DESIGN.md §2, "The run plan").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rlcircuits.audit import Audit, Variant, audit_from_config
from rlcircuits.contracts import ROLES
from rlcircuits.errors import InputFormatError, SettingsError
from rlcircuits.files import atomic_output
from rlcircuits.model_names import ConfiguredModel, configured_models, model_of
from rlcircuits.study_design import Arm, Contrast, arms_from_config
from rlcircuits.vocabulary import METRICS

RUN_CONFIG = "config.yaml"  # the effective config, results/<run>/config.yaml
REVISION_FILE = "rlcircuits_revision.json"  # written by scripts/fetch_model.py into each fetched folder
STUDY_TABLES = ("seeds", "arms", "contrasts", "verdicts")
STUDY_FIGURES = (*METRICS, "accuracy")
FIGURES = ("fig2", "fig3a", "fig3b")
ZOO_TASKS = ("arithmetic", "equations", "fractions")
CHECKPOINTS = "checkpoints"  # <model>/checkpoints/step-<NNNNNN>/: a trained model along its training


def zoo_folder(config: Mapping[str, Any]) -> str:
    """A run's mini-zoo folder (tasks, SFT bases, tuned models): its own, or the shared ``zoo_folder``.

    Two configs that name one zoo folder share its tasks and models: a model both configure alike
    (the same rule, the same command) is trained once.
    """
    return str(config.get("zoo_folder") or f"results/{config['run_name']}/zoo")


def checkpoint_steps(steps: int, every: int) -> tuple[int, ...]:
    """The steps a trainer saves at with ``checkpoint_every: every``: each k x every <= steps (k >= 1)."""
    return tuple(range(every, steps + 1, every)) if every > 0 else ()


def checkpoint_path(model: str | Path, step: int) -> str:
    """A checkpoint's folder inside its model's folder (six-digit step: they sort in training order)."""
    return f"{model}/{CHECKPOINTS}/step-{step:06d}"


# A zoo training step's rough cost relative to a continued-SFT step, by what it samples per question:
# a group (GRPO, RLOO), two answers (the DPOs), none (continued SFT). Measured job times per step:
# docs/benchmarks.md, "The controlled study at five seeds". Only the order it gives matters.
STEP_COST = {"grpo": 8, "rloo": 8, "online_dpo": 4, "dpo": 4, "continued_sft": 1}


def training_priority(spec: Mapping[str, Any]) -> int:
    """A zoo.rl model's Snakemake priority: its rough cost, so that the longest training starts first.

    Jobs that start in config order can leave one long job alone at the end of a run, a core idle
    beside it; longest-first puts the short jobs last. A spec without ``steps`` (the trainer's
    default) ranks by its algorithm alone.
    """
    return STEP_COST[spec["algorithm"]] * int(spec.get("steps", 1))


@dataclass(frozen=True)
class PairFacts:
    """What the claims and tables need to know of a pair besides its two models."""

    name: str
    algorithm: str
    online: bool
    ablation_of: str | None


@dataclass(frozen=True)
class Cell:
    """One cell of the analysis grid: a pair's dataset at one answer fraction α (as configured)."""

    pair: str
    dataset: str
    alpha: str


DYNAMICS_BASE = "base"  # the {run} of the base: step 0 of every run of a dynamics section
DYNAMICS_TABLES = ("dynamics_points", "dynamics_settings", "dynamics_effects")


@dataclass(frozen=True)
class DynamicsRun:
    """One trained run measured along its checkpoints: its model folder, its base's, the checkpoint steps."""

    name: str
    setting: str
    folder: str  # the trainer's directory output; the checkpoints live inside it
    base: str
    steps: tuple[int, ...]


@dataclass(frozen=True)
class DynamicsSetting:
    """Runs that differ only in their seed (e.g. GRPO at one temperature), drawn as one band."""

    name: str
    label: str
    runs: tuple[str, ...]
    control: bool


@dataclass(frozen=True)
class DynamicsContrast:
    """A difference between two settings at the last checkpoint (setting minus versus), over seeds."""

    name: str
    setting: str
    versus: str


@dataclass(frozen=True)
class RunPlan:
    """The effective config and everything derived from it that more than one stage uses."""

    config: Mapping[str, Any]
    pairs: dict[str, PairFacts]
    datasets: tuple[str, ...]
    alphas: tuple[str, ...]  # as the config writes them (str(alpha)): they name files
    models: dict[str, ConfiguredModel]  # distinct models by name (the {model} of generations/)
    model_of: dict[tuple[str, str], str]  # (pair, role) -> model name
    arms: tuple[Arm, ...] = ()
    contrasts: tuple[Contrast, ...] = ()
    ablations: dict[str, str] = field(default_factory=dict)  # pair -> the pair it varies
    dynamics_settings: dict[str, DynamicsSetting] = field(default_factory=dict)
    dynamics_runs: dict[str, DynamicsRun] = field(default_factory=dict)
    dynamics_contrasts: tuple[DynamicsContrast, ...] = ()
    audit: Audit | None = None  # the robustness audit's variants and faithfulness check, when configured

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RunPlan:
        """The plan of a validated config; a cross-reference the schema cannot check is a SettingsError."""
        pairs = {
            name: PairFacts(name, str(spec["algorithm"]), bool(spec["online"]), spec.get("ablation_of"))
            for name, spec in config["pairs"].items()
        }
        for pair in pairs.values():
            if pair.ablation_of is not None and pair.ablation_of not in set(pairs) - {pair.name}:
                raise SettingsError(
                    f"config pairs.{pair.name}.ablation_of: {pair.ablation_of!r} is not another pair"
                    f" ({', '.join(pairs)})"
                )
        zoo = config.get("zoo")
        if zoo:
            for name, spec in zoo["rl"].items():
                if spec["base"] not in zoo["sft"]:
                    raise SettingsError(
                        f"config zoo.rl.{name}.base: {spec['base']!r} is not an SFT model of zoo.sft"
                        f" ({', '.join(zoo['sft'])})"
                    )
        try:
            models = configured_models(config["pairs"])
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        arms, contrasts = arms_from_config(config) if config.get("study") else ([], [])
        settings, runs, dynamics_contrasts = _dynamics(config) if config.get("dynamics") else ({}, {}, ())
        return cls(
            config=config,
            pairs=pairs,
            datasets=tuple(config["datasets"]),
            alphas=tuple(str(alpha) for alpha in config["alphas"]),
            models=models,
            model_of=model_of(config["pairs"]),
            arms=tuple(arms),
            contrasts=tuple(contrasts),
            ablations={p.name: p.ablation_of for p in pairs.values() if p.ablation_of is not None},
            dynamics_settings=settings,
            dynamics_runs=runs,
            dynamics_contrasts=dynamics_contrasts,
            audit=audit_from_config(config),
        )

    @classmethod
    def from_file(cls, path: str | Path) -> RunPlan:
        """The plan of a finished run, from the effective config the workflow wrote beside its results."""
        try:
            config = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputFormatError(f"{path}: the run's effective config not found") from None
        except yaml.YAMLError as exc:
            raise InputFormatError(f"{path}: invalid YAML ({exc})") from None
        if not isinstance(config, Mapping):
            raise InputFormatError(f"{path}: not a run config (a mapping expected)")
        try:
            return cls.from_config(config)
        except KeyError as exc:
            raise InputFormatError(f"{path}: missing key {exc}") from None

    # --- the run's folders -------------------------------------------------------------------
    @property
    def run(self) -> str:
        return str(self.config["run_name"])

    @property
    def out(self) -> str:
        return f"results/{self.run}"

    @property
    def logs(self) -> str:
        return f"logs/{self.run}"

    @property
    def benchmarks(self) -> str:
        return f"benchmarks/{self.run}"

    @property
    def zoo_dir(self) -> str:
        return zoo_folder(self.config)

    # --- the grid -------------------------------------------------------------------------------
    def cells(self) -> Iterator[Cell]:
        """Every pair × dataset × α of the analysis, in config order."""
        for pair in self.pairs:
            for dataset in self.datasets:
                for alpha in self.alphas:
                    yield Cell(pair, dataset, alpha)

    def model_path(self, name: str) -> str:
        """Where a model's files live: its configured local folder, or its fetched Hub snapshot."""
        model = self.models[name]
        return model.model if model.local else self.fetched(name)

    def pair_model_path(self, pair: str, role: str) -> str:
        return self.model_path(self.model_of[pair, role])

    @property
    def shared_base_selection(self) -> bool:
        """selection.shared: base, one question set per base and dataset for every pair tuned from it."""
        return self.config.get("selection", {}).get("shared") == "base"

    def attributed_pair(self, pair: str, role: str) -> str:
        """The pair whose attribution files stand for ``pair``'s ``role``.

        With the selection shared by base, every pair of one base selects the same questions with the
        same T_cut (both chosen on the base alone), so the base's graphs are one computation: the first
        such pair in config order holds them and the others read its files. Otherwise, the pair itself.
        """
        if role != "base" or not self.shared_base_selection:
            return pair
        model = self.model_of[pair, "base"]
        return next(name for name in self.pairs if self.model_of[name, "base"] == model)

    def algorithm_labels(self) -> list[str]:
        """pair=algorithm labels of Table 1."""
        return [f"{pair.name}={pair.algorithm}" for pair in self.pairs.values()]

    def table4_cells(self) -> list[tuple[str, str, str, str]]:
        """(pair, role, dataset, graded file) of every Table 4 row: each role reads its model's file."""
        return [
            (pair, role, dataset, self.graded_file(pair, role, dataset))
            for pair in self.pairs
            for role in ROLES
            for dataset in self.datasets
        ]

    # --- paths: each takes wildcard values and, left out, gives the Snakemake pattern -------------
    @property
    def run_config(self) -> str:
        return f"{self.out}/{RUN_CONFIG}"

    @staticmethod
    def fetched(model: str = "{model}") -> str:
        """A Hub model's snapshot, fetched once for every run (outside results/<run>)."""
        return f"models/{model}"

    @property
    def preflight(self) -> str:
        return f"{self.out}/preflight.json"

    def generations(self, model: str = "{model}", dataset: str = "{dataset}") -> str:
        return f"{self.out}/generations/{model}/{dataset}.jsonl"

    def graded(self, model: str = "{model}", dataset: str = "{dataset}") -> str:
        return f"{self.out}/graded/{model}/{dataset}.jsonl"

    def graded_file(self, pair: str, role: str, dataset: str) -> str:
        """A pair's role reads its model's graded answers (graded once per model, docs/DESIGN.md §3)."""
        return self.graded(self.model_of[pair, role], dataset)

    def selection(self, pair: str = "{pair}", dataset: str = "{dataset}") -> str:
        return f"{self.out}/selection/{pair}/{dataset}.json"

    def attribution(
        self, pair: str = "{pair}", dataset: str = "{dataset}", alpha: str = "{alpha}", role: str = "{role}"
    ) -> str:
        return f"{self.out}/attribution/{pair}/{dataset}/alpha{alpha}/{role}.npz"

    def metrics(self, pair: str = "{pair}", dataset: str = "{dataset}", alpha: str = "{alpha}") -> str:
        return f"{self.out}/metrics/{pair}/{dataset}/alpha{alpha}.json"

    def metrics_files(self) -> list[str]:
        """The configured grid's metrics files, in grid order."""
        return [self.metrics(c.pair, c.dataset, c.alpha) for c in self.cells()]

    def table(self, name: str) -> str:
        return f"{self.out}/tables/{name}.csv"

    def figure(self, name: str, ext: str = "png") -> str:
        return f"{self.out}/figures/{name}.{ext}"

    @property
    def report(self) -> str:
        return f"{self.out}/report/index.html"

    def study_tables(self) -> list[str]:
        return [self.table(f"study_{name}") for name in STUDY_TABLES] if self.arms else []

    def study_figures(self) -> list[str]:
        if not self.arms:
            return []
        return [self.figure(f"study_{metric}", ext) for metric in STUDY_FIGURES for ext in ("svg", "png")]

    # --- the robustness audit: each added variant's own attribution, metrics and Table 1 ---------------
    def variant_attribution(
        self,
        variant: str = "{variant}",
        pair: str = "{pair}",
        dataset: str = "{dataset}",
        alpha: str = "{alpha}",
        role: str = "{role}",
    ) -> str:
        return f"{self.out}/audit/{variant}/attribution/{pair}/{dataset}/alpha{alpha}/{role}.npz"

    def variant_metrics(
        self, variant: str = "{variant}", pair: str = "{pair}", dataset: str = "{dataset}", alpha: str = "{alpha}"
    ) -> str:
        return f"{self.out}/audit/{variant}/metrics/{pair}/{dataset}/alpha{alpha}.json"

    def variant_metrics_files(self, variant: str) -> list[str]:
        """An added variant's metrics files over the configured grid, in grid order."""
        return [self.variant_metrics(variant, c.pair, c.dataset, c.alpha) for c in self.cells()]

    def variant_table1(self, variant: str = "{variant}") -> str:
        return f"{self.out}/audit/{variant}/table1.csv"

    def attribution_of(self, variant: Variant, pair: str, dataset: str, alpha: str, role: str) -> str:
        """A variant's attribution file: the default variant's is the run's own (its path unchanged)."""
        if self.audit is None or variant == self.audit.default:
            return self.attribution(pair, dataset, alpha, role)
        return self.variant_attribution(variant.name, pair, dataset, alpha, role)

    def table1_of(self, variant: Variant) -> str:
        if self.audit is None or variant == self.audit.default:
            return self.table("table1")
        return self.variant_table1(variant.name)

    def faithfulness(self, pair: str = "{pair}", dataset: str = "{dataset}", role: str = "{role}") -> str:
        return f"{self.out}/faithfulness/{pair}/{dataset}/{role}.json"

    def faithfulness_files(self) -> list[str]:
        """Every pair × dataset × role's faithfulness record; none without the audit's faithfulness check."""
        if self.audit is None or self.audit.faithfulness is None:
            return []
        files = (
            self.faithfulness(self.attributed_pair(p, r), d, r)
            for p in self.pairs
            for d in self.datasets
            for r in ROLES
        )
        return list(dict.fromkeys(files))

    def audit_files(self) -> list[str]:
        """What the report's Robustness section reads: each added variant's Table 1, the faithfulness
        records and figure; nothing without an audit section."""
        if self.audit is None:
            return []
        figure = [self.figure("faithfulness", ext) for ext in ("svg", "png")] if self.audit.faithfulness else []
        return [self.variant_table1(v.name) for v in self.audit.variants] + self.faithfulness_files() + figure

    def zoo_task(self, task: str = "{task}", split: str = "test") -> str:
        return f"{self.zoo_dir}/tasks/{task}_{split}.jsonl"

    def zoo_model(self, kind: str, name: str) -> str:
        """A mini-zoo model's folder: kind ``sft`` (a base) or ``rl`` (tuned from one)."""
        return f"{self.zoo_dir}/{kind}/{name}"

    def hub_rl_model(self, name: str = "{hub_run}") -> str:
        """A Hub model's GRPO run (config key ``hub_rl``): its final model, its checkpoints inside."""
        return f"{self.out}/hub_rl/{name}"

    # --- training dynamics: each run's checkpoints, measured on the base's question set -----------
    @property
    def dynamics_base(self) -> str:
        """The one base every dynamics run was tuned from (its step 0)."""
        return next(iter(self.dynamics_runs.values())).base

    def dynamics_points(self) -> list[tuple[str, int]]:
        """Every measured (run, step): the base once as step 0, then each run's checkpoints in order."""
        if not self.dynamics_runs:
            return []
        return [(DYNAMICS_BASE, 0)] + [(run.name, step) for run in self.dynamics_runs.values() for step in run.steps]

    def dynamics_model_folder(self, run: str) -> str:
        """What a checkpoint's jobs take as input: the folder a rule writes (the base's or the run's)."""
        return self.dynamics_base if run == DYNAMICS_BASE else self.dynamics_runs[run].folder

    def dynamics_model_path(self, run: str, step: int) -> str:
        """The model a (run, step) is: the base at step 0, else the checkpoint inside the run's folder."""
        return self.dynamics_base if run == DYNAMICS_BASE else checkpoint_path(self.dynamics_runs[run].folder, step)

    def _dynamics_dir(self, run: str, step: int | str) -> str:
        label = step if isinstance(step, str) else f"{step:06d}"
        return f"{self.out}/dynamics/{run}/step-{label}"

    def dynamics_generations(self, run: str = "{run}", step: int | str = "{step}", dataset: str = "{dataset}") -> str:
        return f"{self._dynamics_dir(run, step)}/generations/{dataset}.jsonl"

    def dynamics_graded(self, run: str = "{run}", step: int | str = "{step}", dataset: str = "{dataset}") -> str:
        return f"{self._dynamics_dir(run, step)}/graded/{dataset}.jsonl"

    def dynamics_selection(self, run: str = "{run}", step: int | str = "{step}", dataset: str = "{dataset}") -> str:
        """The base's question set with this model's own answers (select_samples.py --against-base)."""
        return f"{self._dynamics_dir(run, step)}/selection/{dataset}.json"

    def dynamics_attribution(
        self, run: str = "{run}", step: int | str = "{step}", dataset: str = "{dataset}", alpha: str = "{alpha}"
    ) -> str:
        return f"{self._dynamics_dir(run, step)}/attribution/{dataset}/alpha{alpha}.npz"

    def dynamics_metrics(
        self, run: str = "{run}", step: int | str = "{step}", dataset: str = "{dataset}", alpha: str = "{alpha}"
    ) -> str:
        """analyze.py's record of the base against this checkpoint."""
        return f"{self._dynamics_dir(run, step)}/metrics/{dataset}/alpha{alpha}.json"

    def dynamics_point(self, run: str = "{run}", step: int | str = "{step}", dataset: str = "{dataset}") -> str:
        """The checkpoint's accuracy and KL from the base (contracts.DynamicsPoint)."""
        return f"{self._dynamics_dir(run, step)}/point/{dataset}.json"

    @property
    def dynamics_datasets(self) -> tuple[str, ...]:
        return tuple(self.config["dynamics"]["datasets"]) if self.dynamics_runs else ()

    @property
    def dynamics_alphas(self) -> tuple[str, ...]:
        return tuple(str(alpha) for alpha in self.config["dynamics"]["alphas"]) if self.dynamics_runs else ()

    def dynamics_metrics_files(self) -> list[str]:
        """Every checkpoint's analyze record (the base at step 0 has none: it is each record's base)."""
        return [
            self.dynamics_metrics(run, step, dataset, alpha)
            for run, step in self.dynamics_points()[1:]
            for dataset in self.dynamics_datasets
            for alpha in self.dynamics_alphas
        ]

    def dynamics_point_files(self) -> list[str]:
        return [
            self.dynamics_point(run, step, dataset)
            for run, step in self.dynamics_points()
            for dataset in self.dynamics_datasets
        ]

    def dynamics_tables(self) -> list[str]:
        return [self.table(name) for name in DYNAMICS_TABLES] if self.dynamics_runs else []

    def dynamics_figures(self) -> list[str]:
        """Each metric and accuracy against step, each metric against KL, the last checkpoint's effects."""
        if not self.dynamics_runs:
            return []
        stems = [f"dynamics_{metric}_{axis}" for metric in METRICS for axis in ("step", "kl")]
        stems += ["dynamics_accuracy_step", "dynamics_kl_step", "dynamics_effects"]
        return [self.figure(stem, ext) for stem in stems for ext in ("svg", "png")]


def _dynamics(
    config: Mapping[str, Any],
) -> tuple[dict[str, DynamicsSetting], dict[str, DynamicsRun], tuple[DynamicsContrast, ...]]:
    """The dynamics section's settings, runs and contrasts; what the schema cannot check is a SettingsError."""
    section = config["dynamics"]
    zoo, folder = config.get("zoo") or {}, zoo_folder(config)
    settings: dict[str, DynamicsSetting] = {}
    runs: dict[str, DynamicsRun] = {}
    for name, spec in section["settings"].items():
        settings[name] = DynamicsSetting(name, str(spec["label"]), tuple(spec["runs"]), bool(spec.get("control")))
        for run in spec["runs"]:
            where = f"config dynamics.settings.{name}.runs: {run!r}"
            if run in runs:
                raise SettingsError(f"{where} is already a run of setting {runs[run].setting}")
            if run == DYNAMICS_BASE:
                raise SettingsError(f"{where}: the name {DYNAMICS_BASE!r} is the base's")
            hub = run in (config.get("hub_rl") or {}).get("runs", {})
            runs[run] = _hub_run(config, run, name) if hub else _zoo_run(zoo, folder, run, name, where)
    bases = sorted({run.base for run in runs.values()})
    if len(bases) != 1:
        raise SettingsError(f"config dynamics: every run must be tuned from one base, found {', '.join(bases)}")
    unknown = [d for d in section["datasets"] if d not in config["datasets"]]
    if unknown:
        raise SettingsError(f"config dynamics.datasets: {', '.join(unknown)} not under datasets")
    contrasts = []
    for contrast in section.get("contrasts", []):
        for key in ("setting", "versus"):
            if contrast[key] not in settings:
                raise SettingsError(
                    f"config dynamics.contrasts {contrast['name']!r}: {key} {contrast[key]!r} is not a setting"
                )
        contrasts.append(DynamicsContrast(str(contrast["name"]), contrast["setting"], contrast["versus"]))
    return settings, runs, tuple(contrasts)


def _hub_run(config: Mapping[str, Any], run: str, setting: str) -> DynamicsRun:
    """A dynamics run that is a hub_rl run: a Hub model tuned by rules/hub_rl.smk, its base fetched."""
    from rlcircuits.hub_rl import base_model, config_runs  # it imports this module's checkpoint layout

    steps = config_runs(config)[run].checkpoints
    if not steps:
        raise SettingsError(f"config hub_rl.runs.{run}: a dynamics run needs checkpoint_every > 0")
    base = RunPlan.fetched(base_model(config, configured_models(config["pairs"])))
    return DynamicsRun(run, setting, f"results/{config['run_name']}/hub_rl/{run}", base, steps)


def _zoo_run(zoo: Mapping[str, Any], folder: str, run: str, setting: str, where: str) -> DynamicsRun:
    """A dynamics run that is a zoo.rl model (a hub_rl run has its own lookup, _hub_run)."""
    trained = zoo.get("rl", {}).get(run)
    if trained is None:
        raise SettingsError(f"{where} is neither a model of zoo.rl nor a run of hub_rl")
    if not trained.get("checkpoint_every") or "steps" not in trained:
        raise SettingsError(f"config zoo.rl.{run}: a dynamics run needs steps and checkpoint_every > 0")
    steps = checkpoint_steps(int(trained["steps"]), int(trained["checkpoint_every"]))
    if not steps:
        raise SettingsError(f"config zoo.rl.{run}: checkpoint_every exceeds steps; no checkpoint")
    return DynamicsRun(run, setting, f"{folder}/rl/{run}", f"{folder}/sft/{trained['base']}", steps)


def retype_overrides(config: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    """Give ``config`` the typed values of nested ``--config`` overrides.

    Snakemake reads ``--config selection={n: 7}`` as ``{"n": "7"}``: every value below the top
    level is a string, which the schema then rejects. Each such string is read again as a YAML
    scalar (``"7"`` -> 7, ``"0.5"`` -> 0.5, ``"zoo"`` stays ``"zoo"``) and set in ``config``.
    """
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(config.get(key), dict):
            for inner, item in value.items():
                _retype(config[key], inner, item)


def _retype(target: dict[str, Any], key: str, value: Any) -> None:
    if isinstance(value, Mapping):
        nested = target.setdefault(key, {})
        for inner, item in value.items():
            _retype(nested, inner, item)
    elif isinstance(value, str):
        target[key] = yaml.safe_load(value) if value else value
    else:
        target[key] = value


def effective_config_text(config: Mapping[str, Any]) -> str:
    """The effective config as plain YAML, keys in config order (what results/<run>/config.yaml holds)."""
    return yaml.safe_dump(_plain(config), sort_keys=False, allow_unicode=True)


def write_run_config(text: str, path: str | Path, log: str | Path) -> None:
    """Write the effective config's text where the plan's readers find it (atomically), and say so in ``log``."""
    with atomic_output(path, "w") as handle:
        handle.write(text)
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    Path(log).write_text(f"wrote the effective config to {path}\n", encoding="utf-8")


def _plain(value: Any) -> Any:
    """Snakemake's config as plain dicts and lists, which safe_dump writes and safe_load reads back."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
