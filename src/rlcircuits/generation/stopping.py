"""What ends an answer: stop token ids and stop strings, as vLLM applies them (torch-free)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

# How many tokens from the end of an answer are decoded to look for a stop string.
STOP_WINDOW = 64


class Tokenizer(Protocol):
    """The part of a Hugging Face tokenizer that generation uses."""

    eos_token_id: int | None

    def __call__(self, text: str, *, add_special_tokens: bool) -> Mapping[str, Any]: ...

    def decode(self, token_ids: list[int], *, skip_special_tokens: bool) -> str: ...

    def get_vocab(self) -> dict[str, int]: ...


class EosConfig(Protocol):
    """A generation config's EOS declaration: one id, several, or none."""

    eos_token_id: int | list[int] | None


@dataclass(frozen=True)
class StopRule:
    """What ends an answer: a stop token id, or a stop string in the text without special tokens."""

    token_ids: frozenset[int]
    strings: tuple[str, ...]

    def ends_with_stop(self, tokenizer: Tokenizer, answer_ids: Sequence[int]) -> bool:
        """Whether the answer's last token ends it, given that no earlier token did."""
        if not answer_ids:
            return False
        if answer_ids[-1] in self.token_ids:
            return True
        tail = tokenizer.decode(list(answer_ids[-STOP_WINDOW:]), skip_special_tokens=True)
        return any(stop in tail for stop in self.strings)


def stop_rule(tokenizer: Tokenizer, strings: Sequence[str], generation_config: EosConfig) -> StopRule:
    """EOS ids of the tokenizer and of the model's generation config, and one-token stop strings."""
    declared = generation_config.eos_token_id
    ids = set() if declared is None else {declared} if isinstance(declared, int) else set(declared)
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    vocab = tokenizer.get_vocab()
    ids.update(vocab[stop] for stop in strings if stop in vocab)
    return StopRule(frozenset(ids), tuple(strings))


def cut_at_stop(text: str, strings: Sequence[str]) -> str:
    """The text before the first stop string (all of it when there is none)."""
    return text[: min((i for stop in strings if (i := text.find(stop)) >= 0), default=len(text))]
