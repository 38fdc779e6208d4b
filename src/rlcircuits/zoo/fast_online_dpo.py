"""TRL's online DPO trainer, subclassed to do less work for the same objective (docs/zoo_rl.md, "The fast step").

Two methods are overridden, nothing else, with the ideas of ``rlcircuits.zoo.fast_rl``:

* ``_generate``: TRL samples two answers per prompt as two stacked copies of the batch; here
  ``fast_rl.sample_completions`` draws the same rows (same order, same random stream), with each
  prompt prefilled once and a row dropped from the forward once it has produced its EOS. The
  tensors returned are TRL's: left-padded prompts, right-padded answers cut after their EOS.
* ``_forward``: the policy's and the reference's completion log-probabilities come from
  ``rlcircuits.zoo.shared_prompt`` (each prompt run once for both of its answers, no work on
  padding). The loss reads them through the completion mask only, so it and its gradient are
  TRL's. Two logged statistics are not: TRL's ``objective/kl`` and ``objective/entropy`` sum every
  completion column, padding included; here padding contributes 0, so they count real tokens only.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from rlcircuits.errors import SettingsError
from rlcircuits.zoo.fast_rl import check_pinned, sample_completions
from rlcircuits.zoo.shared_prompt import completion_logps

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # TRL warns on every experimental import otherwise
from trl.experimental.online_dpo import OnlineDPOTrainer
from trl.experimental.utils import truncate_right

PINNED = {
    (OnlineDPOTrainer, "_generate"): "(self, model, prompts, images=None)",
    (OnlineDPOTrainer, "_forward"): (
        "(self, model, prompt_ids, prompt_mask, completion_ids, completion_mask, vision_inputs=None)"
    ),
}


class FastOnlineDPOTrainer(OnlineDPOTrainer):
    """TRL's OnlineDPOTrainer with the finished-rows-free sampler and the shared-prompt forward."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        check_pinned(PINNED)
        super().__init__(*args, **kwargs)
        if self.args.use_vllm or getattr(self.args, "activation_checkpointing", False):
            raise SettingsError("the fast online DPO trainer samples with transformers, without gradient checkpointing")

    def _generate(self, model, prompts, images=None):
        if images is not None or not all(isinstance(text, str) for text in prompts):
            raise SettingsError("the fast online DPO trainer handles plain-text prompts only")
        ids = self.processing_class(text=list(prompts), add_special_tokens=False)["input_ids"]
        rows = ids + ids  # TRL's two samples per prompt: the batch twice, one copy after the other
        unwrapped = self.accelerator.unwrap_model(model)
        completions = sample_completions(unwrapped, rows, self.generation_config, self.eos_token_ids)
        pad = self._tokenizer.pad_token_id
        device = unwrapped.device
        width, length = max(len(row) for row in rows), max(len(answer) for answer in completions)
        prompt_ids = torch.full((len(rows), width), pad, dtype=torch.long, device=device)
        prompt_mask = torch.zeros_like(prompt_ids)
        completion_ids = torch.full((len(rows), length), pad, dtype=torch.long, device=device)
        for index, (row, answer) in enumerate(zip(rows, completions, strict=True)):
            prompt_ids[index, width - len(row) :] = torch.tensor(row, device=device)
            prompt_mask[index, width - len(row) :] = 1
            completion_ids[index, : len(answer)] = torch.tensor(answer, device=device)
        completion_ids, completion_mask = truncate_right(completion_ids, self.eos_token_ids, pad)
        return prompt_ids, prompt_mask, completion_ids, completion_mask, None

    def _forward(self, model, prompt_ids, prompt_mask, completion_ids, completion_mask, vision_inputs=None):
        if vision_inputs is not None:
            raise SettingsError("the fast online DPO trainer handles plain-text prompts only")
        if prompt_ids.size(1) + completion_ids.size(1) > self.max_length:
            # TRL would cut the prompts from the left; the zoo's sequences never come near max_length.
            raise SettingsError(f"prompt and answer exceed max_length {self.max_length}: raise it")
        logps, _ = completion_logps(
            self.accelerator.unwrap_model(model),
            torch.cat((prompt_ids, completion_ids), dim=1),
            torch.cat((prompt_mask, completion_mask), dim=1),
            completion_ids.size(1),
            1.0,
        )
        return logps
