"""Concurrent callers share forward passes: leader/follower coalescing, no timer, no extra thread.

A caller that finds the model idle becomes the leader: it takes every batch queued so far (its own
and other threads'), runs them as one forward pass and hands each caller its rows. Callers that
arrive while a pass is running queue up and are served together by the next leader. Alone, a
caller pays nothing extra (no waiting window); under load, requests batch themselves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass(eq=False)  # identity: jobs hold tensors, which do not compare to a bool
class _Job:
    batch: torch.Tensor
    result: Any = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class Coalescer:
    """Merge concurrent ``submit`` calls into one ``run`` call.

    Args:
        run: maps a (N, ...) batch to a tuple of per-row outputs (tensors or arrays with N rows, or None).
        max_rows: most rows per merged pass (larger queues are served in several passes).
    """

    run: Callable[[torch.Tensor], tuple]
    max_rows: int = 32
    _cond: threading.Condition = field(default_factory=threading.Condition, init=False, repr=False)
    _queue: list[_Job] = field(default_factory=list, init=False, repr=False)
    _busy: bool = field(default=False, init=False, repr=False)
    passes: int = field(default=0, init=False)
    merged: int = field(default=0, init=False)

    def submit(self, batch: torch.Tensor) -> tuple:
        """Run ``batch`` (possibly together with other threads' batches); returns this batch's rows.

        Raises:
            BaseException: whatever ``run`` raised for the pass that held this batch.
        """
        job = _Job(batch)
        with self._cond:
            self._queue.append(job)
        while True:
            with self._cond:
                while not job.done and self._busy:
                    self._cond.wait()
                if job.done:
                    return self._result(job)
                self._busy = True
                taken = self._take()
            self._run_pass(taken)  # serves the oldest queued jobs; ours too, or in a later turn

    def _take(self) -> list[_Job]:
        """Queued jobs in arrival order, up to ``max_rows`` rows (at least one job)."""
        taken: list[_Job] = []
        rows = 0
        while self._queue and (not taken or rows + len(self._queue[0].batch) <= self.max_rows):
            nxt = self._queue.pop(0)
            taken.append(nxt)
            rows += len(nxt.batch)
        return taken

    def _run_pass(self, taken: list[_Job]) -> None:
        try:
            outputs = self.run(torch.cat([j.batch for j in taken]) if len(taken) > 1 else taken[0].batch)
            start = 0
            for j in taken:
                end = start + len(j.batch)
                j.result = tuple(None if o is None else o[start:end] for o in outputs)
                start = end
        except BaseException as exc:  # noqa: BLE001 - handed to every caller of this pass
            for j in taken:
                j.error = exc
        finally:
            with self._cond:
                for j in taken:
                    j.done = True
                self.passes += 1
                self.merged += len(taken) - 1
                self._busy = False
                self._cond.notify_all()

    @staticmethod
    def _result(job: _Job) -> tuple:
        if job.error is not None:
            raise job.error
        return job.result
