"""The worker pool: a hard per-answer limit, dead workers replaced, input order kept."""

import logging
import os
import sys
import time
import types

import pytest

from rlcircuits.grading.pool import JudgePool, judge_all

# Hangs math-verify/sympy (it evaluates the power tower): a real pathological answer.
POWER_TOWER = "9^{9^{9^{9}}}"


def crashing_judge(pred: str, gold: str) -> bool:
    """Runs in a worker (imported there by name): dies like a native crash on "crash"."""
    if pred == "crash":
        os._exit(3)
    return pred == gold


def test_a_hanging_answer_times_out_is_logged_and_counted_wrong(caplog):
    """The power tower hangs sympy for minutes; the parent kills that worker after 1 s. The
    other worker finishes the later answers first; results still come in input order."""
    caplog.set_level(logging.WARNING, logger="rlcircuits.grading")
    tasks = [("q1", "1", "1"), ("q-tower", POWER_TOWER, "1"), ("q3", "2", "2"), ("q4", "5", "4")]
    start = time.monotonic()
    results = judge_all(tasks, workers=2, timeout=1.0)
    assert time.monotonic() - start < 15
    assert results == [(True, "ok"), (False, "timeout"), (True, "ok"), (False, "ok")]
    assert [r.getMessage() for r in caplog.records] == [
        f"q-tower: grading took over 1s; counted wrong (pred '{POWER_TOWER}')"
    ]


def test_a_dead_worker_is_replaced_and_its_answer_counted_wrong(caplog):
    caplog.set_level(logging.ERROR, logger="rlcircuits.grading")
    tasks = [("q1", "x", "x"), ("q-crash", "crash", "x"), ("q3", "y", "y")]
    assert judge_all(tasks, workers=1, timeout=30, judge=crashing_judge) == [
        (True, "ok"),
        (False, "crashed"),
        (True, "ok"),
    ]
    assert "q-crash: the grading worker died (exit code 3)" in caplog.text


def test_a_worker_that_cannot_start_is_an_error_not_wrong_answers(monkeypatch):
    """E.g. a judge the worker cannot import: raising beats grading every answer "crashed"."""
    ghost = types.ModuleType("ghost_judges")
    exec("def judge(pred, gold):\n    return True", ghost.__dict__)
    monkeypatch.setitem(sys.modules, "ghost_judges", ghost)  # importable here, not in a worker
    with pytest.raises(RuntimeError, match="a grading worker failed to start"):
        judge_all([("q1", "1", "1")], workers=1, timeout=30, judge=ghost.judge)


def test_a_pool_keeps_its_workers_across_calls_and_recovers_from_a_timeout():
    with JudgePool(workers=1, timeout=1.0) as pool:
        assert pool.judge([("a", "2", "2")]) == [(True, "ok")]
        [first] = [w.process.pid for w in pool._pool]
        assert pool.judge([("b", "3", "4")]) == [(False, "ok")]
        assert [w.process.pid for w in pool._pool] == [first]  # reused, not restarted
        assert pool.judge([("tower", POWER_TOWER, "1"), ("c", "5", "5")]) == [(False, "timeout"), (True, "ok")]
        assert [w.process.pid for w in pool._pool] != [first]  # the stuck one was replaced
    assert pool._pool == []


def test_judge_all_refuses_bad_settings():
    with pytest.raises(ValueError, match="workers >= 1 and timeout > 0"):
        judge_all([("q", "1", "1")], workers=0, timeout=1)
    with pytest.raises(ValueError, match="workers >= 1 and timeout > 0"):
        judge_all([("q", "1", "1")], workers=1, timeout=0)
