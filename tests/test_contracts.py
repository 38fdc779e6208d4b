"""The stage contracts: each record's writer and reader agree, readers name the file and key at
fault, and the module stays importable without torch (the grader, report and workflow use it)."""

import json
import subprocess
import sys
from dataclasses import fields

import numpy as np
import pytest

from records import generation, graded, write_lines, write_records
from rlcircuits.contracts import (
    GENERATION_KEYS,
    GRADED_KEYS,
    ROLES,
    AttributionFile,
    GenerationRecord,
    GradedRecord,
    RoleTokens,
    SelectedSample,
    Selection,
    TrainingCurve,
    load_attribution,
    read_generations,
    read_graded,
    read_selection,
    read_training_curve,
    save_attribution,
    write_generations,
    write_graded,
    write_selection,
    write_training_curve,
)
from rlcircuits.errors import InputFormatError


# The contracts, and what the rules import at parse time on the host.
@pytest.mark.parametrize("module", ["contracts", "model_names", "options", "files", "study_design"])
def test_importing_stays_free_of_torch_and_numpy(module):
    code = f"import sys, rlcircuits.{module}; print(sorted(m for m in ('torch', 'numpy') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_roles_and_keys():
    assert ROLES == ("base", "rl")
    assert GENERATION_KEYS == (
        "id",
        "question",
        "gold",
        "prompt",
        "prompt_token_ids",
        "answer",
        "answer_token_ids",
        "finish_reason",
    )
    assert (*GENERATION_KEYS, "pred", "correct", "grade_status") == GRADED_KEYS


# --- generations and graded JSONL ---------------------------------------------------------------


def test_generations_and_graded_files_round_trip_byte_for_byte(tmp_path):
    raw = [generation("q1", "ünïcode \\boxed{1}", "1"), generation("q2", "2", "2")]
    path = write_lines(tmp_path / "gen.jsonl", [json.dumps(r, ensure_ascii=False) for r in raw])
    records = read_generations(path)
    assert records == [GenerationRecord.from_json(r) for r in raw] and records[0].prompt_token_ids == (1, 2)
    write_generations(tmp_path / "again.jsonl", records)
    assert (tmp_path / "again.jsonl").read_bytes() == path.read_bytes()
    graded_path = write_records(
        tmp_path / "graded.jsonl", [graded("q1", True), graded("q2", False, "timeout", pred=None)]
    )
    write_graded(tmp_path / "graded2.jsonl", read_graded(graded_path))
    assert (tmp_path / "graded2.jsonl").read_bytes() == graded_path.read_bytes()


GOOD = json.dumps(generation("q1", "\\boxed{1}", "1"))


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([GOOD, "{oops"], r"gen\.jsonl:2: invalid JSON"),
        ([GOOD, "[1]"], r"gen\.jsonl:2: expected a JSON object"),
        (
            [json.dumps({k: v for k, v in generation("q", "a", "1").items() if k not in ("gold", "prompt")})],
            r"gen\.jsonl:1: missing key\(s\) gold, prompt",
        ),
        ([json.dumps({**generation("q", "a", "1"), "id": 7})], r"gen\.jsonl:1: id must be a string, got int"),
        ([json.dumps({**generation("q", "a", "1"), "answer": None})], r"gen\.jsonl:1: answer must be a string"),
        ([GOOD, "", GOOD], r"gen\.jsonl:3: duplicate id 'q1' \(first at .*gen\.jsonl:1\)"),
    ],
)
def test_malformed_generations_name_file_and_line(tmp_path, lines, message):
    with pytest.raises(InputFormatError, match=message):
        read_generations(write_lines(tmp_path / "gen.jsonl", lines))


def test_interrupted_write_leaves_nothing(tmp_path):
    def records():
        yield GradedRecord.from_json(graded("a", True))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_graded(tmp_path / "out" / "g.jsonl", records())
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({k: v for k, v in graded("a", True).items() if k != "correct"}, r"g\.jsonl:1: missing key\(s\) correct"),
        (graded("a", 1), r"g\.jsonl:1: correct must be true or false"),
        (graded("a", True, answer_token_ids=["x"]), r"g\.jsonl:1: answer_token_ids must be a list of integers"),
        (graded("a", True, prompt_token_ids=[True]), r"g\.jsonl:1: prompt_token_ids must be a list of integers"),
        (graded("a", True, grade_status="late"), r"g\.jsonl:1: grade_status must be one of"),
        (graded("a", True, pred=3), r"g\.jsonl:1: pred must be a string or null, got int"),
        (graded("a", True, finish_reason="eos"), r"g\.jsonl:1: finish_reason must be one of"),
    ],
)
def test_malformed_graded_records_name_file_line_and_key(tmp_path, record, message):
    with pytest.raises(InputFormatError, match=message):
        read_graded(write_records(tmp_path / "g.jsonl", [record]))


# --- selection JSON -----------------------------------------------------------------------------


def _selection() -> Selection:
    return Selection(
        pair="p",
        dataset="d",
        t_bar=8.0,
        thresholds={"beta": 0.5, "n": 2},
        counts={"questions": 3, "selected": 1},
        fewer_than_n=True,
        samples=(SelectedSample("q1", RoleTokens((1, 2), (3,)), RoleTokens((1, 2), (4, 5))),),
    )


def test_a_selection_round_trips(tmp_path):
    write_selection(tmp_path / "s.json", _selection())
    assert read_selection(tmp_path / "s.json") == _selection()
    assert json.loads((tmp_path / "s.json").read_text())["samples"] == [
        {
            "id": "q1",
            "base": {"prompt_token_ids": [1, 2], "answer_token_ids": [3]},
            "rl": {"prompt_token_ids": [1, 2], "answer_token_ids": [4, 5]},
        },
    ]
    assert _selection().samples[0].role("rl").answer_token_ids == (4, 5)
    with pytest.raises(ValueError, match="role must be one of"):
        _selection().samples[0].role("sft")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.pop("counts"), r"s\.json: missing key counts"),
        (lambda s: s.update(fewer_than_n="yes"), r"s\.json: fewer_than_n must be a bool, got str"),
        (lambda s: s["thresholds"].update(beta="x"), r"s\.json: thresholds\.beta must be a number"),
        (lambda s: s.update(t_bar=0), r"s\.json: t_bar must be a positive number"),
        (
            lambda s: s["samples"][0]["base"].pop("prompt_token_ids"),
            r"missing key samples\[0\]\.base\.prompt_token_ids",
        ),
    ],
)
def test_malformed_selections_name_the_key(tmp_path, change, message):
    path = tmp_path / "s.json"
    write_selection(path, _selection())
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    with pytest.raises(InputFormatError, match=message):
        read_selection(path)


# --- attribution .npz ---------------------------------------------------------------------------


class _Graph:
    edge_mask = np.array([[True, False], [True, True]])
    src_names = ("embed", "attn0")
    dst_names = ("attn0", "logits")
    layout = "module"
    granularity = "module"


class _Result:
    graph = _Graph()
    scores = np.arange(8, dtype=np.float64).reshape(2, 2, 2)
    losses = np.array([0.5, 1.5])
    sample_ids = ("q1", "q2")
    n_targets = np.array([3, 2])


def test_an_attribution_file_round_trips_with_its_metadata(tmp_path):
    save_attribution(
        tmp_path / "a.npz",
        _Result(),
        t_cut=3,
        model="m",
        role="rl",
        alpha=0.1,
        dtype="float32",
        method="eap_ig",
        ig_steps=4,
        ig_baseline="mean",
        baseline_losses=np.array([2.5, 3.5]),
        loss="shared_answer",
        answer_role="base",
    )
    loaded = load_attribution(tmp_path / "a.npz")
    assert isinstance(loaded, AttributionFile)
    assert loaded.scores.dtype == np.float32 and np.array_equal(loaded.scores, _Result.scores)
    assert loaded.edge_mask.tolist() == _Graph.edge_mask.tolist() and loaded.src_names.tolist() == ["embed", "attn0"]
    assert loaded.sample_ids.tolist() == ["q1", "q2"] and loaded.losses.tolist() == [0.5, 1.5]
    assert (loaded.t_cut, loaded.layout, loaded.model, loaded.role, loaded.alpha, loaded.dtype) == (
        3,
        "module",
        "m",
        "rl",
        0.1,
        "float32",
    )
    assert loaded.n_targets.tolist() == [3, 2] and loaded.baseline_losses.tolist() == [2.5, 3.5]
    assert (loaded.method, loaded.ig_steps, loaded.ig_baseline, loaded.loss, loaded.answer_role) == (
        "eap_ig",
        4,
        "mean",
        "shared_answer",
        "base",
    )
    with np.load(tmp_path / "a.npz") as data:
        assert data.files == [f.name for f in fields(AttributionFile)]


def test_attribution_errors_name_the_file(tmp_path):
    with pytest.raises(InputFormatError, match=r"none\.npz: attribution file not found"):
        load_attribution(tmp_path / "none.npz")
    np.savez(tmp_path / "bad.npz", scores=np.zeros((1, 1, 1)))
    with pytest.raises(InputFormatError, match=r"bad\.npz: missing arrays edge_mask, src_names"):
        load_attribution(tmp_path / "bad.npz")
    with pytest.raises(TypeError, match="colour"):
        save_attribution(tmp_path / "x.npz", _Result(), t_cut=1, colour="red")
    assert not (tmp_path / "x.npz").exists()


def test_a_training_curve_round_trips(tmp_path):
    curve = TrainingCurve("reward", "mean reward", (1, 2, 3), (0.25, 0.5, 0.375))
    write_training_curve(tmp_path / "c.json", curve)
    assert read_training_curve(tmp_path / "c.json") == curve


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"metric": "loss", "meaning": "m", "steps": [1]}', r"c\.json: missing key values"),
        ('{"metric": "loss", "meaning": "m", "steps": [2, 1], "values": [1, 2]}', r"strictly increasing integers"),
        ('{"metric": "loss", "meaning": "m", "steps": [1, 2], "values": [1]}', r"one per step"),
        ('{"metric": "loss", "meaning": "m", "steps": [1], "values": [NaN]}', r"finite numbers"),
        ('{"metric": "loss", "meaning": "m", "steps": [], "values": []}', r"at least one"),
        ("{", r"c\.json: invalid JSON at line 1"),
    ],
)
def test_a_bad_training_curve_is_named(tmp_path, content, message):
    (tmp_path / "c.json").write_text(content)
    with pytest.raises(InputFormatError, match=message):
        read_training_curve(tmp_path / "c.json")
