import hashlib
import json

import pytest

from rlcircuits import datasets
from rlcircuits.datasets import fetch_college_math, load_questions
from rlcircuits.errors import InputFormatError
from shared_data import shared_file


def test_real_test_sets_load_with_their_sizes_and_golds():
    gsm8k = load_questions("gsm8k", path=shared_file("gsm8k/test.jsonl"))
    math = load_questions("math", path=shared_file("math/test.jsonl"))
    math500 = load_questions("math500", path=shared_file("math500/test.jsonl"))
    college = load_questions("college_math", path=shared_file("college_math/test.jsonl"))
    assert [len(gsm8k), len(math), len(math500), len(college)] == [1319, 5000, 500, 2818]
    for questions in (gsm8k, math, math500, college):
        assert len({q.id for q in questions}) == len(questions)
        assert all(q.question.strip() and q.gold for q in questions)
    assert gsm8k[0].id == "gsm8k-0000" and gsm8k[0].gold == "18"
    assert all("," not in q.gold and q.gold.lstrip("-").isdigit() for q in gsm8k)
    # MATH golds come from the last brace-matched \boxed{} of the solution; MATH-500 ships its
    # answers separately, and every MATH-500 problem is in MATH under the same id.
    by_id = {q.id: q.gold for q in math}
    assert all(by_id[q.id].replace(" ", "") == q.gold.replace(" ", "") for q in math500)
    assert college[0].gold == "$10-4 n$"


def test_gsm8k_gold_strips_thousands_commas(tmp_path):
    path = tmp_path / "g.jsonl"
    path.write_text(json.dumps({"question": "q?", "answer": "work <<1+1=2>>\n#### 2,125"}) + "\n")
    assert load_questions("gsm8k", path=path)[0].gold == "2125"


def test_limit_and_ids(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps({"question": f"q{i}", "answer": f"${i}$"}) + "\n" for i in range(5)))
    assert [q.id for q in load_questions("college_math", path=path, limit=2)] == [
        "college_math-0000",
        "college_math-0001",
    ]
    picked = load_questions("college_math", path=path, ids=["college_math-0003", "college_math-0001"])
    assert [q.gold for q in picked] == ["$3$", "$1$"]
    with pytest.raises(ValueError, match="unknown question ids college_math-0009"):
        load_questions("college_math", path=path, ids=["college_math-0009"])


@pytest.mark.parametrize(
    ("name", "lines", "message"),
    [
        ("gsm8k", ['{"question": "a", "answer": "#### 1"}', "{not json"], r"g\.jsonl:2: invalid JSON"),
        ("gsm8k", ['{"question": "a", "answer": "1"}'], r"g\.jsonl:1: GSM8K answer has no '####'"),
        ("math", ['{"problem": "p", "solution": "no box"}'], r"g\.jsonl:1: MATH solution has no \\boxed"),
        ("college_math", ["", '{"question": "q"}'], r"g\.jsonl:2: missing or empty string field 'answer'"),
        (
            "math500",
            ['{"problem": "p", "answer": "1"}', '{"problem": "p", "answer": "2"}'],
            r"g\.jsonl:2: duplicate problem",
        ),
        ("gsm8k", ["[1, 2]"], r"g\.jsonl:1: expected a JSON object"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path, name, lines, message):
    path = tmp_path / "g.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFormatError, match=message):
        load_questions(name, path=path)


def test_unknown_names_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'aime'"):
        load_questions("aime", path=tmp_path)
    with pytest.raises(ValueError, match="unknown data source"):
        load_questions("gsm8k", source="s3")
    with pytest.raises(InputFormatError, match="dataset file not found"):
        load_questions("gsm8k", path=tmp_path / "missing.jsonl")


def test_hub_math_joins_the_subject_configs(monkeypatch):
    calls = []

    def fake_load_dataset(repo, config, split):
        calls.append((repo, config, split))
        return [{"problem": f"{config} problem", "solution": f"so \\boxed{{{len(calls)}}}", "level": "Level 1"}]

    import datasets as hf_datasets

    monkeypatch.setattr(hf_datasets, "load_dataset", fake_load_dataset)
    questions = load_questions("math", source="hub")
    assert calls == [("EleutherAI/hendrycks_math", subject, "test") for subject in datasets.MATH_SUBJECTS]
    assert [q.gold for q in questions] == [str(i) for i in range(1, 8)]
    assert questions[0].id == datasets._math_id("math", "algebra problem")


def test_hub_gsm8k(monkeypatch):
    import datasets as hf_datasets

    monkeypatch.setattr(
        hf_datasets,
        "load_dataset",
        lambda repo, config, split: [{"question": f"{repo}/{config}/{split}", "answer": "#### 7"}],
    )
    assert load_questions("gsm8k", source="hub") == [datasets.Question("gsm8k-0000", "openai/gsm8k/main/test", "7")]


def test_college_math_download_is_checksum_pinned(tmp_path):
    original = shared_file("college_math/test.jsonl")
    url = original.as_uri()  # a file:// URL stands in for the pinned raw GitHub file
    dest = tmp_path / "cache" / "college_math" / "test.jsonl"
    assert fetch_college_math(dest, url=url) == dest
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == datasets.COLLEGE_MATH_SHA256
    # Already verified: reused without touching the (now bogus) URL.
    assert fetch_college_math(dest, url="file:///nonexistent") == dest
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_bytes(original.read_bytes().replace(b"Simplify", b"Simplifx", 1))
    other = tmp_path / "other" / "test.jsonl"
    with pytest.raises(InputFormatError, match="differs from the pinned"):
        fetch_college_math(other, url=tampered.as_uri())
    assert not other.exists() and list(other.parent.iterdir()) == []


def test_qa_format_for_generated_task_sets(tmp_path):
    path = tmp_path / "arith.jsonl"
    path.write_text(json.dumps({"id": "arith-007", "question": "2+3?", "gold": " 5 ", "solution": "\\boxed{5}"}) + "\n")
    assert load_questions("arith", path=path, data_format="qa") == [datasets.Question("arith-007", "2+3?", "5")]
    with pytest.raises(ValueError, match="unknown dataset 'arith'"):
        load_questions("arith", path=path)
    with pytest.raises(ValueError, match="local files only"):
        load_questions("arith", source="hub", data_format="qa")
