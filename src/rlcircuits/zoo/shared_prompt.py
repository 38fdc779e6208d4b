"""Completion log-probabilities with each prompt run once and no work on padding (docs/zoo_rl.md, "The fast step").

TRL scores a GRPO/RLOO batch as ``rows x (longest prompt + longest answer)`` padded sequences, so a
group's prompt is recomputed once per answer and padding is computed like real tokens. Here every
distinct prompt and every answer's real tokens are packed into one row; the projections, MLPs
and LM head see real tokens only, and an attention function gives each token exactly the keys it
sees in TRL's layout: its own prompt's causal prefix, or its prompt and its answer's causal prefix.
Gradients flow through the shared prompt's keys and values into every answer that reads them, so
the objective and its gradient are TRL's; only the work differs. Each token keeps the position TRL
gives it (its column in the padded layout), so even the rotary tables' rounding is TRL's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch.nn import functional
from transformers import AttentionInterface, PreTrainedModel

from rlcircuits.errors import SettingsError

ATTENTION = "rlcircuits_shared_prompt"


@dataclass(frozen=True)
class PackedBatch:
    """One packed row of real tokens, and where each prompt, answer and scored token sits in it.

    ``prompt_index`` (groups x longest prompt) and ``answer_index`` (rows x longest answer input)
    index the packed row, padded with a valid index where ``*_valid`` is False; ``answer_group``
    is each row's prompt; ``predict_index`` is, for each scored completion token in row-major order,
    the packed position whose hidden state predicts it (the prompt's last token for an answer's first).
    """

    input_ids: torch.Tensor
    position_ids: torch.Tensor
    prompt_index: torch.Tensor
    prompt_valid: torch.Tensor
    answer_index: torch.Tensor
    answer_valid: torch.Tensor
    answer_group: torch.Tensor
    predict_index: torch.Tensor
    labels: torch.Tensor
    scored: torch.Tensor

    @property
    def prompt_mask(self) -> torch.Tensor:
        """Prompt attention (groups x 1 x query x key): causal within the prompt's real tokens."""
        length = self.prompt_valid.shape[1]
        causal = torch.ones(length, length, dtype=torch.bool, device=self.prompt_valid.device).tril()
        return causal[None, None] & self.prompt_valid[:, None, None, :]

    @property
    def answer_mask(self) -> torch.Tensor:
        """Answer attention (rows x 1 x query x prompt+answer key): the whole prompt, then causal."""
        length = self.answer_valid.shape[1]
        prompt_keys = self.prompt_valid[self.answer_group][:, None, None, :].expand(-1, 1, length, -1)
        causal = torch.ones(length, length, dtype=torch.bool, device=self.answer_valid.device).tril()
        return torch.cat([prompt_keys, causal[None, None] & self.answer_valid[:, None, None, :]], dim=-1)


def _contiguous_lengths(mask: torch.Tensor, *, left: bool, what: str) -> torch.Tensor:
    """Real-token count per row of a left- (prompt) or right-padded (completion) mask; anything else is an error."""
    lengths = mask.sum(dim=1)
    positions = torch.arange(mask.shape[1], device=mask.device)
    expected = positions[None] >= (mask.shape[1] - lengths)[:, None] if left else positions[None] < lengths[:, None]
    if not torch.equal(mask.bool(), expected):
        side = "left" if left else "right"
        raise SettingsError(f"the shared-prompt forward needs {side}-padded {what}s; got a mask with gaps")
    return lengths


def _padded_index(starts: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Index rows ``start .. start+length-1`` padded to the longest with index 0 (always valid), and validity."""
    width = max(int(lengths.max()), 1)
    offsets = torch.arange(width, device=starts.device)[None]
    valid = offsets < lengths[:, None]
    return torch.where(valid, starts[:, None] + offsets, 0), valid


def pack(input_ids: torch.Tensor, attention_mask: torch.Tensor, logits_to_keep: int) -> PackedBatch:
    """Pack TRL's ``[left-padded prompt | right-padded completion]`` rows; rows with equal prompts share one."""
    prompt_ids, completion_ids = input_ids[:, :-logits_to_keep], input_ids[:, -logits_to_keep:]
    prompt_mask, completion_mask = attention_mask[:, :-logits_to_keep], attention_mask[:, -logits_to_keep:]
    prompt_lengths = _contiguous_lengths(prompt_mask, left=True, what="prompt")
    completion_lengths = _contiguous_lengths(completion_mask, left=False, what="completion")
    if int(prompt_lengths.min()) < 1:
        raise SettingsError("the shared-prompt forward needs a non-empty prompt in every row")
    keys = [tuple(row[-int(length) :].tolist()) for row, length in zip(prompt_ids, prompt_lengths, strict=True)]
    groups: dict[tuple[int, ...], int] = {}
    group_of = [groups.setdefault(key, len(groups)) for key in keys]
    device = input_ids.device
    answer_group = torch.tensor(group_of, device=device)
    group_rows = torch.tensor([group_of.index(group) for group in range(len(groups))], device=device)
    group_lengths = prompt_lengths[group_rows]
    prompt_tokens = prompt_ids[group_rows][prompt_mask[group_rows].bool()]
    # An answer's last token is scored but never read: its input is every completion token but the last.
    answer_lengths = (completion_lengths - 1).clamp(min=0)
    answer_input = torch.arange(logits_to_keep, device=device)[None] < answer_lengths[:, None]
    answer_tokens = completion_ids[answer_input]
    prompt_starts = torch.cumsum(group_lengths, 0) - group_lengths
    answer_starts = prompt_tokens.numel() + torch.cumsum(answer_lengths, 0) - answer_lengths
    prompt_index, prompt_valid = _padded_index(prompt_starts, group_lengths)
    answer_index, answer_valid = _padded_index(answer_starts, answer_lengths)
    # TRL's positions: each token's column in the padded layout (left padding shifts a prompt).
    width = prompt_ids.shape[1]
    offsets = torch.arange(prompt_index.shape[1], device=device)
    answer_offsets = torch.arange(answer_index.shape[1], device=device)
    positions = torch.cat(
        [
            (width - group_lengths[:, None] + offsets[None])[prompt_valid],
            (width + answer_offsets).expand_as(answer_index)[answer_valid],
        ]
    )
    token = torch.arange(logits_to_keep, device=device)[None]
    last_prompt = (prompt_starts + group_lengths - 1)[answer_group][:, None]
    predictor = torch.where(token == 0, last_prompt, answer_starts[:, None] + token - 1)
    scored = completion_mask.bool()
    return PackedBatch(
        input_ids=torch.cat([prompt_tokens, answer_tokens])[None],
        position_ids=positions[None],
        prompt_index=prompt_index,
        prompt_valid=prompt_valid,
        answer_index=answer_index,
        answer_valid=answer_valid,
        answer_group=answer_group,
        predict_index=predictor[scored],
        labels=completion_ids[scored],
        scored=scored,
    )


def shared_prompt_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    *,
    packing: PackedBatch | None = None,
    dropout: float = 0.0,
    scaling: float | None = None,
    sliding_window: int | None = None,
    **_: Any,
) -> tuple[torch.Tensor, None]:
    """Attention over a packed row (1 x heads x tokens x dim): prompts causal, answers on their prompt + causal."""
    if packing is None:
        raise SettingsError(f"the {ATTENTION!r} attention needs the packed batch (call completion_logps)")
    if dropout or sliding_window is not None:
        raise SettingsError("the shared-prompt forward supports neither attention dropout nor sliding windows")
    gqa = query.shape[1] != key.shape[1]

    def gather(states: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return states[0][:, index].transpose(0, 1)  # heads x groups x length x dim -> groups x heads x ...

    prompt_keys, prompt_values = gather(key, packing.prompt_index), gather(value, packing.prompt_index)
    prompt_out = functional.scaled_dot_product_attention(
        gather(query, packing.prompt_index),
        prompt_keys,
        prompt_values,
        attn_mask=packing.prompt_mask,
        scale=scaling,
        enable_gqa=gqa,
    )
    group = packing.answer_group
    answer_out = functional.scaled_dot_product_attention(
        gather(query, packing.answer_index),
        torch.cat([prompt_keys[group], gather(key, packing.answer_index)], dim=2),
        torch.cat([prompt_values[group], gather(value, packing.answer_index)], dim=2),
        attn_mask=packing.answer_mask,
        scale=scaling,
        enable_gqa=gqa,
    )
    # Valid entries in row-major order are the packed row's prompt tokens, then its answer tokens.
    out = torch.cat(
        [prompt_out.transpose(1, 2)[packing.prompt_valid], answer_out.transpose(1, 2)[packing.answer_valid]]
    )
    return out[None], None


AttentionInterface.register(ATTENTION, shared_prompt_attention)


@contextmanager
def _attention(model: PreTrainedModel) -> Iterator[None]:
    """Route the model's attention through the packed-row function for one forward."""
    config = model.config
    previous = config._attn_implementation
    config._attn_implementation = ATTENTION
    try:
        yield
    finally:
        config._attn_implementation = previous


def _check_plain_head(model: PreTrainedModel) -> None:
    text = model.config.get_text_config()
    for name in ("final_logit_softcapping", "logit_scale", "output_multiplier", "lm_head_multiplier", "logits_scaling"):
        if getattr(text, name, None) is not None:
            raise SettingsError(f"{model.config.model_type}: the shared-prompt forward has no support for {name}")


def completion_logps(
    model: PreTrainedModel,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    logits_to_keep: int,
    temperature: float,
    *,
    compute_entropy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """TRL's per-token completion log-probabilities (and entropies) at ``temperature``, zero on padding."""
    _check_plain_head(model)
    packing = pack(input_ids, attention_mask, logits_to_keep)
    with _attention(model):
        hidden = model.base_model(
            input_ids=packing.input_ids, position_ids=packing.position_ids, use_cache=False, packing=packing
        ).last_hidden_state[0]
    logits = model.get_output_embeddings()(hidden[packing.predict_index]) / temperature
    log_softmax = logits.log_softmax(dim=-1)
    scored = packing.scored

    def spread(values: torch.Tensor) -> torch.Tensor:
        return values.new_zeros(scored.shape).masked_scatter(scored, values)

    logps = spread(log_softmax.gather(-1, packing.labels[:, None]).squeeze(-1))
    entropy = spread(-(log_softmax.exp() * log_softmax).sum(-1)) if compute_entropy else None
    return logps, entropy
