"""The user's exceptions pass through unchanged; agentspans' own failures never reach the app."""

from __future__ import annotations

import asyncio
import traceback

import pytest
from opentelemetry.trace import StatusCode

import agentspans
from agentspans import semconv
from agentspans.testing import CapturedSpans, capture_spans


class PlannerError(Exception):
    pass


calls: list[str] = []


@agentspans.agent(name="planner")
def plan(goal: str) -> str:
    calls.append(goal)
    raise PlannerError(f"cannot plan {goal}")


@agentspans.tool
async def flaky(n: int) -> int:
    calls.append(f"flaky {n}")
    await asyncio.sleep(0)
    raise ValueError(n)


def _frames(exc: BaseException) -> list[str]:
    return [frame.name for frame in traceback.extract_tb(exc.__traceback__)]


def test_sync_exception_type_traceback_and_single_call(spans: CapturedSpans) -> None:
    calls.clear()
    with pytest.raises(PlannerError) as caught:
        plan("world domination")
    assert calls == ["world domination"]
    assert str(caught.value) == "cannot plan world domination"
    # The innermost frame is still the user's raise, with its line.
    last = traceback.extract_tb(caught.value.__traceback__)[-1]
    assert last.name == "plan"
    assert last.line == 'raise PlannerError(f"cannot plan {goal}")'

    span = spans.one("invoke_agent planner")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE].endswith("test_errors.PlannerError")
    assert [e.name for e in span.events] == ["exception"]


async def test_async_exception(spans: CapturedSpans) -> None:
    calls.clear()
    with pytest.raises(ValueError, match="7") as caught:
        await flaky(7)
    assert calls == ["flaky 7"]
    assert _frames(caught.value)[-1] == "flaky"
    span = spans.one("execute_tool flaky")
    assert span.attributes[semconv.ERROR_TYPE] == "ValueError"
    assert span.status.status_code is StatusCode.ERROR


def test_same_exception_object_reaches_caller(spans: CapturedSpans) -> None:
    error = PlannerError("the very object")

    @agentspans.tool
    def raiser() -> None:
        raise error

    with pytest.raises(PlannerError) as caught:
        raiser()
    assert caught.value is error


def test_context_manager_records_and_reraises(spans: CapturedSpans) -> None:
    with pytest.raises(KeyError), agentspans.agent_span("lookup"):
        raise KeyError("missing")
    span = spans.one("invoke_agent lookup")
    assert span.attributes[semconv.ERROR_TYPE] == "KeyError"


def test_base_exceptions_end_the_span_and_pass(spans: CapturedSpans) -> None:
    @agentspans.tool
    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert (
        spans.one("execute_tool interrupted").attributes[semconv.ERROR_TYPE] == "KeyboardInterrupt"
    )


def test_internal_error_is_swallowed_outside_strict_mode(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug inside agentspans: logged once, the call runs exactly once, its result is intact."""
    from agentspans.wrappers import operations

    def broken_start(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug in agentspans")

    counter: list[int] = []

    @agentspans.tool
    def counted(x: int) -> int:
        counter.append(x)
        return x * 10

    monkeypatch.setenv("AGENTSPANS_STRICT", "0")
    monkeypatch.setattr(operations, "start_operation", broken_start)
    with capture_spans() as captured:
        assert counted(1) == 10
        assert counted(2) == 20
    assert counter == [1, 2]
    assert captured.finished() == []
    messages = [r.getMessage() for r in caplog.records if "internal error" in r.getMessage()]
    assert len(messages) == 1, messages


def test_internal_error_raises_in_strict_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    from agentspans._errors import InternalError
    from agentspans.wrappers import operations

    def broken_start(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug in agentspans")

    @agentspans.tool
    def counted(x: int) -> int:
        return x

    monkeypatch.setattr(operations, "start_operation", broken_start)
    with capture_spans(), pytest.raises(InternalError):
        counted(1)
