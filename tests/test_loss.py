"""The loss is docs/DESIGN.md §4's truncated self-entropy, checked on hand-built examples."""

import math

import pytest
import torch

import fd_reference
import tiny_models
from rlcircuits.eap import attribute, truncated_loss_input
from rlcircuits.errors import AttributionError
from rlcircuits.truncation import cut_length


@pytest.mark.parametrize(
    ("alpha", "t_bar", "expected"),
    [(0.5, 8, 4), (0.3, 8, 2), (0.03, 8, 1), (0.1, 412.5, 41), (0.5, 1, 1), (1.0, 7.9, 7)],
)
def test_cut_length(alpha, t_bar, expected):
    assert cut_length(alpha, t_bar) == expected


def test_cut_length_rejects_nonsense():
    with pytest.raises(ValueError):
        cut_length(0.0, 10)
    with pytest.raises(ValueError):
        cut_length(0.5, 0)


def test_truncation_by_hand():
    prompt, answer = [11, 12, 13], [21, 22, 23, 24, 25, 26]
    item = truncated_loss_input("q1", prompt, answer, t_cut=4)
    assert item.input_ids == (11, 12, 13, 21, 22, 23)  # prompt + answer[:T_cut-1]
    assert item.targets == (21, 22, 23, 24)  # answer[:T_cut]
    assert item.prompt_len == 3  # targets[j] is predicted at position 2 + j
    one = truncated_loss_input("q1", prompt, answer, t_cut=1)
    assert one.input_ids == (11, 12, 13) and one.targets == (21,)
    # An answer shorter than T_cut is scored whole.
    short = truncated_loss_input("q2", prompt, [21, 22], t_cut=5)
    assert short.input_ids == (11, 12, 13, 21, 22) and short.targets == (21, 22)


def test_empty_prompt_or_answer_is_refused():
    with pytest.raises(AttributionError, match="q3: empty answer"):
        truncated_loss_input("q3", [1, 2], [], 3)
    with pytest.raises(AttributionError, match="q4: empty prompt"):
        truncated_loss_input("q4", [], [1], 3)


def test_uniform_model_loss_is_log_vocab():
    """With a zero unembedding every token has probability 1/V: the loss must be ln V exactly."""
    model = tiny_models.build("llama", dtype=torch.float64)
    model.lm_head.weight.zero_()
    item = truncated_loss_input("u", [1, 2, 3], [4, 5, 6, 7], t_cut=3)
    result = attribute(model, [item])
    assert result.losses[0] == pytest.approx(math.log(tiny_models.VOCAB), rel=1e-12)


def test_loss_matches_an_independent_computation():
    """Mixed prompt lengths in one batch: each loss is the mean NLL at the right positions."""
    model = tiny_models.exact_float64_norms(tiny_models.build("qwen2", dtype=torch.float64))
    items = [
        truncated_loss_input("a", [1, 2, 3, 4, 5], [30, 31, 32, 33, 34], t_cut=3),
        truncated_loss_input("b", [7, 8], [40, 41, 42], t_cut=5),
        truncated_loss_input("c", [9, 10, 11], [50, 51, 52, 53, 54, 55, 56], t_cut=6),
    ]
    result = attribute(model, items, batch_tokens=10_000)
    for item, value, n in zip(items, result.losses, result.n_targets, strict=True):
        expected = fd_reference.loss(model, list(item.input_ids), list(item.targets), item.prompt_len)
        assert value == pytest.approx(expected, rel=1e-12)
        assert n == len(item.targets)
