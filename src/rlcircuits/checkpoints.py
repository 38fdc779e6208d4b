"""Where a trained model's checkpoints live: ``<model>/checkpoints/step-<NNNNNN>/``.

Each checkpoint is an ordinary model folder (weights, config, tokenizer, the training record with
its ``step``, the training curve up to that step), written atomically; a model trained with
``checkpoint_every: N`` has one for every step k·N up to its last step, and step 0 is its base.
A checkpoint lives inside its model's folder, so a rule that reads one takes the model folder as
its input and the checkpoint's path as a parameter. Torch-free: the Snakefile plans with it.
"""

from __future__ import annotations

from pathlib import Path

from rlcircuits.errors import SettingsError

CHECKPOINTS = "checkpoints"


def checkpoint_steps(steps: int, every: int) -> list[int]:
    """The steps a run of ``steps`` optimiser steps checkpoints at: every k·``every`` <= ``steps``; none for 0."""
    if every < 0 or steps < 1:
        raise SettingsError(f"checkpoint_every must be >= 0 and steps >= 1, got {every} and {steps}")
    return list(range(every, steps + 1, every)) if every else []


def checkpoint_dir(model: str | Path, step: int) -> str:
    """The folder of ``model``'s checkpoint after ``step`` optimiser steps."""
    return f"{model}/{CHECKPOINTS}/step-{step:06d}"
