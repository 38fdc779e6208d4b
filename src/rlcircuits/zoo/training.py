"""Training the zoo's SFT bases with TRL, and what every zoo training run shares.

An SFT base is a freshly initialised Llama, Mistral or Qwen2 decoder (float32, tied embeddings)
trained with TRL's ``SFTTrainer`` on prompt-completion pairs: the zoo template's prompt, and the
worked solution plus EOS as the completion (loss on the completion only). Worked solutions are
mixed with *practice* lines, ten bare facts each (``7+5=12. 36/4=9. …``): a fact costs a few
tokens there against a whole word problem, which is what lets a two-layer model learn its
tables in minutes on one CPU core.

Runs are reproducible: one thread, deterministic algorithms, every seed fixed, so retraining
with the same settings gives identical weights. A model folder (config, safetensors, tokenizer,
``zoo_training.json``) is written beside its destination and renamed into place
(``files.atomic_folder``), so a killed run leaves no folder that looks complete.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import LlamaConfig, MistralConfig, PretrainedConfig, PreTrainedModel, Qwen2Config

from rlcircuits.contracts import TRAINING_CURVE, TrainingCurve, write_training_curve
from rlcircuits.errors import InputFormatError, SettingsError
from rlcircuits.files import atomic_folder
from rlcircuits.options import ARCHITECTURES, Architecture
from rlcircuits.prompts import render_prompt
from rlcircuits.run_plan import CHECKPOINTS
from rlcircuits.zoo import TEMPLATE
from rlcircuits.zoo.tasks import Task, read_tasks
from rlcircuits.zoo.tokenizer import BOS, EOS, PAD, build_tokenizer, save_tokenizer

log = logging.getLogger(__name__)

# Longest prompt plus answer the zoo needs, with room to spare (positions cost no parameters).
MAX_POSITIONS = 512
METADATA = "zoo_training.json"
PRACTICE_QUESTION = "Practice."
_FACTS_PER_PRACTICE_LINE = 10


@dataclass(frozen=True)
class ModelShape:
    """A zoo decoder's architecture and size."""

    architecture: Architecture
    layers: int = 2
    hidden: int = 96
    heads: int = 8
    kv_heads: int = 8
    intermediate: int = 288

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise SettingsError(f"unknown architecture {self.architecture!r}; choose one of {', '.join(ARCHITECTURES)}")
        if min(self.layers, self.hidden, self.heads, self.kv_heads, self.intermediate) < 1:
            raise SettingsError(f"model sizes must be positive: {self}")
        if self.hidden % self.heads or self.heads % self.kv_heads:
            raise SettingsError(
                f"hidden ({self.hidden}) must divide by heads ({self.heads}), heads by kv_heads ({self.kv_heads})"
            )

    def config(self, vocab_size: int, special_ids: Mapping[str, int]) -> PretrainedConfig:
        common: dict[str, Any] = dict(
            vocab_size=vocab_size,
            hidden_size=self.hidden,
            intermediate_size=self.intermediate,
            num_hidden_layers=self.layers,
            num_attention_heads=self.heads,
            num_key_value_heads=self.kv_heads,
            max_position_embeddings=MAX_POSITIONS,
            tie_word_embeddings=True,
            **special_ids,
        )
        if self.architecture == "llama":
            return LlamaConfig(**common)
        if self.architecture == "mistral":
            return MistralConfig(sliding_window=None, **common)
        return Qwen2Config(use_sliding_window=False, **common)


@dataclass(frozen=True)
class SFTSettings:
    """Everything besides the shape and data that decides an SFT base's weights."""

    steps: int = 850
    batch_size: int = 32
    learning_rate: float = 3e-3
    warmup_ratio: float = 0.05
    adam_beta2: float = 0.98
    practice: int = 3000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.practice < 0 or not self.learning_rate > 0:
            raise SettingsError(f"invalid SFT settings: {self}")


def deterministic(seed: int, threads: int = 1) -> None:
    """Seed everything and fix the thread count: CPU kernels then give bit-identical results."""
    if threads < 1:
        raise SettingsError(f"threads must be at least 1, got {threads}")
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    random.seed(seed)
    torch.manual_seed(seed)


def special_ids(tokenizer: Any) -> dict[str, int]:
    return {
        "bos_token_id": tokenizer.convert_tokens_to_ids(BOS),
        "eos_token_id": tokenizer.convert_tokens_to_ids(EOS),
        "pad_token_id": tokenizer.convert_tokens_to_ids(PAD),
    }


def new_model(shape: ModelShape, seed: int) -> PreTrainedModel:
    """A freshly initialised decoder whose vocabulary and special ids are the zoo tokenizer's."""
    from transformers import AutoModelForCausalLM

    tokenizer = build_tokenizer()
    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(shape.config(len(tokenizer), special_ids(tokenizer)), dtype=torch.float32)


def prompt(question: str) -> str:
    return render_prompt(TEMPLATE, question)


def completion(solution: str) -> str:
    """What follows the prompt's ``A:``; TRL appends the EOS token."""
    return f" {solution}"


def practice_lines(count: int, seed: int) -> list[str]:
    """``count`` lines of ten facts of the kinds and sizes the tasks' solutions use."""
    rng = random.Random(f"practice:{seed}")
    lines = []
    for _ in range(count):
        facts = []
        for _ in range(_FACTS_PER_PRACTICE_LINE):
            kind = rng.randrange(4)
            if kind == 0:
                a, b = rng.randint(1, 27), rng.randint(1, 9)
                facts.append(f"{a}+{b}={a + b}")
            elif kind == 1:
                b = rng.randint(1, 19)
                a = rng.randint(b + 1, 45)
                facts.append(f"{a}-{b}={a - b}")
            elif kind == 2:
                a, b = rng.randint(1, 9), rng.randint(1, 9)
                facts.append(f"{a}*{b}={a * b}")
            else:
                a, b = rng.randint(1, 9), rng.randint(2, 9)
                facts.append(f"{a * b}/{b}={a}")
        lines.append(" ".join(f"{fact}." for fact in facts))
    return lines


def sft_rows(tasks: Sequence[Task], practice: int, seed: int) -> list[dict[str, str]]:
    """Prompt-completion rows: every task's worked solution, then the practice lines."""
    rows = [{"prompt": prompt(task.question), "completion": completion(task.solution)} for task in tasks]
    rows += [
        {"prompt": prompt(PRACTICE_QUESTION), "completion": completion(line)} for line in practice_lines(practice, seed)
    ]
    return rows


def read_train_files(paths: Sequence[str | Path]) -> list[Task]:
    """The train splits, concatenated in the order given; ids must not repeat across files."""
    if not paths:
        raise SettingsError("no train files given")
    tasks = [task for path in paths for task in read_tasks(path)]
    ids = [task.id for task in tasks]
    if len(set(ids)) != len(ids):
        raise InputFormatError(f"the train files {', '.join(map(str, paths))} repeat task ids")
    return tasks


def small_vocabulary_tiles(vocab_size: int) -> None:
    """Size TRL's fused LM-head tiles to the zoo's vocabulary.

    TRL 1.16 computes token log-probabilities in tiles of [4096 tokens, 32768 vocabulary
    entries], allocated afresh per call (512 MB in float32): sized for Hub vocabularies, it took
    half the time of every zoo training step. Tiles of the whole 260-token vocabulary compute
    the same values.
    """
    import trl.trainer.utils

    if hasattr(trl.trainer.utils, "_CHUNKED_LOGPROB_CHUNK_SIZE"):
        trl.trainer.utils._CHUNKED_LOGPROB_CHUNK_SIZE = vocab_size


def trainer_arguments(scratch: Path, settings: Any, steps: int, batch_size: int) -> dict[str, Any]:
    """The TrainingArguments every zoo trainer shares: CPU, seeded, nothing saved or reported."""
    return dict(
        output_dir=str(scratch),
        max_steps=steps,
        per_device_train_batch_size=batch_size,
        learning_rate=settings.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=max(int(settings.warmup_ratio * steps), 1) if settings.warmup_ratio else 0,
        seed=settings.seed,
        data_seed=settings.seed,
        use_cpu=True,
        bf16=False,
        activation_checkpointing=False,
        save_strategy="no",
        report_to="none",
        logging_steps=1,  # every step's metrics: the saved training curve
        disable_tqdm=True,
        dataloader_num_workers=0,
    )


def training_curve(history: Sequence[Mapping[str, Any]], metric: str, meaning: str) -> TrainingCurve:
    """One value of a trainer's logged ``metric`` per optimiser step (the trainers log every step)."""
    points = [(int(entry["step"]), float(entry[metric])) for entry in history if metric in entry]
    if not points:
        raise ValueError(f"the trainer logged no {metric!r}; cannot save the training curve")
    return TrainingCurve(metric, meaning, tuple(step for step, _ in points), tuple(value for _, value in points))


def save_model(
    model: PreTrainedModel,
    out: str | Path,
    metadata: Mapping[str, Any],
    curve: TrainingCurve,
    checkpoints: Path | None = None,
) -> None:
    """Write a standard HF model folder (weights, config, tokenizer) plus the training record and curve.

    ``checkpoints``, a folder of finished checkpoint folders, is copied in as ``checkpoints/``, so
    the model and its checkpoints appear together or not at all.
    """
    tokenizer = build_tokenizer()
    model.config.update({**special_ids(tokenizer), "use_cache": True})  # trainers turn the cache off
    model.generation_config.update(**special_ids(tokenizer))
    with atomic_folder(out) as folder:
        model.save_pretrained(folder)
        save_tokenizer(folder)
        (folder / METADATA).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        write_training_curve(folder / TRAINING_CURVE, curve)
        if checkpoints is not None:
            shutil.copytree(checkpoints, folder / CHECKPOINTS)


def train_sft(
    shape: ModelShape, train_files: Sequence[str | Path], settings: SFTSettings, out: str | Path, *, threads: int = 1
) -> dict[str, Any]:
    """Train an SFT base from scratch and save it to ``out``; returns the run's record."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    tasks = read_train_files(train_files)
    deterministic(settings.seed, threads)
    tokenizer = build_tokenizer()
    small_vocabulary_tiles(len(tokenizer))
    model = new_model(shape, settings.seed)
    rows = sft_rows(tasks, settings.practice, settings.seed)
    log.info(
        "SFT %s: %d parameters, %d rows (%d practice), %d steps",
        shape.architecture,
        model.num_parameters(),
        len(rows),
        settings.practice,
        settings.steps,
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="zoo-sft-") as scratch:
        args = SFTConfig(
            **trainer_arguments(Path(scratch), settings, settings.steps, settings.batch_size),
            adam_beta2=settings.adam_beta2,
            max_length=MAX_POSITIONS,
            completion_only_loss=True,
            dataset_num_proc=None,
        )
        trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
        trainer.train()
    record = {
        "stage": "sft",
        "shape": asdict(shape),
        "settings": asdict(settings),
        "train_files": [str(path) for path in train_files],
        "train_tasks": len(tasks),
        "parameters": model.num_parameters(),
    }
    curve = training_curve(
        trainer.state.log_history, "loss", "mean cross-entropy of the completion tokens (nats/token)"
    )
    record["first_loss"], record["final_loss"] = curve.values[0], curve.values[-1]
    save_model(model, out, record, curve)
    log.info("SFT %s done in %.1f s: %s", shape.architecture, time.perf_counter() - started, out)
    return record
