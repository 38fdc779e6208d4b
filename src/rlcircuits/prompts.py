"""Zero-shot prompt templates (docs/DESIGN.md §1), character for character as the paper's code uses them.

No chat template is applied: each pair names one of these, and the rendered string is what the
model's tokenizer encodes. The mini zoo's template lives here too, so every stage knows it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rlcircuits.errors import SettingsError


@dataclass(frozen=True)
class Template:
    """A prompt with one ``{question}`` slot and the strings that end an answer."""

    text: str
    stop: tuple[str, ...]

    def render(self, question: str) -> str:
        # str.replace, not str.format: questions are full of LaTeX braces.
        return self.text.replace("{question}", question)


# The paper's harness stops every template at the same three strings (besides the EOS token).
PAPER_STOP = ("</s>", "<|im_end|>", "<|endoftext|>")

_TEMPLATES: dict[str, Template] = {
    "deepseek-math": Template(
        "User: {question}\nPlease reason step by step, and put your final answer within \\boxed{}.\n\nAssistant:",
        stop=PAPER_STOP,
    ),
    "mistral": Template("[INST] {question}[/INST]", stop=PAPER_STOP),
    "qwen25-math-cot": Template(
        "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
        "<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n",
        stop=PAPER_STOP,
    ),
    # The paper-scale training-dynamics run (rlcircuits.hub_rl): its user turn as Qwen2.5-Instruct's
    # chat template renders it (the template's default system turn included). The trainer renders
    # the model's own chat template and refuses a run whose rendering differs from this text.
    "qwen25-instruct-boxed": Template(
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n{question}\nPlease reason step by step, and put your final answer within \\boxed{}."
        "\n\nAssistant:<|im_end|>\n<|im_start|>assistant\n",
        stop=PAPER_STOP,
    ),
    # The mini zoo (docs/DESIGN.md §1, demo). Its answers are one line: a model that runs past its EOS
    # into a new question is cut there.
    "zoo": Template("Q: {question}\nA:", stop=("\nQ:", "\n\n")),
}


def get_template(name: str) -> Template:
    try:
        return _TEMPLATES[name]
    except KeyError:
        raise SettingsError(f"unknown prompt template {name!r}; known: {', '.join(sorted(_TEMPLATES))}") from None


def render_prompt(name: str, question: str) -> str:
    return get_template(name).render(question)
