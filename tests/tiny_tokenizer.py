"""A real tokenizer for the tiny models, built in-test with the `tokenizers` library (no downloads).

Character-level BPE with a few merges (``INST`` is one token), a ``<s>`` BOS added by the
post-processor, ``</s>`` as EOS, ``<|im_end|>`` as an extra special token and no pad token (as
Llama's). ``<|endoftext|>`` is *not* a token: it can only be spelled character by character.
Its vocabulary is exactly tiny_models.VOCAB tokens, so every id a tiny model emits has a text.
Save it beside Llama or Mistral models: for model_type qwen2, transformers 5 ignores the saved
tokenizer class and loads a Qwen2Tokenizer, which re-tokenises and adds a pad token.
"""

from __future__ import annotations

import string
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, processors
from transformers import PreTrainedTokenizerFast

import tiny_models

SPECIALS = ("<unk>", "<s>", "</s>", "<|im_end|>")
CHARACTERS = " \n" + string.ascii_letters + string.digits + "[]/<>|_+-=*?.,:!{}()\\$^'#"
MERGES = (("I", "N"), ("IN", "S"), ("INS", "T"))


def build() -> PreTrainedTokenizerFast:
    vocab = {token: index for index, token in enumerate((*SPECIALS, *CHARACTERS, *("".join(m) for m in MERGES)))}
    assert len(vocab) == tiny_models.VOCAB
    core = Tokenizer(models.BPE(vocab=vocab, merges=list(MERGES), unk_token="<unk>"))
    core.add_special_tokens(list(SPECIALS))
    core.decoder = decoders.Fuse()
    core.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", vocab["<s>"])])
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        additional_special_tokens=["<|im_end|>"],
        clean_up_tokenization_spaces=False,
    )


def save_with_model(model, folder: Path) -> Path:
    """Save a tiny model and this tokenizer side by side, with the model's EOS set to ``</s>``."""
    tokenizer = build()
    model.config.bos_token_id = model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.config.eos_token_id = model.generation_config.eos_token_id = tokenizer.eos_token_id
    tiny_models.save(model, folder)
    tokenizer.save_pretrained(folder)
    return folder
