"""Greedy answers with their exact token ids: the generate stage (docs/DESIGN.md §1 step 1, §3).

Each question is rendered with the pair's zero-shot template and encoded once with the model's
tokenizer (``add_special_tokens=True``, as vLLM encodes a string prompt). Attribution later
feeds exactly these ids back to the model, so nothing is ever re-tokenised. A record holds:

* ``prompt_token_ids``: the encoded prompt, as given to the model (never padding).
* ``answer_token_ids``: every token the model generated, in order, up to *and including* the
  token that ended the answer, and nothing after it (never padding). That last token is an EOS
  id (the tokenizer's, or any in the model's generation config), a template stop string that
  is one vocabulary token (``<|im_end|>`` in Qwen's vocabulary), or the token whose text
  completes a stop string spelled in pieces (the ``>`` of ``</s>`` in a vocabulary without it).
  This is what vLLM returns as ``CompletionOutput.token_ids``.
* ``finish_reason``: ``"stop"`` when the last answer token ended the answer as above (also
  when it was the last token allowed), else ``"length"`` (``max_new_tokens`` tokens, no stop).
* ``answer``: the answer ids decoded without special tokens, cut before the first stop string.

Stop strings are searched in the text decoded without special tokens, as vLLM does; a stop
string that is one vocabulary token is a stop token as well, so a special token that this text
leaves out (``<|im_end|>``) still ends the answer.

Two backends honour this contract: vLLM (the paper's engine; needs the package and a CUDA GPU)
and transformers ``generate`` (batched, left-padded, KV cache). Both decode purely greedily:
the sampling options and logits processors of a model's generation config (a repetition
penalty, say) are not applied, as vLLM skips them when given explicit sampling parameters.

Runs resume: each finished batch is appended to ``<out>.partial`` (flushed and fsynced) under a
header line holding the settings (and, for a local model folder, a digest of its files); a rerun
with the same settings skips those questions, and ``<out>`` itself appears, atomically, only
once every question is answered.

The package is split along those seams: ``stopping`` (what ends an answer), ``backends``
(vLLM and transformers), ``resumable`` (the ``.partial`` file) and ``answers`` (the stage).
"""
