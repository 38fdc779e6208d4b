"""Tuning a zoo SFT base with TRL: GRPO, RLOO, offline DPO and online DPO.

The reward is the real grader's verdict (``rlcircuits.grading.records.grade_records``: the same answer
extraction and math-verify judgement, in killable worker processes kept for the whole run) on
the answer as the generate stage would record it: the completion cut at the zoo template's
first stop string.

* ``grpo``: TRL's GRPOTrainer, group-normalised advantages over ``generations`` samples per prompt.
* ``rloo``: TRL's RLOOTrainer, leave-one-out baseline (the online algorithm that stands in for
  PPO: TRL has no PPO trainer).
  Both run as ``rlcircuits.zoo.fast_rl``'s subclasses: TRL's objective and random draws, each
  group's prompt computed once and no work on padding or on finished samples.
* ``dpo``: offline. Pairs are sampled *once* from the SFT base: ``generations`` samples at
  ``temperature`` for each of ``steps x prompts_per_step`` train questions (a seeded draw: as
  many questions as online DPO visits). A question with at least one correct and one wrong
  sample gives one pair (chosen: its first correct sample, rejected: its first wrong one), and
  TRL's DPOTrainer trains ``steps`` steps of ``prompts_per_step`` pairs on those fixed pairs.
* ``online_dpo``: TRL's experimental OnlineDPOTrainer: two fresh samples per prompt at every
  step, the one the grader scores higher is chosen (ties keep the first sample as chosen, as
  TRL does). Same base, data, beta and step count as ``dpo``, so online versus offline sampling
  is the only difference. It runs as ``rlcircuits.zoo.fast_online_dpo``'s subclass: TRL's loss and
  random draws, each prompt computed once for both of its samples.
* ``continued_sft``: the controlled study's no-RL control: TRL's SFTTrainer goes on training the
  base on the train questions' worked solutions, ``steps`` steps of ``prompts_per_step``
  questions at the same learning rate and schedule as the RL arms. It separates what RL does
  from what any more training does.

Every trainer sees prompt and completion as the generate stage does: BOS, the prompt's
characters, the answer's characters, EOS. GRPO, RLOO and DPO add the BOS themselves; online DPO
tokenises prompts without special tokens, so its prompts carry the BOS as text.
"""

from __future__ import annotations

import copy
import logging
import os
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rlcircuits.errors import ModelLoadError, SettingsError
from rlcircuits.generation.stopping import cut_at_stop
from rlcircuits.grading.pool import JudgePool
from rlcircuits.grading.records import grade_records
from rlcircuits.models import load_model
from rlcircuits.options import ALGORITHMS, Algorithm
from rlcircuits.prompts import get_template
from rlcircuits.run_plan import CHECKPOINTS, checkpoint_path, checkpoint_steps
from rlcircuits.zoo import TEMPLATE
from rlcircuits.zoo.tasks import Task
from rlcircuits.zoo.tokenizer import build_tokenizer
from rlcircuits.zoo.training import (
    MAX_POSITIONS,
    METADATA,
    deterministic,
    prompt,
    read_train_files,
    save_model,
    sft_rows,
    small_vocabulary_tiles,
    trainer_arguments,
    training_curve,
)

log = logging.getLogger(__name__)

# Per-answer limit of the reward's grading (an answer that hangs sympy counts as wrong).
GRADE_TIMEOUT = 10.0
# What each trainer's saved curve follows: TRL's log key and its meaning.
CURVES = {
    "grpo": ("reward", "mean reward (fraction of sampled answers graded correct)"),
    "rloo": ("reward", "mean reward (fraction of sampled answers graded correct)"),
    "online_dpo": ("objective/scores", "mean reward (fraction of sampled answers graded correct)"),
    "dpo": ("rewards/margins", "DPO reward margin: beta x (chosen - rejected) log-ratio to the base"),
    "continued_sft": ("loss", "mean cross-entropy of the completion tokens (nats/token)"),
}
# Batches of the one-off sampling of offline DPO's pairs (prompts x samples rows each).
_SAMPLING_ROWS = 256


@dataclass(frozen=True)
class RLSettings:
    """Everything besides the base and data that decides an RL model's weights.

    ``prompts_per_step`` questions per optimiser step; ``generations`` samples per question
    (GRPO/RLOO's group, offline DPO's one-off samples; online DPO always draws two).
    """

    steps: int = 120
    prompts_per_step: int = 8
    generations: int = 8
    learning_rate: float = 3e-5
    beta: float = 0.05
    temperature: float = 0.7
    max_completion_length: int = 64
    warmup_ratio: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.steps, self.prompts_per_step, self.max_completion_length) < 1 or self.generations < 2:
            raise SettingsError(f"invalid RL settings (generations must be at least 2): {self}")
        if not self.learning_rate > 0 or self.beta < 0 or not self.temperature > 0 or not 0 <= self.warmup_ratio <= 1:
            raise SettingsError(f"invalid RL settings: {self}")


def answer_text(completion: str) -> str:
    """A sampled completion as the generate stage records an answer: cut at the first stop string."""
    return cut_at_stop(completion, get_template(TEMPLATE).stop)


def grade_answers(answers: Sequence[str], golds: Sequence[str], pool: JudgePool) -> list[bool]:
    """The grade stage's verdict on each answer against its gold."""
    records = [
        {"id": f"sample-{i}", "answer": answer, "gold": gold}
        for i, (answer, gold) in enumerate(zip(answers, golds, strict=True))
    ]
    return [record["correct"] for record in grade_records(records, pool)]


def correctness_reward(pool: JudgePool) -> Callable[..., list[float]]:
    """TRL reward function: 1.0 where the grader judges the answer correct, else 0.0."""

    def correctness_reward(completions: Sequence[str], gold: Sequence[str], **_: Any) -> list[float]:
        return [float(correct) for correct in grade_answers([answer_text(text) for text in completions], gold, pool)]

    return correctness_reward


def prompt_rows(tasks: Sequence[Task], *, bos_text: bool = False) -> list[dict[str, str]]:
    """One row per task: the prompt (with BOS as text for trainers that add no special tokens) and the gold."""
    prefix = build_tokenizer().bos_token if bos_text else ""
    return [{"prompt": prefix + prompt(task.question), "gold": task.gold} for task in tasks]


def sample_answers(model: Any, tokenizer: Any, prompts: Sequence[str], settings: RLSettings) -> list[list[str]]:
    """``settings.generations`` sampled answers per prompt (cut at the stop strings), in order.

    Drawn as ``model.generate(num_return_sequences=generations)`` draws them (same random stream),
    by ``fast_rl.sample_completions``: each prompt prefilled once, finished rows left out.
    """
    from transformers import GenerationConfig

    from rlcircuits.zoo.fast_rl import sample_completions

    config = GenerationConfig(
        do_sample=True,
        temperature=settings.temperature,
        top_k=0,
        top_p=1.0,
        max_new_tokens=settings.max_completion_length,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    per_batch = max(_SAMPLING_ROWS // settings.generations, 1)
    answers: list[list[str]] = []
    for start in range(0, len(prompts), per_batch):
        ids = tokenizer(list(prompts[start : start + per_batch]))["input_ids"]
        rows = [prompt_ids for prompt_ids in ids for _ in range(settings.generations)]
        completions = sample_completions(model, rows, config, [tokenizer.eos_token_id])
        texts = tokenizer.batch_decode(completions, skip_special_tokens=True)
        answers += [
            [answer_text(text) for text in texts[i : i + settings.generations]]
            for i in range(0, len(texts), settings.generations)
        ]
    return answers


def preference_pairs(
    model: Any, tokenizer: Any, tasks: Sequence[Task], settings: RLSettings, pool: JudgePool
) -> list[dict[str, str]]:
    """Offline DPO's pairs, sampled once from ``model``: (prompt, first correct, first wrong answer)."""
    visited = settings.steps * settings.prompts_per_step
    tasks = random.Random(settings.seed).sample(list(tasks), min(visited, len(tasks)))
    prompts = [prompt(task.question) for task in tasks]
    pairs = []
    sampled = sample_answers(model, tokenizer, prompts, settings)
    golds = [task.gold for task in tasks for _ in range(settings.generations)]
    flat = grade_answers([answer for answers in sampled for answer in answers], golds, pool)
    for index, (text, answers) in enumerate(zip(prompts, sampled, strict=True)):
        verdicts = flat[index * settings.generations : (index + 1) * settings.generations]
        if any(verdicts) and not all(verdicts):
            pairs.append(
                {
                    "prompt": text,
                    "chosen": answers[verdicts.index(True)],
                    "rejected": answers[verdicts.index(False)],
                }
            )
    if not pairs:
        raise SettingsError("no train question got both a correct and a wrong sample; no preference pairs for DPO")
    return pairs


def curve_window(values: Sequence[float]) -> dict[str, float]:
    """Mean of the curve's first and last tenth (at least one step): one step's batch is noisy."""
    width = max(len(values) // 10, 1)
    return {"curve_first": sum(values[:width]) / width, "curve_last": sum(values[-width:]) / width}


def checkpoint_saver(algorithm: Algorithm, every: int, folder: Path, record: dict[str, Any]) -> Any:
    """A trainer callback that saves the model every ``every`` steps as an ordinary zoo model folder.

    It acts on the step's log (the trainers log every step, after the optimiser step), so a
    checkpoint's curve ends at its own step. It saves a copy: the live model's config is left as
    the trainer set it, so checkpointing cannot change the training run.
    """
    from transformers import TrainerCallback

    metric, meaning = CURVES[algorithm]

    class SaveCheckpoints(TrainerCallback):
        def on_log(self, args, state, control, model=None, logs=None, **kwargs) -> None:
            step = state.global_step
            path = Path(checkpoint_path(folder, step))
            if step % every or metric not in (logs or {}) or path.exists():
                return
            curve = training_curve(state.log_history, metric, meaning)
            snapshot = copy.deepcopy(model)
            snapshot.requires_grad_(False)
            save_model(snapshot, path, {**record, **curve_window(curve.values), "step": step}, curve)
            log.info("checkpoint at step %d: %s", step, path)

    return SaveCheckpoints()


def _online_trainer(
    algorithm: Algorithm,
    model: Any,
    tokenizer: Any,
    tasks: Sequence[Task],
    settings: RLSettings,
    scratch: Path,
    pool: JudgePool,
    *,
    fast: bool = True,
):
    """The online trainer; ``fast=False`` gives TRL's own classes (the benchmark's reference)."""
    from datasets import Dataset

    common = trainer_arguments(scratch, settings, settings.steps, settings.prompts_per_step)
    # Plain sampling at the set temperature (no top-k/top-p truncation), KL or DPO beta.
    sampling = dict(temperature=settings.temperature, top_k=0, top_p=1.0, beta=settings.beta)
    if algorithm in ("grpo", "rloo"):
        from trl import GRPOConfig, GRPOTrainer, RLOOConfig, RLOOTrainer

        from rlcircuits.zoo.fast_rl import FastGRPOTrainer, FastRLOOTrainer

        classes = {
            "grpo": (GRPOConfig, FastGRPOTrainer, GRPOTrainer),
            "rloo": (RLOOConfig, FastRLOOTrainer, RLOOTrainer),
        }
        config_class, fast_class, trl_class = classes[algorithm]
        trainer_class = fast_class if fast else trl_class
        args = config_class(
            **{**common, "per_device_train_batch_size": settings.prompts_per_step * settings.generations},
            num_generations=settings.generations,
            max_completion_length=settings.max_completion_length,
            **sampling,
        )
        return trainer_class(
            model=model,
            reward_funcs=correctness_reward(pool),
            args=args,
            train_dataset=Dataset.from_list(prompt_rows(tasks)),
            processing_class=tokenizer,
        )
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    from trl.experimental.online_dpo import OnlineDPOConfig, OnlineDPOTrainer

    from rlcircuits.zoo.fast_online_dpo import FastOnlineDPOTrainer

    args = OnlineDPOConfig(
        **common,
        max_new_tokens=settings.max_completion_length,
        max_length=MAX_POSITIONS,
        **sampling,
    )
    return (FastOnlineDPOTrainer if fast else OnlineDPOTrainer)(
        model=model,
        reward_funcs=correctness_reward(pool),
        args=args,
        train_dataset=Dataset.from_list(prompt_rows(tasks, bos_text=True)),
        processing_class=tokenizer,
    )


def _dpo_trainer(model: Any, tokenizer: Any, pairs: Sequence[dict[str, str]], settings: RLSettings, scratch: Path):
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    args = DPOConfig(
        **trainer_arguments(scratch, settings, settings.steps, settings.prompts_per_step),
        beta=settings.beta,
        max_length=MAX_POSITIONS,
    )
    return DPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(list(pairs)), processing_class=tokenizer)


def _continued_sft_trainer(model: Any, tokenizer: Any, tasks: Sequence[Task], settings: RLSettings, scratch: Path):
    """More SFT on the worked solutions (no practice lines): the RL arms' questions, steps, rate and schedule."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(
        **trainer_arguments(scratch, settings, settings.steps, settings.prompts_per_step),
        max_length=MAX_POSITIONS,
        completion_only_loss=True,
        dataset_num_proc=None,
    )
    rows = sft_rows(tasks, practice=0, seed=settings.seed)
    return SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)


def train_rl(
    algorithm: Algorithm,
    base: str | Path,
    train_files: Sequence[str | Path],
    settings: RLSettings,
    out: str | Path,
    *,
    threads: int = 1,
    checkpoint_every: int = 0,
) -> dict[str, Any]:
    """Tune the SFT model in ``base`` with ``algorithm`` and save it to ``out``; returns the run's record.

    ``checkpoint_every`` > 0 also saves the model every that many steps into ``out``'s
    checkpoints folder (run_plan.checkpoint_path); it does not change the weights trained.
    """
    if algorithm not in ALGORITHMS:
        raise SettingsError(f"unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}")
    if algorithm in ("dpo", "online_dpo") and not settings.beta > 0:
        raise SettingsError(
            f"{algorithm} needs beta > 0 (the DPO loss scales the log-ratios by it), got {settings.beta}"
        )
    if not (Path(base) / METADATA).is_file():
        raise ModelLoadError(f"{base}: not a zoo model folder (no {METADATA})")
    tasks = read_train_files(train_files)
    deterministic(settings.seed, threads)
    tokenizer = build_tokenizer()
    small_vocabulary_tiles(len(tokenizer))
    model = load_model(str(base), dtype="float32")
    model.requires_grad_(True)
    started = time.perf_counter()
    record: dict[str, Any] = {
        "stage": algorithm,
        "base": str(base),
        "settings": asdict(settings),
        "train_files": [str(path) for path in train_files],
        "train_tasks": len(tasks),
    }
    if checkpoint_every < 0:
        raise SettingsError(f"checkpoint_every must be >= 0 (0: no checkpoints), got {checkpoint_every}")
    with (
        tempfile.TemporaryDirectory(prefix=f"zoo-{algorithm}-") as scratch,
        tempfile.TemporaryDirectory(prefix=f"zoo-{algorithm}-checkpoints-") as staged,
        JudgePool(workers=1, timeout=GRADE_TIMEOUT) as pool,
    ):
        if algorithm == "dpo":
            pairs = preference_pairs(model, tokenizer, tasks, settings, pool)
            record["preference_pairs"] = len(pairs)
            log.info("DPO: %d preference pairs sampled in %.1f s", len(pairs), time.perf_counter() - started)
            trainer = _dpo_trainer(model, tokenizer, pairs, settings, Path(scratch))
        elif algorithm == "continued_sft":
            trainer = _continued_sft_trainer(model, tokenizer, tasks, settings, Path(scratch))
        else:
            trainer = _online_trainer(algorithm, model, tokenizer, tasks, settings, Path(scratch), pool)
        if checkpoint_every:
            trainer.add_callback(checkpoint_saver(algorithm, checkpoint_every, Path(staged), dict(record)))
        trainer.train()
        model.requires_grad_(False)
        curve = training_curve(trainer.state.log_history, *CURVES[algorithm])
        record.update(curve_window(curve.values))
        expected = checkpoint_steps(settings.steps, checkpoint_every)
        missing = [step for step in expected if not Path(checkpoint_path(staged, step)).is_dir()]
        if missing:
            raise SettingsError(
                f"{out}: the trainer logged no {CURVES[algorithm][0]!r} at steps {missing}; no checkpoint"
            )
        save_model(model, out, record, curve, checkpoints=Path(staged) / CHECKPOINTS if expected else None)
    log.info("%s done in %.1f s: %s", algorithm, time.perf_counter() - started, out)
    return record
