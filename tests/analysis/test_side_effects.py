"""The library leaves process-wide state alone: the cyclic garbage collector stays as the app
set it at every moment (the analysis used to switch it off while it ran), and instrumenting
installs no signal handler and touches no logging configuration."""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from collections.abc import Iterator

import pytest

import agentspans
from agentspans.analysis import analyze
from agentspans.testing import capture_spans

from ._trees import agent, chat, tool


@agentspans.tool
def step(i: int) -> int:
    return i


@agentspans.agent(name="worker")
def work() -> int:
    return sum(step(i) for i in range(200))


@pytest.fixture
def gc_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def big_trace(n: int = 20_000) -> list:  # type: ignore[type-arg]
    records = [agent("root", None, 0, n * 3)]
    for i in range(n):
        make = chat if i % 3 else tool
        records.append(make(f"s{i}", "root", i * 3, i * 3 + 2))
    return records


def test_in_process_analysis_leaves_gc_off_when_the_app_turned_it_off(gc_restored: None) -> None:
    with capture_spans(metrics=False) as spans:
        gc.disable()
        work()
        assert len(spans.finished()) == 201  # flushed: analysed on the worker thread
        assert not gc.isenabled()
        gc.enable()
        work()
        assert len(spans.finished()) == 402
        assert gc.isenabled()


@pytest.mark.parametrize("enabled", [True, False])
def test_gc_state_never_changes_while_analysis_runs(gc_restored: None, enabled: bool) -> None:
    """A thread samples gc.isenabled() as fast as it can while another analyses a 20,000-span
    trace; every sample must be the app's setting."""
    (gc.enable if enabled else gc.disable)()
    records = big_trace()
    seen: set[bool] = set()
    samples = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal samples
        while not stop.is_set():
            seen.add(gc.isenabled())
            samples += 1
            time.sleep(0)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        for _ in range(3):
            (result,) = analyze(records)
            assert result.totals.tool_calls > 0
    finally:
        stop.set()
        sampler.join()
    assert samples > 10
    assert seen == {enabled}


def test_instrument_installs_no_signal_handler_nor_logging_config() -> None:
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    root = logging.getLogger()
    before = (root.level, list(root.handlers))
    with capture_spans(metrics=False):
        work()
    assert {s: signal.getsignal(s) for s in handlers} == handlers
    assert (root.level, list(root.handlers)) == before
