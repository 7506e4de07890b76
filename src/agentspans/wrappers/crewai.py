"""CrewAI: its interception hooks (``crewai.hooks``) turn a crew run into one trace.

CrewAI's event bus delivers events on its own thread pool, after the fact, so a listener there
cannot make a crew's agent the current context of the code that calls the model: the openai
client spans would land in traces of their own. CrewAI's interception hooks
(``crewai.hooks.register(InterceptionPoint..., hook)``, its public API for observing and
steering a run) are called synchronously where the work happens, so they are used instead:

* ``EXECUTION_START`` / ``EXECUTION_END`` (a crew's kickoff) -> ``invoke_workflow {crew name}``;
* ``PRE_STEP`` / ``POST_STEP`` of kind ``task`` -> ``invoke_agent {role}``;
* ``PRE_TOOL_CALL`` / ``POST_TOOL_CALL`` -> ``execute_tool {name}``; CrewAI's delegation tool
  records ``agentspans.route.targets`` (the coworker) on the delegating agent's span;
* the coworker a delegation tool hands work to -> ``invoke_agent {coworker}`` inside the tool's
  span (with ``agentspans.handoff.from_agent``), opened and ended with it.

LLM requests are the client wrappers' spans (CrewAI's native OpenAI provider calls the openai
SDK; its LiteLLM path calls litellm), nested under the agent, so each is counted once with its
tokens and cost. Each span is current while its scope runs; pairs are dispatched from the same
frame, so the context is put back in the context it was set in.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.util.types import AttributeValue

from agentspans import semconv
from agentspans._errors import report_internal_error
from agentspans._patching import Patches
from agentspans._runtime import AGENT_NAME_KEY
from agentspans.wrappers import _versions
from agentspans.wrappers._lifecycle import Invocation
from agentspans.wrappers.operations import claim_for_framework, start_operation

_DELEGATION_TOOLS = frozenset({"delegate_work_to_coworker", "Delegate work to coworker"})
_MAX_OPEN = 10_000


class _Scope:
    """One open span and the context it replaced."""

    __slots__ = ("attached", "delegate", "invocation", "previous")

    def __init__(self, invocation: Invocation, context: Context) -> None:
        self.invocation = invocation
        self.previous = otel_context.get_current()
        self.attached = context
        self.delegate: _Scope | None = None  # the coworker's agent span inside a delegation
        otel_context.attach(context)

    def close(self, error: BaseException | None = None, result: Any = None) -> None:
        if self.delegate is not None:
            self.delegate.close()
            self.delegate = None
        if otel_context.get_current() is self.attached:
            otel_context.attach(self.previous)
        if error is not None:
            self.invocation.fail(error)
        else:
            self.invocation.succeed(result)


def _open(
    operation: str, name: str, attributes: dict[str, AttributeValue] | None = None, **kw: Any
) -> _Scope | None:
    invocation = start_operation(operation, name, attributes, **kw)
    if invocation is None:
        return None
    context = invocation._context
    if operation != semconv.OP_INVOKE_WORKFLOW:
        context = claim_for_framework(context, operation, name, invocation.span)
    return _Scope(invocation, context)


def _role_of(crew: Any, coworker: str) -> str:
    """The crew agent's role the delegation names (CrewAI matches it case-insensitively)."""
    wanted = coworker.strip().casefold()
    for agent in getattr(crew, "agents", None) or ():
        role = getattr(agent, "role", None)
        if isinstance(role, str) and role.strip().casefold() == wanted:
            return role
    return coworker


def _name(value: Any, fallback: str) -> str:
    return value if isinstance(value, str) and value else fallback


class CrewTracker:
    """The hooks' logic: scopes keyed by crew and task, a per-thread stack of tool calls."""

    def __init__(self) -> None:
        self.active = True
        self._crews: dict[int, _Scope] = {}
        self._tasks: dict[int, _Scope] = {}
        self._tools = threading.local()

    def _tool_stack(self) -> list[_Scope | None]:
        stack: list[_Scope | None] | None = getattr(self._tools, "stack", None)
        if stack is None:
            stack = self._tools.stack = []
        return stack

    # -- crew ------------------------------------------------------------------------------------
    def execution_start(self, ctx: Any) -> None:
        crew = getattr(ctx, "crew", None)
        if not self.active or crew is None or len(self._crews) >= _MAX_OPEN:
            return
        scope = _open(semconv.OP_INVOKE_WORKFLOW, _name(getattr(crew, "name", None), "crew"))
        if scope is not None:
            self._crews[id(crew)] = scope

    def execution_end(self, ctx: Any) -> None:
        scope = self._crews.pop(id(getattr(ctx, "crew", None)), None)
        if scope is None:
            return
        # A task that raised never reaches POST_STEP: end what the crew left open.
        for task in list(getattr(getattr(ctx, "crew", None), "tasks", None) or ()):
            left = self._tasks.pop(id(task), None)
            if left is not None:
                left.close()
        error = getattr(ctx, "error", None)
        scope.close(error if isinstance(error, BaseException) else None)

    # -- tasks -----------------------------------------------------------------------------------
    def pre_step(self, ctx: Any) -> None:
        task = getattr(ctx, "task", None)
        if not self.active or getattr(ctx, "kind", None) != "task" or task is None:
            return
        role = _name(getattr(ctx, "agent_role", None), "agent")
        scope = _open(semconv.OP_INVOKE_AGENT, role)
        if scope is not None:
            self._tasks[id(task)] = scope

    def post_step(self, ctx: Any) -> None:
        if getattr(ctx, "kind", None) != "task":
            return
        scope = self._tasks.pop(id(getattr(ctx, "task", None)), None)
        if scope is not None:
            scope.close()

    # -- tools -----------------------------------------------------------------------------------
    def pre_tool_call(self, ctx: Any) -> None:
        if not self.active:
            return
        name = _name(getattr(ctx, "tool_name", None), "tool")
        arguments = getattr(ctx, "tool_input", None)
        arguments = dict(arguments) if isinstance(arguments, dict) else {}
        attributes: dict[str, AttributeValue] = {}
        coworker = arguments.get("coworker") if name in _DELEGATION_TOOLS else None
        if isinstance(coworker, str) and coworker:
            attributes[semconv.ROUTE_TARGETS] = [coworker]
            agent_scope = self._tasks.get(id(getattr(ctx, "task", None)))
            if agent_scope is not None and agent_scope.invocation.span.is_recording():
                agent_scope.invocation.span.set_attribute(semconv.ROUTE_TARGETS, [coworker])
        delegator = otel_context.get_value(AGENT_NAME_KEY)
        scope = _open(semconv.OP_EXECUTE_TOOL, name, attributes, tool_arguments=((), arguments))
        if scope is not None and isinstance(coworker, str) and coworker:
            # The coworker works inside the tool call: its agent span opens with the tool's.
            role = _role_of(getattr(ctx, "crew", None), coworker)
            handoff: dict[str, AttributeValue] = {}
            if isinstance(delegator, str):
                handoff[semconv.HANDOFF_FROM_AGENT] = delegator
            scope.delegate = _open(semconv.OP_INVOKE_AGENT, role, handoff)
        self._tool_stack().append(scope)

    def post_tool_call(self, ctx: Any) -> None:
        stack = self._tool_stack()
        if not stack:
            return
        scope = stack.pop()
        if scope is not None:
            scope.close(result=getattr(ctx, "tool_result", None))


def _guarded(method: Callable[[Any], None], where: str) -> Callable[[Any], None]:
    def hook(ctx: Any) -> None:
        try:
            method(ctx)
        except Exception as exc:
            report_internal_error(f"crewai hook {where}", exc)
        return None

    hook.__name__ = f"agentspans_{where}"
    return hook


def _install(module: types.ModuleType) -> Callable[[], None] | None:
    try:
        from crewai.hooks.dispatch import InterceptionPoint, register, unregister
    except ImportError:
        from agentspans._errors import warn_once

        warn_once(
            "crewai:hooks",
            "agentspans: this crewai has no crewai.hooks interception points; crews are not "
            "traced as agents (their LLM calls still are)",
        )
        return None
    _versions.warn_if_unsupported("crewai")
    tracker = CrewTracker()
    hooks = []
    for point, method in (
        ("EXECUTION_START", tracker.execution_start),
        ("EXECUTION_END", tracker.execution_end),
        ("PRE_STEP", tracker.pre_step),
        ("POST_STEP", tracker.post_step),
        ("PRE_TOOL_CALL", tracker.pre_tool_call),
        ("POST_TOOL_CALL", tracker.post_tool_call),
    ):
        target = getattr(InterceptionPoint, point, None)
        if target is None:
            continue
        hook = _guarded(method, point.lower())
        register(target, hook)
        hooks.append((target, hook))

    def undo() -> None:
        tracker.active = False
        for target, hook in hooks:
            unregister(target, hook)

    return undo


def instrument(patches: Patches) -> None:
    """Register the hooks when ``crewai`` is (or gets) imported."""
    patches.on_import("crewai", _install)
