"""OpenAI Agents SDK: its runs become workflow, agent, tool, handoff and guardrail spans.

The SDK reports its own trace through the public tracing-processor interface
(``agents.add_trace_processor``); :class:`AgentsTraceMirror` is such a processor. For every SDK
trace and span it opens the matching OpenTelemetry span, and — the point of it — makes that span
the current OpenTelemetry context while the SDK span is open, so the LLM calls our client
wrappers trace (and any other OTel instrumentation) nest under the agent or tool that made them.

The SDK calls ``on_span_start`` / ``on_span_end`` synchronously in the task (or thread) doing the
work, streamed runs included (their loop runs in one background task, tools in tasks of their
own), so the context is switched in the right ``contextvars.Context``. It is switched by value,
not by token: at the end the context that was current before the span is put back if this
span's context is still the current one, skipping over spans that already ended — an SDK span
that ends out of order, or in another task, never leaves an ended span current nor raises.

Mapping (docs/frameworks.md):

* trace -> ``invoke_workflow {workflow name}`` (``gen_ai.agent.name`` is the workflow name, as in
  semantic-conventions-genai v0.1.0; ``gen_ai.workflow.name`` too, for older readers);
  ``gen_ai.conversation.id`` is the trace's ``group_id`` when the app set one.
* agent -> ``invoke_agent {name}``; function -> ``execute_tool {name}``; handoff ->
  ``handoff {from} -> {to}``; guardrail -> ``guardrail {name}``.
* response / generation (the SDK's LLM call): no span of its own. The client wrapper's LLM span
  is the one span of that request; only when no LLM span started inside it (a model client
  agentspans does not trace) is an LLM span made from the SDK's data.
* task / turn / custom / MCP-list-tools / speech spans: not mirrored; their children attach to
  the nearest mirrored ancestor.
"""

from __future__ import annotations

import importlib
import threading
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from agentspans import semconv
from agentspans._errors import report_internal_error, warn_once
from agentspans._fingerprint import fingerprint
from agentspans._patching import Patches
from agentspans._runtime import AGENT_NAME_KEY, RUNTIME
from agentspans.wrappers import _providers, _versions
from agentspans.wrappers._fields import as_int, as_str, field_of, items_of
from agentspans.wrappers._lifecycle import Invocation
from agentspans.wrappers.operations import claim_for_framework, start_operation

# Set on the context while an SDK response/generation span is open: the _LLMSlot that learns
# whether an LLM span started inside it (see START_HOOKS).
_LLM_SLOT_KEY = otel_context.create_key("agentspans.openai_agents.llm_slot")
_OTHER_ERROR = "_OTHER"
# SDK spans open at once beyond which new ones are not mirrored (spans the SDK never ends, say
# from runs abandoned mid-way, must not grow memory without bound).
MAX_OPEN = 100_000


@dataclass
class _LLMSlot:
    seen: bool = False


@dataclass(eq=False)
class _Open:
    """One mirrored SDK trace or span while it is open."""

    # The context children are parented in (our span's, or the parent's for unmirrored spans).
    context: Context
    kind: str
    invocation: Invocation | None = None
    # What this record attached, and what was current before (by value; see the module doc).
    attached: Context | None = None
    prev_context: Context | None = None
    prev_record: _Open | None = None
    ended: bool = False
    start_ns: int = 0
    llm_slot: _LLMSlot | None = None
    # Agent records: the function calls of the agent's latest model response, by tool name.
    tool_call_ids: dict[str, list[str]] = field(default_factory=dict)
    conversation_id: str | None = None
    agent: _Open | None = None


class AgentsTraceMirror:
    """A ``TracingProcessor`` that mirrors the SDK's traces and spans as OpenTelemetry spans."""

    def __init__(self) -> None:
        self._open: dict[str, _Open] = {}
        # Records by the id of the context they attached, while that context may be current.
        self._by_context: dict[int, _Open] = {}
        self._lock = threading.Lock()
        self.enabled = True
        self.added = False

    # -- the TracingProcessor interface ---------------------------------------------------------
    def on_trace_start(self, sdk_trace: Any) -> None:
        self._guard("on_trace_start", self._trace_start, sdk_trace)

    def on_trace_end(self, sdk_trace: Any) -> None:
        self._guard("on_trace_end", self._end, as_str(getattr(sdk_trace, "trace_id", None)), None)

    def on_span_start(self, span: Any) -> None:
        self._guard("on_span_start", self._span_start, span)

    def on_span_end(self, span: Any) -> None:
        self._guard("on_span_end", self._end, as_str(getattr(span, "span_id", None)), span)

    def shutdown(self) -> None:
        self.clear()

    def force_flush(self) -> None:
        pass

    def clear(self) -> None:
        with self._lock:
            self._open.clear()
            self._by_context.clear()

    def _guard(self, where: str, call: Callable[..., None], *args: Any) -> None:
        if not self.enabled or RUNTIME.current is None:
            return
        if len(self._open) >= MAX_OPEN and where.endswith("_start"):
            warn_once(
                "openai_agents:max_open",
                "agentspans: %d Agents SDK spans open; further ones are not traced until some end",
                MAX_OPEN,
            )
            return
        try:
            call(*args)
        except Exception as exc:
            report_internal_error(f"openai_agents.{where}", exc)

    # -- starts ---------------------------------------------------------------------------------
    def _trace_start(self, sdk_trace: Any) -> None:
        trace_id = as_str(getattr(sdk_trace, "trace_id", None))
        if trace_id is None or trace_id == "no-op":
            return
        name = as_str(getattr(sdk_trace, "name", None)) or "Agent workflow"
        attrs: dict[str, AttributeValue] = {semconv.GEN_AI_AGENT_NAME: name}
        group_id = as_str(getattr(sdk_trace, "group_id", None))
        if group_id is not None:
            attrs[semconv.GEN_AI_CONVERSATION_ID] = group_id
        invocation = start_operation(semconv.OP_INVOKE_WORKFLOW, name, attrs)
        if invocation is None:
            return
        context = invocation.context
        record = _Open(context, "trace", invocation, conversation_id=group_id)
        self._attach(record)
        self._open[trace_id] = record

    def _span_start(self, span: Any) -> None:
        span_id = as_str(getattr(span, "span_id", None))
        if span_id is None or span_id == "no-op":
            return
        parent = self._parent_of(span)
        data = getattr(span, "span_data", None)
        kind = as_str(getattr(data, "type", None)) or "custom"
        base = parent.context if parent is not None else otel_context.get_current()
        agent = parent if parent is not None and parent.kind == "agent" else None
        if agent is None and parent is not None:
            agent = parent.agent
        conversation = parent.conversation_id if parent is not None else None
        record: _Open
        if kind == "agent":
            record = self._agent_start(data, base, conversation)
        elif kind == "function":
            record = self._function_start(data, base, agent)
        elif kind in ("handoff", "guardrail"):
            record = self._plain_start(kind, data, base)
        elif kind in ("response", "generation"):
            slot = _LLMSlot()
            record = _Open(otel_context.set_value(_LLM_SLOT_KEY, slot, base), kind, llm_slot=slot)
            record.start_ns = time.time_ns()
        else:  # task, turn, custom, mcp_tools, speech...: children go to the nearest ancestor
            record = _Open(base, kind)
        record.agent = record if kind == "agent" else agent
        record.conversation_id = conversation
        if record.invocation is not None or record.llm_slot is not None:
            self._attach(record)
        self._open[span_id] = record

    def _agent_start(self, data: Any, base: Context, conversation: str | None) -> _Open:
        name = as_str(getattr(data, "name", None)) or "agent"
        attrs: dict[str, AttributeValue] = {}
        if conversation is not None:
            attrs[semconv.GEN_AI_CONVERSATION_ID] = conversation
        invocation = start_operation(semconv.OP_INVOKE_AGENT, name, attrs, parent=base)
        if invocation is None:
            return _Open(base, "agent")
        context = claim_for_framework(
            invocation.context, semconv.OP_INVOKE_AGENT, name, invocation.span
        )
        return _Open(context, "agent", invocation)

    def _function_start(self, data: Any, base: Context, agent: _Open | None) -> _Open:
        name = as_str(getattr(data, "name", None)) or "tool"
        attrs: dict[str, AttributeValue] = {}
        call_ids = agent.tool_call_ids.get(name) if agent is not None else None
        if call_ids is not None and len(call_ids) == 1:
            attrs[semconv.GEN_AI_TOOL_CALL_ID] = call_ids[0]
        invocation = start_operation(semconv.OP_EXECUTE_TOOL, name, attrs, parent=base)
        if invocation is None:
            return _Open(base, "function")
        context = claim_for_framework(
            invocation.context, semconv.OP_EXECUTE_TOOL, name, invocation.span
        )
        return _Open(context, "function", invocation)

    def _plain_start(self, kind: str, data: Any, base: Context) -> _Open:
        runtime = RUNTIME.current
        if runtime is None:
            return _Open(base, kind)
        attrs: dict[str, AttributeValue] = {}
        agent_name = otel_context.get_value(AGENT_NAME_KEY, base)
        if isinstance(agent_name, str):
            attrs[semconv.GEN_AI_AGENT_NAME] = agent_name
        if kind == "handoff":
            source = as_str(getattr(data, "from_agent", None))
            name = f"handoff {source}" if source else "handoff"
            if source is not None:
                attrs[semconv.HANDOFF_FROM_AGENT] = source
        else:
            guardrail = as_str(getattr(data, "name", None))
            name = f"guardrail {guardrail}" if guardrail else "guardrail"
            if guardrail is not None:
                attrs[semconv.GUARDRAIL_NAME] = guardrail
        span = runtime.tracer.start_span(name, context=base, attributes=attrs)
        return _Open(trace.set_span_in_context(span, base), kind, Invocation(span, base))

    def _parent_of(self, span: Any) -> _Open | None:
        parent_id = as_str(getattr(span, "parent_id", None))
        if parent_id is not None and (record := self._open.get(parent_id)) is not None:
            return record
        trace_id = as_str(getattr(span, "trace_id", None))
        return self._open.get(trace_id) if trace_id is not None else None

    # -- the current context, switched by value --------------------------------------------------
    def _attach(self, record: _Open) -> None:
        context = record.context
        previous = otel_context.get_current()
        with self._lock:
            record.prev_record = self._by_context.get(id(previous))
            self._by_context[id(context)] = record
        record.prev_context = previous
        record.attached = context
        otel_context.attach(context)

    def _detach(self, record: _Open) -> None:
        record.ended = True
        attached = record.attached
        if attached is None:
            return
        with self._lock:
            if self._by_context.get(id(attached)) is record:
                del self._by_context[id(attached)]
        if otel_context.get_current() is not attached:
            return  # something else is current here (or this is another task): leave it
        target, before = record.prev_context, record.prev_record
        while before is not None and before.ended:
            target, before = before.prev_context, before.prev_record
        otel_context.attach(target if target is not None else Context())

    # -- ends -----------------------------------------------------------------------------------
    def _end(self, key: str | None, span: Any) -> None:
        if key is None:
            return
        record = self._open.pop(key, None)
        if record is None:
            return
        try:
            if span is not None:
                self._finish(record, span)
        finally:
            self._detach(record)
            if record.invocation is not None:
                record.invocation.end()

    def _finish(self, record: _Open, span: Any) -> None:
        data = getattr(span, "span_data", None)
        if record.llm_slot is not None:
            self._model_call_end(record, data)
            return
        invocation = record.invocation
        if invocation is None:
            return
        live = invocation.span
        if record.kind == "function":
            self._function_end(live, data)
        elif record.kind == "handoff":
            source = as_str(getattr(data, "from_agent", None))
            target = as_str(getattr(data, "to_agent", None))
            if target is not None:
                live.set_attribute(semconv.HANDOFF_TO_AGENT, target)
                live.update_name(f"handoff {source} -> {target}" if source else f"handoff {target}")
        elif record.kind == "guardrail":
            triggered = getattr(data, "triggered", None)
            if isinstance(triggered, bool):
                live.set_attribute(semconv.GUARDRAIL_TRIGGERED, triggered)
        _record_sdk_error(live, getattr(span, "error", None))

    def _function_end(self, live: Span, data: Any) -> None:
        runtime = RUNTIME.current
        name = as_str(getattr(data, "name", None)) or "tool"
        arguments = getattr(data, "input", None)
        if isinstance(arguments, str):
            live.set_attribute(semconv.REQUEST_FINGERPRINT, fingerprint(name, arguments))
            if runtime is not None and runtime.capture_content:
                live.set_attribute(semconv.GEN_AI_TOOL_CALL_ARGUMENTS, arguments)
        output = getattr(data, "output", None)
        if output is not None and runtime is not None and runtime.capture_content:
            live.set_attribute(semconv.GEN_AI_TOOL_CALL_RESULT, str(output))

    def _model_call_end(self, record: _Open, data: Any) -> None:
        response = getattr(data, "response", None)
        if record.agent is not None:
            calls: dict[str, list[str]] = {}
            for item in items_of(field_of(response, "output")):
                if field_of(item, "type") == "function_call":
                    name, call_id = (
                        as_str(field_of(item, "name")),
                        as_str(field_of(item, "call_id")),
                    )
                    if name is not None and call_id is not None:
                        calls.setdefault(name, []).append(call_id)
            if response is not None:
                record.agent.tool_call_ids = calls
        slot = record.llm_slot
        if slot is None or slot.seen:
            return  # a client wrapper traced this request: that span is the one
        self._llm_span_from_sdk(record, data, response)

    def _llm_span_from_sdk(self, record: _Open, data: Any, response: Any) -> None:
        """The LLM span of a request no client wrapper traced, from what the SDK recorded."""
        runtime = RUNTIME.current
        if runtime is None:
            return
        usage = field_of(response, "usage") or getattr(data, "usage", None)
        model = as_str(field_of(response, "model")) or as_str(getattr(data, "model", None))
        attrs: dict[str, AttributeValue] = {semconv.GEN_AI_OPERATION_NAME: semconv.OP_CHAT}
        config = getattr(data, "model_config", None)
        host, port = _providers.split_server(field_of(config, "base_url"))
        if record.kind == "response" or host is not None:
            attrs[semconv.GEN_AI_PROVIDER_NAME] = _providers.provider_for(host, port)
        if host is not None:
            attrs[semconv.SERVER_ADDRESS] = host
        if port is not None:
            attrs[semconv.SERVER_PORT] = port
        if model is not None:
            attrs[semconv.GEN_AI_REQUEST_MODEL] = model
            attrs[semconv.GEN_AI_RESPONSE_MODEL] = model
        response_id = as_str(field_of(response, "id"))
        if response_id is not None:
            attrs[semconv.GEN_AI_RESPONSE_ID] = response_id
        for key, name in (
            (semconv.GEN_AI_USAGE_INPUT_TOKENS, "input_tokens"),
            (semconv.GEN_AI_USAGE_OUTPUT_TOKENS, "output_tokens"),
        ):
            count = as_int(field_of(usage, name))
            if count is not None:
                attrs[key] = count
        agent_name = otel_context.get_value(AGENT_NAME_KEY, record.context)
        if isinstance(agent_name, str):
            attrs[semconv.GEN_AI_AGENT_NAME] = agent_name
        span = runtime.tracer.start_span(
            f"chat {model}" if model else "chat",
            context=record.context,
            kind=SpanKind.CLIENT,
            attributes=attrs,
            start_time=record.start_ns,
        )
        span.end()


def _record_sdk_error(span: Span, error: Any) -> None:
    """The SDK's ``SpanError`` (a message and data, never the exception) as the span's status."""
    if error is None or not span.is_recording():
        return
    message = as_str(field_of(error, "message")) or "error"
    span.set_attribute(semconv.ERROR_TYPE, _OTHER_ERROR)
    span.set_status(Status(StatusCode.ERROR, message))


def _note_llm_span(span: Any, parent_context: Context | None) -> None:
    """Start hook: an LLM span starting inside an SDK model call claims that call's slot."""
    slot = otel_context.get_value(_LLM_SLOT_KEY, parent_context)
    if not isinstance(slot, _LLMSlot) or slot.seen:
        return
    attributes = getattr(span, "attributes", None) or {}
    operation = attributes.get(semconv.GEN_AI_OPERATION_NAME)
    if operation in semconv.LLM_OPERATIONS or (
        attributes.get(semconv.OPENLLMETRY_REQUEST_TYPE) in semconv.OPENLLMETRY_LLM_REQUEST_TYPES
    ):
        slot.seen = True


# It does nothing unless the parent context holds this key (see ``TraceProcessor``).
_note_llm_span.context_keys = (_LLM_SLOT_KEY,)  # type: ignore[attr-defined]
START_HOOKS = (_note_llm_span,)

# One processor per process, made and registered with the SDK at the first instrument() after
# ``agents`` is imported; uninstrument() switches it off and takes it out of the SDK's list when
# the SDK lets us read that list (it has no public remove).
_mirror: AgentsTraceMirror | None = None
_registered = threading.Lock()


def _sdk_processors(provider: Any) -> tuple[Any, ...] | None:
    multi = getattr(provider, "_multi_processor", None)
    processors = getattr(multi, "_processors", None)
    return tuple(processors) if isinstance(processors, (tuple, list)) else None


def _install(module: types.ModuleType) -> Callable[[], None]:
    global _mirror
    # ``agents`` is imported already (this runs from its import hook); its public tracing API.
    sdk: Any = importlib.import_module("agents.tracing")
    with _registered:
        if _mirror is None:
            # A subclass of the SDK's TracingProcessor ABC, as its interface asks.
            kind = type("AgentspansTracingProcessor", (AgentsTraceMirror, sdk.TracingProcessor), {})
            _mirror = kind()
        mirror = _mirror
        current = _sdk_processors(sdk.get_trace_provider())
        listed = mirror.added if current is None else any(p is mirror for p in current)
        if not listed:
            sdk.add_trace_processor(mirror)
            mirror.added = True
        mirror.clear()
        mirror.enabled = True

    def undo() -> None:
        with _registered:
            mirror.enabled = False
            mirror.clear()
            now = _sdk_processors(sdk.get_trace_provider())
            if now is not None and any(p is mirror for p in now):
                sdk.set_trace_processors([p for p in now if p is not mirror])

    return undo


def instrument(patches: Patches) -> None:
    """Register the tracing processor when ``agents`` is (or already was) imported."""
    _versions.warn_if_unsupported("openai-agents")
    patches.on_import("agents", _install)
