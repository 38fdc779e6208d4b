"""TRL's GRPO and RLOO trainers, subclassed to do less work for the same objective (docs/zoo_rl.md, "The fast step").

Two methods are overridden, nothing else:

* ``_get_per_token_logps_and_entropies``: every log-probability TRL needs (the loss's, and RLOO's
  no-grad ``old`` ones) comes from ``rlcircuits.zoo.shared_prompt``: each group's prompt runs once
  and padding is never computed. TRL's ``batch_size`` chunking (a memory bound) is not needed at
  the zoo's sizes and is ignored.
* ``_generate_single_turn``: sampling prefills each distinct prompt once, copies its keys and values
  to the prompt's rows, and drops a row from the forward once it has produced its EOS. The random
  draws are transformers' own: every step samples with ``torch.multinomial`` over all rows' float32
  probabilities, as ``generate`` does, so the same seed gives the same tokens.

``PINNED`` lists each overridden method with the TRL signature it was written against;
``check_pinned`` (called when a trainer is built) fails loudly if an upgraded TRL changed one.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from transformers import DynamicCache, GenerationConfig, PreTrainedModel
from trl import GRPOTrainer, RLOOTrainer

from rlcircuits.errors import SettingsError
from rlcircuits.zoo.shared_prompt import completion_logps

_LOGPS_SIGNATURE = (
    "(self, model, input_ids, attention_mask, logits_to_keep, batch_size=None, compute_entropy=False,"
    " compute_aux_loss=False, pixel_values=None, image_grid_thw=None, num_images=None, pixel_attention_mask=None,"
    " spatial_shapes=None, num_tiles=None, image_sizes=None, token_type_ids=None, mm_token_type_ids=None,"
    " image_position_ids=None) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]"
)
PINNED = {
    (GRPOTrainer, "_get_per_token_logps_and_entropies"): _LOGPS_SIGNATURE,
    (RLOOTrainer, "_get_per_token_logps_and_entropies"): _LOGPS_SIGNATURE,
    (GRPOTrainer, "_generate_single_turn"): (
        "(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False)"
    ),
    (RLOOTrainer, "_generate_single_turn"): "(self, prompt_ids, images, multimodal_fields)",
}
# Generation settings the sampler reproduces; any other non-default one is refused.
_SAMPLING_KEYS = {"max_new_tokens", "do_sample", "temperature", "top_k", "top_p", "pad_token_id", "bos_token_id"}
_SAMPLING_KEYS |= {
    "eos_token_id",
    "disable_compile",
    "min_p",
    "repetition_penalty",
    "cache_implementation",
    "use_cache",
}


def check_pinned(pinned: Mapping[tuple[type, str], str] = PINNED) -> None:
    """Raise if the installed TRL's signature of an overridden method is not the one these overrides follow."""
    for (trainer, name), expected in pinned.items():
        found = str(inspect.signature(getattr(trainer, name)))
        if found != expected:
            raise SettingsError(
                f"trl {trainer.__name__}.{name} changed its signature (the fast trainers override it):"
                f" expected {expected}, found {found}"
            )


def _check_sampling(config: GenerationConfig) -> float:
    """The temperature of plain sampling; other generation settings are refused, not silently ignored."""
    settings = config.to_diff_dict()
    unsupported = sorted(set(settings) - _SAMPLING_KEYS - {"transformers_version"})
    plain = (
        config.do_sample
        and config.num_beams in (1, None)
        and config.top_k in (0, None)
        and config.top_p in (1.0, None)
        and config.min_p is None
        and config.repetition_penalty in (1.0, None)
        and config.cache_implementation is None
        and config.use_cache is not False  # the sampler decodes from its key-value cache
        and config.temperature
        and config.temperature > 0
    )
    if unsupported or not plain:
        raise SettingsError(
            f"the fast sampler draws plain temperature samples only; generation config {settings} is not that"
        )
    return float(config.temperature)


@torch.no_grad()
def sample_completions(
    model: PreTrainedModel, prompt_ids: Sequence[Sequence[int]], config: GenerationConfig, eos_ids: Sequence[int]
) -> list[list[int]]:
    """One sampled completion per prompt row (up to and with its EOS), as ``model.generate`` would draw it."""
    temperature = _check_sampling(config)
    device = model.device
    distinct: dict[tuple[int, ...], int] = {}
    row_prompt = torch.tensor([distinct.setdefault(tuple(ids), len(distinct)) for ids in prompt_ids], device=device)
    width = max(len(ids) for ids in distinct)
    padded = torch.full((len(distinct), width), int(config.pad_token_id), device=device)
    mask = torch.zeros_like(padded)
    for index, ids in enumerate(distinct):
        padded[index, width - len(ids) :] = torch.tensor(ids, device=device)
        mask[index, width - len(ids) :] = 1
    positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)  # generate's positions for left padding
    cache = DynamicCache(config=model.config)
    logits = model(
        input_ids=padded, attention_mask=mask, position_ids=positions, past_key_values=cache, logits_to_keep=1
    ).logits[:, -1]
    cache.batch_select_indices(row_prompt)
    mask, logits = mask[row_prompt], logits[row_prompt]
    next_position = positions[row_prompt, -1:] + 1
    rows = len(prompt_ids)
    active = torch.arange(rows, device=device)
    completions: list[list[int]] = [[] for _ in range(rows)]
    eos = torch.tensor(list(eos_ids), device=device)
    scores = torch.zeros(rows, logits.shape[-1], dtype=torch.float32, device=device)
    for step in range(int(config.max_new_tokens)):
        scores.zero_()
        scores[active] = logits.float()
        tokens = torch.multinomial(torch.softmax(scores / temperature, dim=-1), num_samples=1).squeeze(1)[active]
        for row, token in zip(active.tolist(), tokens.tolist(), strict=True):
            completions[row].append(token)
        going = ~torch.isin(tokens, eos)
        if step + 1 == config.max_new_tokens or not bool(going.any()):
            break
        if not bool(going.all()):
            keep = going.nonzero().squeeze(1)
            cache.batch_select_indices(keep)
            active, tokens, mask, next_position = active[keep], tokens[keep], mask[keep], next_position[keep]
        mask = torch.cat([mask, mask.new_ones(len(active), 1)], dim=1)
        logits = model(
            input_ids=tokens[:, None], attention_mask=mask, position_ids=next_position, past_key_values=cache
        ).logits[:, -1]
        next_position = next_position + 1
    return completions


class _FastStep:
    """What the GRPO and RLOO subclasses share: the shared-prompt log-probabilities and the sampler."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        check_pinned()
        super().__init__(*args, **kwargs)
        if getattr(self.args, "activation_checkpointing", False):
            # Recomputation in the backward pass would run outside the packed-row attention.
            raise SettingsError("the fast trainers need activation_checkpointing=False")
        if self.use_vllm or self.use_transformers_continuous_batching or getattr(self, "tools", None):
            raise SettingsError("the fast trainers sample with transformers only (no vLLM, batching or tools)")

    def _get_per_token_logps_and_entropies(
        self,
        model,
        input_ids,
        attention_mask,
        logits_to_keep,
        batch_size=None,
        compute_entropy=False,
        compute_aux_loss=False,
        pixel_values=None,
        image_grid_thw=None,
        num_images=None,
        pixel_attention_mask=None,
        spatial_shapes=None,
        num_tiles=None,
        image_sizes=None,
        token_type_ids=None,
        mm_token_type_ids=None,
        image_position_ids=None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        extras = (pixel_values, image_grid_thw, num_images, pixel_attention_mask, spatial_shapes, num_tiles)
        extras += (image_sizes, token_type_ids, mm_token_type_ids, image_position_ids)
        if compute_aux_loss or any(extra is not None for extra in extras):
            raise SettingsError("the fast trainers handle text-only, non-MoE models")
        with self.accelerator.autocast():
            logps, entropies = completion_logps(
                model, input_ids, attention_mask, logits_to_keep, self.temperature, compute_entropy=compute_entropy
            )
        return logps, entropies, None

    def _sample(self, prompt_ids: Sequence[Sequence[int]], images: Any, multimodal_fields: Any) -> list[list[int]]:
        if images is not None or multimodal_fields:
            raise SettingsError("the fast trainers handle text-only prompts")
        model = self.accelerator.unwrap_model(self.model_wrapped)
        return sample_completions(model, prompt_ids, self.generation_config, self.eos_token_ids)


class FastGRPOTrainer(_FastStep, GRPOTrainer):
    """TRL's GRPOTrainer with the shared-prompt forward and the finished-rows-free sampler."""

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        return self._sample(prompt_ids, images, multimodal_fields), None


class FastRLOOTrainer(_FastStep, RLOOTrainer):
    """TRL's RLOOTrainer with the shared-prompt forward and the finished-rows-free sampler."""

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields):
        return self._sample(prompt_ids, images, multimodal_fields)
