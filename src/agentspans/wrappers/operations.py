"""Agent, tool and workflow spans: decorators, context managers and patching by import path.

All three routes start the same kind of span through :func:`start_operation`:
``invoke_agent {name}`` / ``execute_tool {name}`` / ``invoke_workflow {name}`` with the GenAI
semantic-convention attributes. An agent span also puts the agent's name in the context, so the
LLM and tool calls made inside it carry ``gen_ai.agent.name`` too.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar, overload

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span
from opentelemetry.util.types import AttributeValue

from agentspans import semconv
from agentspans._fingerprint import fingerprint
from agentspans._runtime import AGENT_NAME_KEY, FRAMEWORK_SPAN_KEY, RUNTIME
from agentspans._suppress import suppressed
from agentspans.wrappers._lifecycle import Args, Invocation, Kwargs, traced, traced_function

F = TypeVar("F", bound=Callable[..., Any])

_MAX_CAPTURED_CHARS = 16_384


def _as_text(value: Any) -> str:
    try:
        text = (
            value if isinstance(value, str) else json.dumps(value, default=repr, ensure_ascii=False)
        )
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _MAX_CAPTURED_CHARS else text[:_MAX_CAPTURED_CHARS] + "…"


class ToolInvocation(Invocation):
    """A tool call: with content capture on, its result is recorded too."""

    __slots__ = ("_capture",)

    def __init__(self, span: Span, context: otel_context.Context, capture: bool) -> None:
        super().__init__(span, context)
        self._capture = capture

    def on_result(self, result: Any) -> Any:
        if self._capture and self.span.is_recording():
            self.span.set_attribute(semconv.GEN_AI_TOOL_CALL_RESULT, _as_text(result))
        return result


def start_operation(
    operation: str,
    name: str,
    attributes: dict[str, AttributeValue] | None = None,
    *,
    tool_arguments: tuple[Args, Kwargs] | None = None,
    parent: otel_context.Context | None = None,
    tool_invocation: type[ToolInvocation] = ToolInvocation,
) -> Invocation | None:
    """Start an ``{operation} {name}`` span in ``parent`` (default: the current context).

    None when not instrumented, or when ``parent``'s span is a framework integration's span of
    the same operation and name (see ``FRAMEWORK_SPAN_KEY``): the call is already that span.
    """
    runtime = RUNTIME.current
    if runtime is None:
        return None
    if parent is None:
        parent = otel_context.get_current()
    if suppressed(parent):
        return None  # an exporter's or another instrumentation's internal call
    if framework_span_of(parent, operation, name) is not None:
        return None
    attrs: dict[str, AttributeValue] = {semconv.GEN_AI_OPERATION_NAME: operation}
    if operation == semconv.OP_INVOKE_AGENT:
        attrs[semconv.GEN_AI_AGENT_NAME] = name
    else:
        enclosing_agent = otel_context.get_value(AGENT_NAME_KEY, parent)
        if isinstance(enclosing_agent, str):
            attrs[semconv.GEN_AI_AGENT_NAME] = enclosing_agent
        if operation == semconv.OP_EXECUTE_TOOL:
            attrs[semconv.GEN_AI_TOOL_NAME] = name
            attrs[semconv.GEN_AI_TOOL_TYPE] = "function"
        elif operation == semconv.OP_INVOKE_WORKFLOW:
            attrs[semconv.GEN_AI_WORKFLOW_NAME] = name
    if attributes:
        attrs.update(attributes)
    capture = runtime.config.capture_content
    if tool_arguments is not None:
        args, kwargs = tool_arguments
        attrs[semconv.REQUEST_FINGERPRINT] = fingerprint(name, args, kwargs)
        if capture:
            attrs[semconv.GEN_AI_TOOL_CALL_ARGUMENTS] = _as_text(
                {"args": list(args), "kwargs": kwargs}
            )
    span = runtime.tracer.start_span(f"{operation} {name}", context=parent, attributes=attrs)
    context = trace.set_span_in_context(span, parent)
    if operation == semconv.OP_INVOKE_AGENT:
        context = otel_context.set_value(AGENT_NAME_KEY, name, context)
        return Invocation(span, context)
    if operation == semconv.OP_EXECUTE_TOOL:
        return tool_invocation(span, context, capture)
    return Invocation(span, context)


def claim_for_framework(
    context: otel_context.Context, operation: str, name: str, span: Span
) -> otel_context.Context:
    """``context`` marked as a framework's ``{operation} {name}`` span (see FRAMEWORK_SPAN_KEY)."""
    claim = (operation, name, span.get_span_context().span_id)
    return otel_context.set_value(FRAMEWORK_SPAN_KEY, claim, context)


def framework_span_of(context: otel_context.Context, operation: str, name: str) -> Span | None:
    """The framework's ``{operation} {name}`` span when it is ``context``'s current span."""
    claim = otel_context.get_value(FRAMEWORK_SPAN_KEY, context)
    if not isinstance(claim, tuple) or claim[:2] != (operation, name):
        return None
    span = trace.get_current_span(context)
    return span if span.get_span_context().span_id == claim[2] else None


# -- names ---------------------------------------------------------------------------------------
def _function_of(function: Any) -> Any:
    return function.__func__ if isinstance(function, (staticmethod, classmethod)) else function


def code_function_name(function: Any) -> str:
    target = _function_of(function)
    module = getattr(target, "__module__", None) or "?"
    return f"{module}.{getattr(target, '__qualname__', repr(target))}"


def _agent_name_from_instance(instance: Any) -> str | None:
    """An agent object's own name: its ``name`` attribute when that is a non-empty string."""
    if instance is None or inspect.isclass(instance):
        return None
    value = getattr(instance, "name", None)
    return value if isinstance(value, str) and value else None


def _default_agent_name(function: Any, instance: Any) -> str:
    named = _agent_name_from_instance(instance)
    if named is not None:
        return named
    if instance is not None:
        return instance.__name__ if inspect.isclass(instance) else type(instance).__name__
    return str(getattr(_function_of(function), "__name__", "agent"))


# -- decorators ----------------------------------------------------------------------------------
def _decorate(
    function: F, make_start: Callable[[Any], Callable[[Any, Args, Kwargs], Invocation | None]]
) -> F:
    return traced_function(function, make_start(function))  # type: ignore[return-value]


def _agent_starter(
    function: Any, name: str | None, description: str | None = None
) -> Callable[[Any, Args, Kwargs], Invocation | None]:
    code = code_function_name(function)

    def start_agent(instance: Any, args: Args, kwargs: Kwargs) -> Invocation | None:
        if RUNTIME.current is None:
            return None
        attrs: dict[str, AttributeValue] = {semconv.CODE_FUNCTION: code}
        if description:
            attrs[semconv.GEN_AI_AGENT_DESCRIPTION] = description
        return start_operation(
            semconv.OP_INVOKE_AGENT, name or _default_agent_name(function, instance), attrs
        )

    return start_agent


def _tool_starter(
    function: Any, name: str | None, description: str | None = None
) -> Callable[[Any, Args, Kwargs], Invocation | None]:
    code = code_function_name(function)
    tool_name = name or str(getattr(_function_of(function), "__name__", "tool"))

    def start_tool(instance: Any, args: Args, kwargs: Kwargs) -> Invocation | None:
        if RUNTIME.current is None:
            return None
        attrs: dict[str, AttributeValue] = {semconv.CODE_FUNCTION: code}
        if description:
            attrs[semconv.GEN_AI_TOOL_DESCRIPTION] = description
        return start_operation(
            semconv.OP_EXECUTE_TOOL, tool_name, attrs, tool_arguments=(args, kwargs)
        )

    return start_tool


@overload
def agent(name: F) -> F: ...
@overload
def agent(name: str | None = None, *, description: str | None = None) -> Callable[[F], F]: ...
def agent(name: Any = None, *, description: str | None = None) -> Any:
    """Decorate a function or method as an agent: each call is an ``invoke_agent {name}`` span.

    Without ``name`` the agent is named after the object it is a method of (its ``name``
    attribute when that is a string, else its class), or after the function. Works on plain,
    async, generator and async-generator functions, and on methods. Usable as ``@agent`` too.
    """
    if callable(name):
        return _decorate(name, lambda fn: _agent_starter(fn, None))
    if name is not None and not isinstance(name, str):
        raise TypeError(f"agentspans.agent(name={name!r}): expected a string")
    return lambda function: _decorate(function, lambda fn: _agent_starter(fn, name, description))


@overload
def tool(name: F) -> F: ...
@overload
def tool(name: str | None = None, *, description: str | None = None) -> Callable[[F], F]: ...
def tool(name: Any = None, *, description: str | None = None) -> Any:
    """Decorate a function or method as a tool: each call is an ``execute_tool {name}`` span."""
    if callable(name):
        return _decorate(name, lambda fn: _tool_starter(fn, None))
    if name is not None and not isinstance(name, str):
        raise TypeError(f"agentspans.tool(name={name!r}): expected a string")
    return lambda function: _decorate(function, lambda fn: _tool_starter(fn, name, description))


# -- context managers ----------------------------------------------------------------------------
class OperationScope:
    """``with`` / ``async with`` form of an agent, tool or workflow span."""

    __slots__ = ("_attributes", "_invocation", "_name", "_operation", "_token")

    def __init__(
        self, operation: str, name: str, attributes: Mapping[str, AttributeValue] | None
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(
                f"agentspans: the {operation} name must be a non-empty string, got {name!r}"
            )
        self._operation = operation
        self._name = name
        self._attributes = dict(attributes) if attributes else None
        self._invocation: Invocation | None = None
        self._token: object = None

    def __enter__(self) -> Span:
        invocation = start_operation(self._operation, self._name, self._attributes)
        if invocation is None:
            return trace.INVALID_SPAN
        self._invocation = invocation
        self._token = invocation.activate()
        return invocation.span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        invocation, self._invocation = self._invocation, None
        if invocation is None:
            return
        invocation.deactivate(self._token)
        if exc is not None:
            invocation.fail(exc)
        else:
            invocation.succeed(None)

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def agent_span(name: str, attributes: Mapping[str, AttributeValue] | None = None) -> OperationScope:
    """``with agent_span("research"):`` — an ``invoke_agent`` span around a block."""
    return OperationScope(semconv.OP_INVOKE_AGENT, name, attributes)


def tool_span(name: str, attributes: Mapping[str, AttributeValue] | None = None) -> OperationScope:
    """``with tool_span("search"):`` — an ``execute_tool`` span around a block."""
    return OperationScope(semconv.OP_EXECUTE_TOOL, name, attributes)


def workflow_span(
    name: str, attributes: Mapping[str, AttributeValue] | None = None
) -> OperationScope:
    """``with workflow_span("report"):`` — an ``invoke_workflow`` span, typically the trace root."""
    return OperationScope(semconv.OP_INVOKE_WORKFLOW, name, attributes)


# -- patching by import path ---------------------------------------------------------------------
def _explicit_parameters(owner: Any, raw: Any) -> list[str]:
    """Parameter names as the wrapper sees ``args``: without ``self``/``cls`` for methods."""
    function = _function_of(raw)
    try:
        names = list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return []
    bound_first = inspect.isclass(owner) and not isinstance(raw, staticmethod)
    return names[1:] if bound_first and names else names


def _argument(position: int | None, parameter: str | None, args: Args, kwargs: Kwargs) -> Any:
    if parameter is not None and parameter in kwargs:
        return kwargs[parameter]
    if position is not None and position < len(args):
        return args[position]
    return None


def _follow(value: Any, attributes: list[str]) -> Any:
    for attribute in attributes:
        if isinstance(value, Mapping):
            value = value.get(attribute)
        else:
            value = getattr(value, attribute, None)
        if value is None:
            return None
    return value


def _target_name_resolver(
    owner: Any, raw: Any, expression: str | None
) -> Callable[[Args, Kwargs], str]:
    """How a delegate call names the agent it hands work to, decided once at patch time."""
    parameters = _explicit_parameters(owner, raw)
    fallback = str(getattr(_function_of(raw), "__name__", "agent"))
    if expression is None:
        first = parameters[0] if parameters else None

        def from_first_argument(args: Args, kwargs: Kwargs) -> str:
            value = _argument(0, first, args, kwargs)
            if isinstance(value, str) and value:
                return value
            named = _agent_name_from_instance(value)
            if named is not None:
                return named
            return type(value).__name__ if value is not None else fallback

        return from_first_argument

    head, *rest = expression.split(".")
    position = parameters.index(head) if head in parameters else None

    def from_expression(args: Args, kwargs: Kwargs) -> str:
        value = _follow(_argument(position, head, args, kwargs), rest)
        return str(value) if value is not None and value != "" else fallback

    return from_expression


def delegate_wrapper_factory(expression: str | None) -> Callable[[Any, str, Any], Any]:
    def factory(owner: Any, attribute: str, raw: Any) -> Any:
        resolve_target = _target_name_resolver(owner, raw, expression)
        code = code_function_name(raw)
        action = attribute

        def start_delegate(instance: Any, args: Args, kwargs: Kwargs) -> Invocation | None:
            if RUNTIME.current is None:
                return None
            attrs: dict[str, AttributeValue] = {
                semconv.DELEGATE_ACTION: action,
                semconv.CODE_FUNCTION: code,
            }
            return start_operation(semconv.OP_INVOKE_AGENT, resolve_target(args, kwargs), attrs)

        return traced(raw, start_delegate)

    return factory


def agent_wrapper_factory(owner: Any, attribute: str, raw: Any) -> Any:
    return traced(raw, _agent_starter(raw, None))


def tool_wrapper_factory(owner: Any, attribute: str, raw: Any) -> Any:
    return traced(raw, _tool_starter(raw, None))
