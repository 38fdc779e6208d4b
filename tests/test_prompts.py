import pytest

from rlcircuits.prompts import get_template, render_prompt


def test_templates_are_the_papers_character_for_character():
    question = "What is $\\frac{1}{2}+x^{2}$?"
    assert render_prompt("deepseek-math", question) == (
        "User: What is $\\frac{1}{2}+x^{2}$?\nPlease reason step by step, and put your final answer "
        "within \\boxed{}.\n\nAssistant:"
    )
    assert render_prompt("mistral", question) == "[INST] What is $\\frac{1}{2}+x^{2}$?[/INST]"
    assert render_prompt("qwen25-math-cot", question) == (
        "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
        "<|im_start|>user\nWhat is $\\frac{1}{2}+x^{2}$?<|im_end|>\n<|im_start|>assistant\n"
    )
    for name in ("deepseek-math", "mistral", "qwen25-math-cot"):
        assert get_template(name).stop == ("</s>", "<|im_end|>", "<|endoftext|>")


def test_zoo_template_and_unknown_names():
    assert render_prompt("zoo", "1+1?") == "Q: 1+1?\nA:"
    assert get_template("zoo").stop == ("\nQ:", "\n\n")
    with pytest.raises(ValueError, match=r"unknown prompt template 'nope'; known: .*zoo"):
        get_template("nope")
