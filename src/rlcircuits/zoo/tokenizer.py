"""The zoo's tokenizer: one token per byte (byte-level BPE without merges), plus four specials.

Ids: ``<pad>`` 0, ``<s>`` 1 (BOS, prepended to every encoded text, as Llama's tokenizer does),
``</s>`` 2 (EOS), ``<unk>`` 3 (never produced: every byte has a token), then the 256 byte
symbols. Without merges, encoding is a pure function of the characters, so a prompt and its
completion tokenise the same alone as together, whichever trainer concatenates them.

It is saved beside each model as a standard ``tokenizer.json``. For ``model_type`` qwen2,
transformers 5 ignores the saved tokenizer class and rebuilds a ``Qwen2Tokenizer`` from the
vocabulary with Qwen's normaliser (NFC), pre-tokeniser (a regex split, then byte level) and
decoder (byte level). This tokenizer uses the same normaliser, byte-level mapping and decoder,
and a split cannot change a tokenisation without merges, so both load to the same encoding;
naming every special token keeps Qwen's defaults (``<|endoftext|>``) from being added.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)


def build_tokenizer() -> PreTrainedTokenizerFast:
    """The zoo tokenizer; the same vocabulary and ids on every call."""
    vocab = {token: index for index, token in enumerate((*SPECIALS, *sorted(pre_tokenizers.ByteLevel.alphabet())))}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=UNK))
    core.normalizer = normalizers.NFC()
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    core.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, vocab[BOS])]
    )
    core.add_special_tokens(list(SPECIALS))
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        clean_up_tokenization_spaces=False,
    )


def save_tokenizer(folder: str | Path) -> None:
    """Write the tokenizer files into a model folder."""
    build_tokenizer().save_pretrained(folder)
