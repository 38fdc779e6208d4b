"""What ends an answer: EOS ids, one-token and spelled-out stop strings, the length cap."""

import itertools

from transformers import GenerationConfig

from generation_support import gen_settings, generate, model_dir, no_leftovers, tokenizer  # noqa: F401
from rlcircuits.datasets import Question
from rlcircuits.generation.backends import TransformersBackend
from rlcircuits.generation.stopping import cut_at_stop, stop_rule
from rlcircuits.models import load_model
from rlcircuits.prompts import PAPER_STOP


def test_stop_rule_and_stop_string_cut(tokenizer):
    rule = stop_rule(tokenizer, PAPER_STOP, GenerationConfig(eos_token_id=[2, 7]))
    # EOS of tokenizer and generation config, and the two stop strings that are one token here.
    assert rule.token_ids == {2, 7, tokenizer.convert_tokens_to_ids("<|im_end|>")}
    assert rule.strings == PAPER_STOP
    assert cut_at_stop("x = 1<|endoftext|>y</s>", PAPER_STOP) == "x = 1"
    assert cut_at_stop("no stop here", PAPER_STOP) == "no stop here"


def _scripted(model, scripts: list[list[int]]):
    """Row r emits scripts[r][step] at each step of one generate() call (a logit bonus of 1e4)."""
    steps = itertools.count()

    def hook(_module, _args, logits):
        step = next(steps)
        for row, script in enumerate(scripts):
            logits[row, -1, script[step]] += 1e4
        return logits

    model.lm_head.register_forward_hook(hook)


def test_answers_end_at_eos_stop_tokens_stop_strings_or_the_length_cap(model_dir, tokenizer, tmp_path):
    ids = tokenizer.convert_tokens_to_ids
    eos, im_end = ids("</s>"), ids("<|im_end|>")
    limit = 15
    cases = [  # (script, answer_token_ids, answer, finish_reason)
        (ids(list("ok</s>")), ids(list("ok</s>")), "ok", "stop"),  # stop string spelled in 4 tokens
        (ids(list("x<|endoftext|>")), ids(list("x<|endoftext|>")), "x", "stop"),  # 13-character stop string
        (ids(list("hi")) + [im_end], ids(list("hi")) + [im_end], "hi", "stop"),  # one-token stop string
        (ids(list("yo")) + [eos], ids(list("yo")) + [eos], "yo", "stop"),  # EOS
        (ids(list("a" * 14)) + [eos], ids(list("a" * 14)) + [eos], "a" * 14, "stop"),  # EOS as the last token allowed
        (ids(list("abcdefghijklmnopq")), ids(list("abcdefghijklmno")), "abcdefghijklmno", "length"),
    ]
    model = load_model(str(model_dir), dtype="float32")
    filler = ids("z")
    _scripted(model, [script + [filler] * (limit + 1 - len(script)) for script, *_ in cases])
    backend = TransformersBackend(model, tokenizer, stop_rule(tokenizer, PAPER_STOP, model.generation_config))
    questions = [Question(f"s{i}", f"case {i}", "") for i in range(len(cases))]
    out = tmp_path / "o.jsonl"
    records = generate(questions, gen_settings(model_dir, max_new_tokens=limit), tokenizer, backend, out, batch_size=6)
    got = [(r["answer_token_ids"], r["answer"], r["finish_reason"]) for r in records]
    assert got == [tuple(expected) for _, *expected in cases]
    no_leftovers(out)
