"""GRPO on a Hugging Face Hub model with TRL: the paper's training-dynamics setup, at full scale.

The camera-ready's training-dynamics appendix tunes Qwen2.5-3B-Instruct with TRL's GRPO on
GSM8K's train split (full fine-tuning) and measures the circuit metrics along its checkpoints.
``HubRLSettings``' defaults are the authors' settings (docs/DESIGN.md §1, "The paper-scale
training dynamics"): AdamW at 5e-6 with betas 0.9/0.99 and weight decay 0.1, 10% warm-up then
cosine decay, gradient norms clipped at 0.1, 8 completions for each of 4 prompts per step,
prompts up to 256 and completions up to 200 tokens, no KL term, 400 steps, a checkpoint every 10.

The prompt is the user turn ``USER_TURN`` rendered by the model's own chat template (TRL renders
it); a prompt longer than ``max_prompt_length`` tokens is left out of the training data and
counted, rather than cut. The reward is the project's grader (``binary``: 1 where the grade
stage would judge the answer correct, else 0) or the authors' graded scale (``graded``,
``graded_score``). The 8-bit AdamW of the authors' script needs bitsandbytes on CUDA and is an
option; plain AdamW is the default.

Everything the Snakefile needs (the settings, their validation, the runs of a config) imports
no torch; training imports TRL when it starts.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlcircuits.errors import ModelLoadError, SettingsError
from rlcircuits.model_names import DEFAULT_REVISION, ConfiguredModel
from rlcircuits.options import GRPO_LOSSES, OPTIMIZERS, REWARDS, GrpoLoss, Optimizer, Reward
from rlcircuits.run_plan import CHECKPOINTS, REVISION_FILE, checkpoint_path, checkpoint_steps

if TYPE_CHECKING:
    from rlcircuits.datasets import Question
    from rlcircuits.grading.pool import JudgePool

log = logging.getLogger(__name__)

# The authors' user turn, character for character; the chat template wraps it.
USER_TURN = "{question}\nPlease reason step by step, and put your final answer within \\boxed{}.\n\nAssistant:"
# transformers' names of the two optimisers.
_OPTIM = {"adamw": "adamw_torch", "adamw_8bit": "adamw_8bit"}
_GRADE_TIMEOUT = 10.0
_GRADE_WORKERS = 2
_CURVE_MEANING = {
    "binary": "mean reward (fraction of sampled answers graded correct)",
    "graded": "mean graded reward (3 math-equal, 1 string/exact match, 0.5/0.1 within 1%/5%, -0.5 other number)",
}


@dataclass(frozen=True)
class HubRLSettings:
    """Everything besides the base model and the data that decides a Hub-model GRPO run.

    ``prompts_per_step`` x ``generations`` completions per optimiser step (the authors: 32 as
    4 x 8). ``loss_type`` is pinned because TRL's default changed across releases; with one
    process and no accumulation ``bnpo`` normalises by the step's completion tokens, as ``dapo``
    does. ``save_dtype`` is the dtype checkpoints are written in (training keeps float32
    weights, with bfloat16 autocast on CUDA).
    """

    steps: int = 400
    prompts_per_step: int = 4
    generations: int = 8
    learning_rate: float = 5e-6
    adam_beta1: float = 0.9
    adam_beta2: float = 0.99
    weight_decay: float = 0.1
    warmup_ratio: float = 0.1
    max_grad_norm: float = 0.1
    beta: float = 0.0
    temperature: float = 1.0
    top_p: float = 1.0
    max_prompt_length: int = 256
    max_completion_length: int = 200
    reward: Reward = "binary"
    optimizer: Optimizer = "adamw"
    loss_type: GrpoLoss = "bnpo"
    checkpoint_every: int = 10
    gradient_checkpointing: bool = True
    save_dtype: str = "bfloat16"
    seed: int = 0

    def __post_init__(self) -> None:
        positive = ("steps", "prompts_per_step", "max_prompt_length", "max_completion_length")
        for name in positive:
            if getattr(self, name) < 1:
                raise SettingsError(f"hub_rl setting {name} must be at least 1, got {getattr(self, name)}")
        if self.generations < 2:
            raise SettingsError(f"hub_rl setting generations must be at least 2 (a group), got {self.generations}")
        if self.reward not in REWARDS:
            raise SettingsError(f"hub_rl setting reward: {self.reward!r}; choose one of {', '.join(REWARDS)}")
        if self.optimizer not in OPTIMIZERS:
            raise SettingsError(f"hub_rl setting optimizer: {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        if self.loss_type not in GRPO_LOSSES:
            raise SettingsError(f"hub_rl setting loss_type: {self.loss_type!r}; choose one of {', '.join(GRPO_LOSSES)}")
        if self.save_dtype not in ("float32", "bfloat16"):
            raise SettingsError(f"hub_rl setting save_dtype: {self.save_dtype!r}; choose float32 or bfloat16")
        rates = (self.learning_rate, self.temperature)
        if not all(value > 0 for value in rates) or not 0 < self.top_p <= 1 or self.beta < 0:
            raise SettingsError(f"hub_rl settings: learning rate, temperature and top_p must be positive: {self}")
        if not 0 <= self.warmup_ratio <= 1 or self.weight_decay < 0 or not self.max_grad_norm > 0:
            raise SettingsError(f"hub_rl settings: invalid warm-up, weight decay or clip: {self}")
        if self.checkpoint_every < 0:
            raise SettingsError(
                f"hub_rl setting checkpoint_every must be 0 (none) or more, got {self.checkpoint_every}"
            )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: str) -> HubRLSettings:
        """Settings from a config mapping; an unknown key is a SettingsError naming ``where``."""
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SettingsError(f"config {where}: unknown setting(s) {', '.join(unknown)}")
        return cls(**values)

    @property
    def checkpoints(self) -> tuple[int, ...]:
        return checkpoint_steps(self.steps, self.checkpoint_every)

    def flags(self) -> str:
        """Every setting as scripts/train_hub_rl.py's options, so a job's command line states its whole run."""
        return " ".join(
            f"--{field.name.replace('_', '-')} {str(value).lower() if isinstance(value, bool) else value}"
            for field in fields(self)
            for value in [getattr(self, field.name)]
        )


def config_runs(config: Mapping[str, Any]) -> dict[str, HubRLSettings]:
    """Each run of ``config['hub_rl']`` by name: the shared ``settings`` with the run's own on top."""
    section = config["hub_rl"]
    shared = dict(section.get("settings") or {})
    return {
        name: HubRLSettings.from_mapping({**shared, **(own or {})}, f"hub_rl.runs.{name}")
        for name, own in section["runs"].items()
    }


def base_model(config: Mapping[str, Any], models: Mapping[str, ConfiguredModel]) -> str:
    """The name (``{model}``) of ``hub_rl.base`` among the pairs' models, which the fetch rule fetches.

    The tuned model is a pair's base, compared with each run's final model; so it must be one.
    """
    spec = config["hub_rl"]["base"]
    wanted = (spec["model"], spec.get("revision", DEFAULT_REVISION))
    for name, model in models.items():
        if (model.model, model.revision) == wanted:
            return name
    raise SettingsError(
        f"config hub_rl.base: {wanted[0]}@{wanted[1]} is no model of any pair; name it as a pair's base"
        " (at the same revision), so that the workflow fetches it"
    )


def check_optimizer(optimizer: Optimizer) -> None:
    """The 8-bit AdamW needs bitsandbytes and a CUDA device; say so before any model loads."""
    if optimizer != "adamw_8bit":
        return
    import torch

    if not torch.cuda.is_available() or importlib.util.find_spec("bitsandbytes") is None:
        raise SettingsError(
            "hub_rl setting optimizer: adamw_8bit needs bitsandbytes and a CUDA device"
            f" (CUDA available: {torch.cuda.is_available()},"
            f" bitsandbytes installed: {importlib.util.find_spec('bitsandbytes') is not None}); use optimizer: adamw"
        )


# --- the reward --------------------------------------------------------------------------------


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def graded_score(pred: str | None, gold: str, equivalent: bool) -> float:
    """The authors' graded reward of one extracted answer ``pred`` against ``gold``.

    3 when the grader judges it equal (``equivalent``); else 1 when the two strings agree once
    ``$`` and thousands commas are dropped, or both are numbers within 1e-8; else, for two
    numbers at relative error r = |pred - gold| / |gold|: 0.5 for r <= 1%, 0.1 for r <= 5%,
    -0.5 beyond; 0 when there is no answer or either side is not a number.
    """
    if pred is None or not pred.strip():
        return 0.0
    if equivalent:
        return 3.0
    plain_pred, plain_gold = (text.replace("$", "").replace(",", "").strip() for text in (pred, gold))
    if plain_pred == plain_gold:
        return 1.0
    guess, truth = _number(plain_pred), _number(plain_gold)
    if guess is None or truth is None:
        return 0.0
    if abs(guess - truth) < 1e-8:
        return 1.0
    relative = abs(guess - truth) / (abs(truth) + 1e-12)
    return 0.5 if relative <= 0.01 else 0.1 if relative <= 0.05 else -0.5


def completion_text(completion: str | Sequence[Mapping[str, str]]) -> str:
    """A TRL completion as text: a conversational completion is a list of one assistant message."""
    if isinstance(completion, str):
        return completion
    return "".join(message["content"] for message in completion)


def reward_function(kind: Reward, pool: JudgePool) -> Callable[..., list[float]]:
    """TRL reward function: the grade stage's verdict on each completion, as 1/0 or graded."""
    from rlcircuits.grading.records import grade_records

    def reward(completions: Sequence[Any], gold: Sequence[str], **_: Any) -> list[float]:
        records = [
            {"id": f"sample-{index}", "answer": completion_text(completion), "gold": truth}
            for index, (completion, truth) in enumerate(zip(completions, gold, strict=True))
        ]
        graded = grade_records(records, pool)
        if kind == "binary":
            return [float(record["correct"]) for record in graded]
        return [graded_score(record["pred"], record["gold"], record["correct"]) for record in graded]

    reward.__name__ = f"{kind}_reward"
    return reward


# --- the data ------------------------------------------------------------------------------------


def user_turn(question: str) -> str:
    return USER_TURN.replace("{question}", question)


def prompt_rows(
    questions: Sequence[Question], tokenizer: Any, max_prompt_length: int, template: str | None = None
) -> tuple[list[dict[str, Any]], int]:
    """TRL's conversational rows (prompt, gold) of the questions whose rendered prompt fits, and how many did not.

    With ``template`` (a name of ``rlcircuits.prompts``), the model's chat template must render the
    first question exactly as that template does, since the analysis stages prompt with it.
    """
    from rlcircuits.prompts import get_template

    if not getattr(tokenizer, "chat_template", None):
        raise ModelLoadError(f"{tokenizer.name_or_path}: the tokenizer has no chat template to render the prompt with")
    rows, dropped = [], 0
    for index, question in enumerate(questions):
        messages = [{"role": "user", "content": user_turn(question.question)}]
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        if index == 0 and template is not None and text != get_template(template).render(question.question):
            raise SettingsError(
                f"{tokenizer.name_or_path}: its chat template renders the prompt as {text!r}, not as template"
                f" {template!r} does ({get_template(template).render(question.question)!r})"
            )
        if len(tokenizer(text, add_special_tokens=False)["input_ids"]) > max_prompt_length:
            dropped += 1
            continue
        rows.append({"prompt": messages, "gold": question.gold})
    if not rows:
        raise SettingsError(f"no train question's prompt fits max_prompt_length={max_prompt_length} tokens")
    return rows, dropped


# --- training ------------------------------------------------------------------------------------


def _revision_of(base: Path) -> dict[str, Any] | None:
    path = base / REVISION_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _write_model(model: Any, tokenizer: Any, folder: Path, record: Mapping[str, Any], curve: Any, dtype: str) -> None:
    """A model folder's files: weights in ``dtype``, config, tokenizer, training record and curve."""
    import torch

    from rlcircuits.contracts import TRAINING_CURVE, write_training_curve
    from rlcircuits.zoo.training import METADATA

    target = getattr(torch, dtype)
    training_cache, model.config.use_cache = model.config.use_cache, True  # TRL turns it off; generation wants it
    try:
        model.save_pretrained(
            folder, state_dict={name: t.detach().to(target) for name, t in model.state_dict().items()}
        )
    finally:
        model.config.use_cache = training_cache
    tokenizer.save_pretrained(folder)
    (folder / METADATA).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    write_training_curve(folder / TRAINING_CURVE, curve)


def train_hub_rl(
    base: str | Path,
    questions: Sequence[Question],
    settings: HubRLSettings,
    out: str | Path,
    *,
    data: str,
    template: str | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Tune the model folder ``base`` with GRPO on ``questions`` and save it (and its checkpoints) to ``out``.

    Checkpoints are written as training passes them, into a progress folder beside ``out``, and
    moved into ``out`` with the final model, which appears only when the run is complete.
    """
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback, set_seed
    from trl import GRPOConfig, GRPOTrainer

    from rlcircuits.files import atomic_folder
    from rlcircuits.grading.pool import JudgePool
    from rlcircuits.models import load_model, load_tokenizer
    from rlcircuits.zoo.rl import curve_window
    from rlcircuits.zoo.training import training_curve

    check_optimizer(settings.optimizer)
    base, out = Path(base), Path(out)
    cuda = torch.cuda.is_available()
    if threads is not None:
        torch.set_num_threads(threads)
    set_seed(settings.seed)
    tokenizer = load_tokenizer(str(base))
    rows, dropped = prompt_rows(questions, tokenizer, settings.max_prompt_length, template)
    record: dict[str, Any] = {
        "stage": "hub_grpo",
        "base": str(base),
        "base_revision": _revision_of(base),
        "settings": asdict(settings),
        "train": data,
        "train_questions": len(rows),
        "dropped_long_prompts": dropped,
    }
    log.info("GRPO on %s: %d train questions (%d prompts too long, left out)", base, len(rows), dropped)
    model = load_model(str(base), dtype="float32")
    model.requires_grad_(True)
    model.train()
    progress = out.parent / f".{out.name}.partial"
    shutil.rmtree(progress, ignore_errors=True)
    meaning = _CURVE_MEANING[settings.reward]
    due = set(settings.checkpoints)

    class Checkpoints(TrainerCallback):
        """Save a checkpoint once its step's metrics are logged (so its curve includes that step)."""

        def on_log(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
            step = state.global_step
            if step in due:
                due.discard(step)
                curve = training_curve(state.log_history, "reward", meaning)
                with atomic_folder(checkpoint_path(progress, step)) as folder:
                    _write_model(model, tokenizer, folder, {**record, "step": step}, curve, settings.save_dtype)
                log.info("checkpoint at step %d", step)

    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="hub-grpo-") as scratch,
        JudgePool(workers=_GRADE_WORKERS, timeout=_GRADE_TIMEOUT) as pool,
    ):
        args = GRPOConfig(
            output_dir=scratch,
            max_steps=settings.steps,
            per_device_train_batch_size=settings.prompts_per_step * settings.generations,
            gradient_accumulation_steps=1,
            num_generations=settings.generations,
            max_completion_length=settings.max_completion_length,
            learning_rate=settings.learning_rate,
            adam_beta1=settings.adam_beta1,
            adam_beta2=settings.adam_beta2,
            weight_decay=settings.weight_decay,
            lr_scheduler_type="cosine",
            warmup_steps=int(settings.warmup_ratio * settings.steps),
            max_grad_norm=settings.max_grad_norm,
            optim=_OPTIM[settings.optimizer],
            beta=settings.beta,
            temperature=settings.temperature,
            top_p=settings.top_p,
            loss_type=settings.loss_type,
            gradient_checkpointing=settings.gradient_checkpointing,
            seed=settings.seed,
            data_seed=settings.seed,
            bf16=cuda,
            use_cpu=not cuda,
            save_strategy="no",
            report_to="none",
            logging_steps=1,
            dataloader_num_workers=0,
        )
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=reward_function(settings.reward, pool),
            args=args,
            train_dataset=Dataset.from_list(rows),
            processing_class=tokenizer,
            callbacks=[Checkpoints()],
        )
        trainer.train()
    model.requires_grad_(False)
    curve = training_curve(trainer.state.log_history, "reward", meaning)
    record.update(step=settings.steps, **curve_window(curve.values))
    with atomic_folder(out) as folder:
        _write_model(model, tokenizer, folder, record, curve, settings.save_dtype)
        if (progress / CHECKPOINTS).is_dir():
            (progress / CHECKPOINTS).rename(folder / CHECKPOINTS)
    shutil.rmtree(progress, ignore_errors=True)
    log.info("GRPO done in %.1f s: %s", time.perf_counter() - started, out)
    return record
