"""Coalescing: concurrent callers share forward passes and each gets exactly its own rows."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from pneumoscan.serving.batching import Coalescer

pytestmark = pytest.mark.timeout(60)


def _until(condition) -> None:
    """Wait for another thread to reach a state (bounded; not a timing assertion)."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "the other threads never got there"
        time.sleep(0.001)


def test_a_lone_caller_gets_its_rows_from_one_pass():
    co = Coalescer(lambda b: (b * 2, None))
    doubled, nothing = co.submit(torch.arange(3.0).view(3, 1))
    assert doubled.flatten().tolist() == [0.0, 2.0, 4.0] and nothing is None
    assert (co.passes, co.merged) == (1, 0)


def test_callers_that_arrive_during_a_pass_are_served_together_with_their_own_rows():
    gate = threading.Event()
    sizes = []

    def run(batch):
        sizes.append(len(batch))
        if len(sizes) == 1:
            gate.wait(timeout=30)  # hold the first pass until everyone else has queued
        return (batch + 100,)

    co = Coalescer(run)
    with ThreadPoolExecutor(max_workers=6) as pool:
        first = pool.submit(co.submit, torch.tensor([[0.0]]))
        _until(lambda: co._busy)
        others = [pool.submit(co.submit, torch.tensor([[float(i)], [float(-i)]])) for i in range(1, 6)]
        _until(lambda: len(co._queue) == 5)
        gate.set()
        assert first.result()[0].flatten().tolist() == [100.0]
        for i, fut in enumerate(others, start=1):
            assert fut.result()[0].flatten().tolist() == [100.0 + i, 100.0 - i]
    assert sizes == [1, 10]  # the five waiting callers shared one pass
    assert co.merged == 4


def test_an_error_reaches_every_caller_of_that_pass_and_the_next_pass_works():
    calls = []

    def run(batch):
        calls.append(len(batch))
        if len(calls) == 1:
            raise RuntimeError("model exploded")
        return (batch,)

    co = Coalescer(run)
    with pytest.raises(RuntimeError, match="exploded"):
        co.submit(torch.zeros(1, 1))
    assert co.submit(torch.ones(2, 1))[0].shape == (2, 1)


def test_max_rows_splits_a_long_queue_into_several_passes():
    sizes = []
    co = Coalescer(lambda b: (sizes.append(len(b)) or b,), max_rows=4)
    co._busy = True  # pretend a pass is running while six callers queue up
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(co.submit, torch.full((2, 1), float(i))) for i in range(6)]
        _until(lambda: len(co._queue) == 6)
        with co._cond:
            co._busy = False
            co._cond.notify_all()
        for i, fut in enumerate(futures):
            assert fut.result()[0].flatten().tolist() == [float(i)] * 2
    assert max(sizes) <= 4 and sum(sizes) == 12
