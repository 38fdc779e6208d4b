"""Worker processes that judge answers under one hard time limit each.

math-verify can hang on pathological input (``9^{9^{9^{9}}}``) and its own timeouts use SIGALRM,
which does not work in threads; so every comparison runs in a worker process, and the parent
kills and replaces a worker that overruns the limit. Such an answer is counted wrong and logged
with its record id. Results keep input order whatever the order in which workers finish.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from rlcircuits.contracts import GradeStatus
from rlcircuits.errors import SettingsError
from rlcircuits.grading.equivalence import is_equivalent

log = logging.getLogger(__name__)

_START_TIMEOUT = 60.0  # seconds for a worker to start (forked from the preloaded forkserver)


@dataclass(frozen=True)
class GradingSettings:
    """A pool's size and its hard limit per answer (an answer over it counts as wrong)."""

    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    timeout: float = 10.0


def _serve(conn: Connection, judge: Callable[[str, str], bool]) -> None:
    """Worker loop: judge (pred, gold) pairs until the parent closes the pipe or kills us."""
    # math-verify warns once that its own timeouts are off: the parent enforces the limit.
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    conn.send("ready")
    while True:
        try:
            pred, gold = conn.recv()
        except EOFError:
            return
        conn.send(bool(judge(pred, gold)))


class _Worker:
    """One worker process and the task it is judging (an index into the task list, or None)."""

    def __init__(self, context: Any, judge: Callable[[str, str], bool]) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, judge), daemon=True)
        self.process.start()
        child.close()
        self.task: int | None = None
        self.deadline = 0.0
        self._wait_ready()

    def _wait_ready(self) -> None:
        """A worker that cannot even start is a broken environment, not a wrong answer: raise."""
        try:
            if self.conn.poll(_START_TIMEOUT) and self.conn.recv() == "ready":
                return
        except (EOFError, OSError):
            pass
        self.stop()
        raise RuntimeError(f"a grading worker failed to start (exit code {self.process.exitcode}); see its error above")

    def assign(self, task: int, pred: str, gold: str, timeout: float) -> None:
        self.task = task
        self.deadline = time.monotonic() + timeout
        self.conn.send((pred, gold))

    def stop(self) -> None:
        self.process.kill()
        self.process.join()
        self.conn.close()


def _verdict(
    worker: _Worker, record_id: str, pred: str, timeout: float, ready: list[Any]
) -> tuple[bool, GradeStatus] | None:
    """A busy worker's (correct, status) if it answered, died or overran; None while it may still answer."""
    if worker.conn in ready:
        try:
            return worker.conn.recv(), "ok"
        except (EOFError, OSError):
            worker.process.join(timeout=5)  # let it finish dying, for its exit code
            log.error("%s: the grading worker died (exit code %s); counted wrong", record_id, worker.process.exitcode)
            return False, "crashed"
    if time.monotonic() >= worker.deadline:
        log.warning("%s: grading took over %gs; counted wrong (pred %.200r)", record_id, timeout, pred)
        return False, "timeout"
    return None


class JudgePool:
    """Worker processes that judge (record id, pred, gold) tasks under a hard per-answer limit.

    Reusable: the workers outlive a ``judge`` call, so a caller grading many small batches (the
    mini zoo's RL reward, once per training step) pays for their start and for the parsers'
    lazy imports once. Workers fork from a forkserver that has this module loaded, so the judge
    function must be importable by name (tests pass a crashing one) and, as with any non-fork
    start method, a calling script needs the ``if __name__ == "__main__"`` guard.
    """

    def __init__(self, *, workers: int, timeout: float, judge: Callable[[str, str], bool] = is_equivalent) -> None:
        if workers < 1 or not timeout > 0:
            raise SettingsError(f"need workers >= 1 and timeout > 0, got workers={workers}, timeout={timeout}")
        self.workers, self.timeout, self._judge = workers, timeout, judge
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload([__name__])
        self._pool: list[_Worker] = []

    def __enter__(self) -> JudgePool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        for worker in self._pool:
            worker.stop()
        self._pool = []

    def judge(
        self, tasks: Sequence[tuple[str, str, str]], on_done: Callable[[], None] = lambda: None
    ) -> list[tuple[bool, GradeStatus]]:
        """(correct, status) for each task, in input order; ``on_done`` is called once per finished task."""
        results: dict[int, tuple[bool, GradeStatus]] = {}
        pending = deque(range(len(tasks)))
        while len(self._pool) < min(self.workers, len(tasks)):
            self._pool.append(_Worker(self._context, self._judge))
        pool = self._pool
        try:
            while pending or any(w.task is not None for w in pool):
                for worker in pool:
                    if worker.task is None and pending:
                        task = pending.popleft()
                        worker.assign(task, tasks[task][1], tasks[task][2], self.timeout)
                busy = [w for w in pool if w.task is not None]
                ready = wait([w.conn for w in busy], timeout=max(0.0, min(w.deadline for w in busy) - time.monotonic()))
                for slot, worker in enumerate(pool):
                    if worker.task is None:
                        continue
                    record_id, pred, _ = tasks[worker.task]
                    verdict = _verdict(worker, record_id, pred, self.timeout, ready)
                    if verdict is None:
                        continue
                    results[worker.task] = verdict
                    worker.task = None
                    on_done()
                    if verdict[1] != "ok":  # stuck or dead: replace it
                        worker.stop()
                        pool[slot] = _Worker(self._context, self._judge)
        except BaseException:
            self.close()  # a worker may be mid-task: never hand it the next call's work
            raise
        return [results[task] for task in range(len(tasks))]


def judge_all(
    tasks: Sequence[tuple[str, str, str]],
    *,
    workers: int,
    timeout: float,
    judge: Callable[[str, str], bool] = is_equivalent,
) -> list[tuple[bool, GradeStatus]]:
    """One-off ``JudgePool.judge``: (correct, status) for each (record id, pred, gold) task, in order."""
    with JudgePool(workers=workers, timeout=timeout, judge=judge) as pool:
        return pool.judge(tasks)
