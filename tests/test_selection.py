"""docs/DESIGN.md §4's selection on a hand-built example, and the select -> attribute file contract."""

import json
import random
from pathlib import Path

import pytest

from cli_failure import fails_cleanly
from records import graded
from rlcircuits.contracts import GradedRecord, read_selection
from rlcircuits.errors import InputFormatError
from rlcircuits.selection import SelectionParams, select_against_base, select_samples
from script_loader import load_script


def _answer(qid: str, correct: bool, prompt_len: int, answer_len: int, offset: int = 0) -> GradedRecord:
    return GradedRecord.from_json(
        graded(
            qid,
            correct,
            prompt_token_ids=list(range(prompt_len)),
            answer_token_ids=list(range(offset, offset + answer_len)),
        )
    )


# (id, base correct, rl correct, base prompt len, rl prompt len, base answer len, rl answer len)
TABLE = [
    ("q0", True, True, 5, 5, 10, 10),  # kept
    ("q1", False, True, 5, 5, 10, 10),  # base wrong
    ("q2", True, True, 5, 6, 10, 10),  # prompt lengths differ
    ("q3", True, True, 5, 5, 2, 2),  # mean length 2 < int(0.5 * 8)
    ("q4", True, True, 5, 5, 6, 16),  # |6 - 16| / 11 > 0.5
    ("q5", True, True, 5, 5, 12, 12),  # mean 12 = int(1.5 * 8): the window is inclusive
]


def _graded():
    base = [_answer(q, bc, bp, bl) for q, bc, _, bp, _, bl, _ in TABLE]
    rl = [_answer(q, rc, rp, rlen, offset=100) for q, _, rc, _, rp, _, rlen in TABLE]
    return base, rl


def test_hand_built_example():
    base, rl = _graded()
    result = select_samples(base, rl, SelectionParams(n=1), pair="p", dataset="d")
    # Both-correct: q0 q2 q3 q4 q5; base mean (10+10+2+6+12)/5 = 8, RL mean (10+10+2+16+12)/5 = 10.
    assert result.t_bar == 8.0
    assert result.thresholds["min_mean_length"] == 4 and result.thresholds["max_mean_length"] == 12
    assert result.counts == {
        "questions": 6,
        "base_correct": 5,
        "rl_correct": 6,
        "both_correct": 5,
        "equal_prompt_length": 4,
        "length_window": 3,
        "balanced": 2,
        "selected": 1,
    }
    random.seed(42)
    expected = random.sample(["q0", "q5"], 1)
    assert [s.id for s in result.samples] == expected
    assert result.fewer_than_n is False
    chosen = result.samples[0]
    assert chosen.rl.answer_token_ids[0] == 100  # each model keeps its own answer ids
    assert (result.pair, result.dataset) == ("p", "d")


def test_selection_against_the_base_is_one_set_for_every_tuned_model():
    base, rl = _graded()
    other = [_answer(a.id, not a.correct, 5, 3, offset=200) for a in rl]  # another tuned model, every answer wrong
    first, second = (
        select_against_base(base, tuned, SelectionParams(n=2), pair=name, dataset="d")
        for name, tuned in (("p", rl), ("p2", other))
    )
    # The base's correct answers q0 q2 q3 q4 q5: T_bar = (10+10+2+6+12)/5 = 8, window [4, 12]: q3 is out.
    random.seed(42)
    expected = random.sample(["q0", "q2", "q4", "q5"], 2)
    assert first.t_bar == second.t_bar == 8.0
    assert [s.id for s in first.samples] == [s.id for s in second.samples] == expected
    assert [s.base for s in first.samples] == [s.base for s in second.samples]
    assert all(s.rl.answer_token_ids[0] == 200 for s in second.samples)  # each its own answer, right or wrong
    assert second.counts["rl_correct"] == 0 and first.counts["selected_rl_correct"] == 2
    assert first.counts["selected"] == 2 and first.counts["length_window"] == 4
    assert (first.counts["both_correct"], second.counts["both_correct"]) == (5, 0)
    with pytest.raises(InputFormatError, match="pair p, dataset d: the tuned model's graded file"):
        select_against_base(base, rl[1:], SelectionParams(), pair="p", dataset="d")


def test_fewer_than_n_takes_all_and_says_so():
    base, rl = _graded()
    result = select_samples(base, rl, SelectionParams(), pair="p", dataset="d")
    assert result.fewer_than_n is True
    assert [s.id for s in result.samples] == ["q0", "q5"]


def test_nothing_left_names_pair_and_dataset():
    base = [_answer("a", True, 3, 5)]
    rl = [_answer("a", False, 3, 5)]
    with pytest.raises(
        InputFormatError, match="pair mistral, dataset math: no question was answered correctly by both"
    ):
        select_samples(base, rl, SelectionParams(), pair="mistral", dataset="math")
    with pytest.raises(InputFormatError, match="pair x, dataset y: no question survives"):
        select_samples([_answer("a", True, 3, 5)], [_answer("a", True, 4, 5)], SelectionParams(), pair="x", dataset="y")


def test_mismatched_questions_are_refused():
    with pytest.raises(InputFormatError, match="base and RL graded different questions"):
        select_samples([_answer("a", True, 3, 5)], [_answer("b", True, 3, 5)], SelectionParams(), pair="p", dataset="d")


def _write_graded(path: Path, answers: list[GradedRecord]) -> Path:
    path.write_text("".join(json.dumps(a.to_json()) + "\n" for a in answers))
    return path


def test_cli_output_is_what_attribute_reads(tmp_path, capsys):
    cli = load_script("select_samples")
    base, rl = _graded()
    out = tmp_path / "selection" / "p" / "d.json"
    args = [
        "--base",
        str(_write_graded(tmp_path / "b.jsonl", base)),
        "--rl",
        str(_write_graded(tmp_path / "r.jsonl", rl)),
        "--pair",
        "p",
        "--dataset",
        "d",
        "--n",
        "2",
        "--out",
        str(out),
    ]
    assert cli.main(args) == 0
    selection = read_selection(out)
    assert selection.t_bar == 8.0 and sorted(s.id for s in selection.samples) == ["q0", "q5"]
    assert selection.samples[0].base.prompt_token_ids == (0, 1, 2, 3, 4)
    argv = [*args[:-1], str(tmp_path / "none.json"), "--beta", "1.3", "--gamma", "1.2"]
    fails_cleanly(capsys, cli.main, argv, "select", "no question survives the length filters", [tmp_path / "none.json"])
