"""What a decorated level costs: stack frames, and the work of an exception unwinding through it."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import pytest
import wrapt
from opentelemetry import trace

import agentspans
from agentspans._runtime import RUNTIME
from agentspans.testing import CapturedSpans
from agentspans.wrappers._lifecycle import Invocation, traced


def _deepest(function: Callable[[int], int]) -> int:
    """The largest n for which ``function(n)`` returns instead of raising RecursionError."""
    low, high = 1, 5_000
    while low < high:
        middle = (low + high + 1) // 2
        try:
            function(middle)
        except RecursionError:
            high = middle - 1
        else:
            low = middle
    return low


def _plain(n: int) -> int:
    return 0 if n == 0 else _plain(n - 1) + 1


@agentspans.agent
def _recurse(n: int) -> int:
    return 0 if n == 0 else _recurse(n - 1) + 1


@agentspans.agent
async def _recurse_async(n: int) -> int:
    return 0 if n == 0 else await _recurse_async(n - 1) + 1


class _Boom(Exception):
    pass


_raised: list[_Boom] = []


@agentspans.agent
def _fail_at_bottom(n: int) -> int:
    if n == 0:
        _raised.append(_Boom("at the bottom"))
        raise _raised[-1]
    return _fail_at_bottom(n - 1)


def test_a_decorated_level_costs_one_frame_more_than_a_plain_call(
    spans: CapturedSpans, monkeypatch: pytest.MonkeyPatch
) -> None:
    # At the very bottom the limit can strike inside agentspans' own code too; that is logged and
    # the call proceeds untraced, as in production (strict mode would turn it into another error).
    monkeypatch.delenv("AGENTSPANS_STRICT")
    plain = _deepest(_plain)
    decorated = _deepest(_recurse)
    # Two frames a level (the wrapper and the function) reach half as deep; a wrapt proxy's three
    # reached a third (330 of 996).
    assert decorated >= 0.47 * plain, (decorated, plain)
    assert spans.named("invoke_agent _recurse")


def test_exceptions_pass_through_unchanged_and_are_recorded(spans: CapturedSpans) -> None:
    with pytest.raises(_Boom) as caught:
        _fail_at_bottom(3)
    assert caught.value is _raised[-1]  # the very object, not a copy or a wrapper
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    tb: TracebackType | None = caught.value.__traceback__
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert frames[-1] == "_fail_at_bottom" and frames.count("_fail_at_bottom") == 4
    failed = spans.named("invoke_agent _fail_at_bottom")
    assert len(failed) == 4
    for span in failed:
        (event,) = [e for e in span.events if e.name == "exception"]
        assert event.attributes is not None
        assert event.attributes["exception.type"].endswith("_Boom")
        assert event.attributes["exception.message"] == "at the bottom"
        assert "_fail_at_bottom" in str(event.attributes["exception.stacktrace"])


def _unwind(depth: int) -> float:
    """CPU time of this thread only: the trace processor's worker analyses on its own."""
    started = time.thread_time()
    with pytest.raises(_Boom):
        _fail_at_bottom(depth)
    return time.thread_time() - started


def test_unwinding_through_nested_spans_is_linear_in_depth(spans: CapturedSpans) -> None:
    _unwind(30)  # warm up
    shallow = min(_unwind(30) for _ in range(3))
    deep = min(_unwind(300) for _ in range(3))
    # Linear is 10x; formatting the whole traceback at every level made it ~50x at these depths.
    assert deep < 25 * shallow, (deep, shallow)

    # Each span records its own frames, down to the next span: every frame once over the trace.
    spans.finished()
    spans.exporter.clear()
    with pytest.raises(_Boom):
        _fail_at_bottom(300)
    stacktraces = [
        str(event.attributes["exception.stacktrace"])
        for span in spans.named("invoke_agent _fail_at_bottom")
        for event in span.events
        if event.name == "exception" and event.attributes is not None
    ]
    assert len(stacktraces) == 301
    recorded_frames = sum(text.count('  File "') for text in stacktraces)
    assert recorded_frames <= 2 * 301 + 2, recorded_frames


async def test_decorated_coroutines_recurse_and_nest(spans: CapturedSpans) -> None:
    assert await _recurse_async(50) == 50
    chain = spans.named("invoke_agent _recurse_async")
    assert len(chain) == 51
    assert len(spans.roots()) == 1


class _QuietInvocation(Invocation):
    """Like an LLM call's: records no message and no stack."""

    record_exception_message = False


def _deep_failure() -> None:
    raise _Boom("in the client")


def test_frames_below_a_span_that_records_no_stack_stay_on_the_outer_span(
    spans: CapturedSpans,
) -> None:
    def start_quiet(instance: object, args: tuple[object, ...], kwargs: dict[str, object]) -> Any:
        runtime = RUNTIME.current
        assert runtime is not None
        span = runtime.tracer.start_span("quiet call")
        return _QuietInvocation(span, trace.set_span_in_context(span))

    quiet = wrapt.FunctionWrapper(_deep_failure, traced(_deep_failure, start_quiet))

    @agentspans.agent(name="outer")
    def outer() -> None:
        quiet()

    with pytest.raises(_Boom):
        outer()
    (event,) = [e for e in spans.one("invoke_agent outer").events if e.name == "exception"]
    assert event.attributes is not None
    assert "_deep_failure" in str(event.attributes["exception.stacktrace"])
    assert not [e for e in spans.one("quiet call").events if e.name == "exception"]
