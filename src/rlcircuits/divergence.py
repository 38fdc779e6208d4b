"""How far a tuned model has moved from its base: mean per-token KL divergence on its own answers.

For each question the tuned model answers greedily, KL(tuned || base) is summed over the
vocabulary at every answer position (the distributions of the next token given the prompt and
the answer so far, EOS included), and averaged over all answer tokens of the question set
(token-pooled: a long answer weighs by its length). It is the distance the model travelled where
it acts, the x axis that separates "what this algorithm does" from "how far it went".
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from rlcircuits.contracts import RoleTokens
from rlcircuits.errors import InputFormatError


@torch.no_grad()
def answer_kl(model: nn.Module, base: nn.Module, answers: Sequence[RoleTokens]) -> tuple[float, int]:
    """Mean per-token KL(model || base) in nats over ``answers`` (the model's own), and the tokens counted.

    Log-probabilities are taken in float64 from each model's logits; one question per forward, so
    no padding enters a distribution.
    """
    if not answers:
        raise InputFormatError("no answers to measure the KL divergence on")
    total = torch.zeros((), dtype=torch.float64)
    tokens = 0
    for answer in answers:
        if not answer.prompt_token_ids or not answer.answer_token_ids:
            raise InputFormatError("an answer with an empty prompt or answer cannot be measured")
        ids = torch.tensor([list(answer.prompt_token_ids) + list(answer.answer_token_ids)], device=model.device)
        start = len(answer.prompt_token_ids) - 1
        positions = slice(start, start + len(answer.answer_token_ids))
        log_p = model(input_ids=ids).logits[0, positions].double().log_softmax(-1)
        log_q = base(input_ids=ids.to(base.device)).logits[0, positions].double().log_softmax(-1).to(log_p.device)
        total += (log_p.exp() * (log_p - log_q)).sum().cpu()
        tokens += len(answer.answer_token_ids)
    return float(total / tokens), tokens
