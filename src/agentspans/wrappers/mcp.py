"""MCP client tool calls: ``ClientSession.call_tool`` -> ``execute_tool {tool}``.

The span follows the GenAI conventions' MCP page: ``gen_ai.operation.name`` ``execute_tool``,
``gen_ai.tool.name``, ``mcp.method.name`` ``tools/call``, ``mcp.protocol.version`` when the
session knows it (mcp 2.x); a result with ``isError`` set ends it with ``error.type``
``tool_error``; a JSON-RPC error (``McpError``) records its code as ``rpc.response.status_code``
and ``error.type``. The session does not know its transport or the transport's session id, so
``network.transport`` and ``mcp.session.id`` are not written.

When the call runs directly inside a framework's span of the same tool (an Agents SDK MCP tool),
that span is the tool call: it gets the MCP attributes and no second span is made, as the MCP
page asks. mcp 2.x also emits its own ``MCP send tools/call {tool}`` CLIENT span for the JSON-RPC
request; it nests under this one.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from agentspans import semconv
from agentspans._patching import Patches
from agentspans._runtime import RUNTIME
from agentspans.wrappers import _versions
from agentspans.wrappers._fields import as_str, field_of
from agentspans.wrappers._lifecycle import Args, Invocation, Kwargs, traced
from agentspans.wrappers.operations import ToolInvocation, framework_span_of, start_operation

_METHOD = "tools/call"


def _is_error(result: Any) -> bool:
    flag = field_of(result, "is_error")
    if flag is None:
        flag = field_of(result, "isError")
    return flag is True


def _error_code(exc: BaseException) -> str | None:
    code = field_of(exc, "code")
    if not isinstance(code, int):
        code = field_of(field_of(exc, "error"), "code")
    return str(code) if isinstance(code, int) and not isinstance(code, bool) else None


def _mark_tool_error(span: Span) -> None:
    if span.is_recording():
        span.set_attribute(semconv.ERROR_TYPE, semconv.MCP_TOOL_ERROR)
        span.set_status(Status(StatusCode.ERROR, semconv.MCP_TOOL_ERROR))


class McpToolInvocation(ToolInvocation):
    """An MCP tool call: ``isError`` results and JSON-RPC error codes mark the span."""

    __slots__ = ()

    def on_result(self, result: Any) -> Any:
        if _is_error(result):
            _mark_tool_error(self.span)
        return super().on_result(result)

    def on_error(self, exc: BaseException) -> None:
        code = _error_code(exc)
        if code is not None and self.span.is_recording():
            self.span.set_attribute(semconv.RPC_RESPONSE_STATUS_CODE, code)
            self.span.set_attribute(semconv.ERROR_TYPE, code)


class _FrameworkToolCall(Invocation):
    """The call runs in a framework's span of the same tool: mark that span, end nothing."""

    __slots__ = ()

    def on_result(self, result: Any) -> Any:
        if _is_error(result):
            _mark_tool_error(self.span)
        return result

    def fail(self, exc: BaseException) -> None:
        code = _error_code(exc)
        if code is not None and self.span.is_recording():
            self.span.set_attribute(semconv.RPC_RESPONSE_STATUS_CODE, code)

    def end(self, end_time: int | None = None) -> None:
        pass  # the framework ends its own span


def _attributes(session: Any) -> dict[str, AttributeValue]:
    attrs: dict[str, AttributeValue] = {semconv.MCP_METHOD_NAME: _METHOD}
    try:
        version = as_str(getattr(session, "protocol_version", None))
    except Exception:
        version = None
    if version is not None:
        attrs[semconv.MCP_PROTOCOL_VERSION] = version
    return attrs


def _start_call_tool(session: Any, args: Args, kwargs: Kwargs) -> Invocation | None:
    if RUNTIME.current is None:
        return None
    name = as_str(args[0] if args else kwargs.get("name")) or "tool"
    arguments = args[1] if len(args) > 1 else kwargs.get("arguments")
    attrs = _attributes(session)
    current = otel_context.get_current()
    claimed = framework_span_of(current, semconv.OP_EXECUTE_TOOL, name)
    if claimed is not None:
        if claimed.is_recording():
            claimed.set_attributes(attrs)
        return _FrameworkToolCall(claimed, current)
    return start_operation(
        semconv.OP_EXECUTE_TOOL,
        name,
        attrs,
        tool_arguments=((), {"arguments": arguments}),
        parent=current,
        tool_invocation=McpToolInvocation,
    )


def _call_tool_wrapper(owner: Any, attribute: str, raw: Any) -> Any:
    return traced(raw, _start_call_tool)


def instrument(patches: Patches) -> None:
    """Patch ``ClientSession.call_tool`` when ``mcp.client.session`` is (or gets) imported."""
    _versions.warn_if_unsupported("mcp")
    patches.patch_path("mcp.client.session:ClientSession.call_tool", _call_tool_wrapper)
