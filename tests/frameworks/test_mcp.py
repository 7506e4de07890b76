"""MCP client tool calls against a real MCP server over stdio (a subprocess)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

mcp = pytest.importorskip("mcp")

from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402
from opentelemetry.trace import StatusCode  # noqa: E402

import agentspans  # noqa: E402
from agentspans import semconv  # noqa: E402
from agentspans.testing import CapturedSpans, capture_spans  # noqa: E402

SERVER = Path(__file__).with_name("mcp_server.py")


def _is_error(result: Any) -> bool:
    return bool(getattr(result, "is_error", getattr(result, "isError", False)))


async def _calls() -> list[Any]:
    params = StdioServerParameters(command=sys.executable, args=[str(SERVER)])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        with agentspans.agent_span("calculator user"):
            ok = await session.call_tool("add", {"a": 2, "b": 3})
            failed = await session.call_tool("divide", arguments={"a": 1, "b": 0})
        return [ok, failed]


def test_call_tool_is_an_execute_tool_span_and_is_error_marks_it() -> None:
    with capture_spans(metrics=False) as spans:
        ok, failed = asyncio.run(_calls())
        finished = spans.finished()
    assert not _is_error(ok) and _is_error(failed)
    tools = {
        s.name: s
        for s in finished
        if (s.attributes or {}).get(semconv.GEN_AI_OPERATION_NAME) == "execute_tool"
    }
    assert sorted(tools) == ["execute_tool add", "execute_tool divide"]
    agent = spans.one("invoke_agent calculator user")
    for name, span in tools.items():
        attributes = dict(span.attributes or {})
        assert attributes[semconv.GEN_AI_TOOL_NAME] == name.split()[-1]
        assert attributes[semconv.MCP_METHOD_NAME] == "tools/call"
        assert attributes[semconv.GEN_AI_AGENT_NAME] == "calculator user"
        assert semconv.REQUEST_FINGERPRINT in attributes
        assert span.parent is not None and span.parent.span_id == agent.context.span_id
        # No content is recorded unless capture is on.
        assert semconv.GEN_AI_TOOL_CALL_ARGUMENTS not in attributes
    assert tools["execute_tool add"].status.status_code is StatusCode.UNSET
    divide = tools["execute_tool divide"]
    assert divide.status.status_code is StatusCode.ERROR
    assert dict(divide.attributes or {})[semconv.ERROR_TYPE] == "tool_error"


def test_capture_records_arguments_and_result(spans_with_capture: CapturedSpans) -> None:
    asyncio.run(_calls())
    add = spans_with_capture.one("execute_tool add")
    attributes = dict(add.attributes or {})
    assert '"a": 2' in attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS]
    assert "5" in attributes[semconv.GEN_AI_TOOL_CALL_RESULT]


@pytest.fixture
def spans_with_capture() -> Any:
    with capture_spans(metrics=False, capture_content=True) as captured:
        yield captured
