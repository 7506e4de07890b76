"""LangChain / LangGraph: one callback handler on every run, through langchain_core's own hook.

``langchain_core.tracers.context.register_configure_hook`` is langchain_core's public way to add
an inheritable handler to every callback manager it configures (LangSmith's tracer is added the
same way), so every ``invoke`` / ``ainvoke`` / ``stream`` / ``astream`` of any runnable reaches
:class:`SpanTracker` with no change to the app. The runs become spans:

* a root run (a LangGraph graph, or any chain invoked at the top) -> ``invoke_workflow {name}``;
* a LangGraph node's run (tagged ``graph:step:N``; nodes of subgraphs too) ->
  ``invoke_agent {node}``, with ``agentspans.route.targets`` when it routed (``Command(goto=)``,
  a conditional edge's result, ``Send``) and ``agentspans.handoff.from_agent`` on the node it
  routed to;
* a tool run -> ``execute_tool {name}`` with ``gen_ai.tool.call.id``;
* an LLM run -> nothing when one of our client wrappers traced the request under it (the start
  hook below sees that client span start); otherwise a ``chat {model}`` span made from the
  callback's own data (model, usage, finish reasons), so each request is counted once.

Parents come from ``parent_run_id``. For the code inside a run, the run's span is made the
current OpenTelemetry context when the run starts and put back when it ends, so client spans nest
under the node or tool that made them. Callbacks run where the run runs (the handler is
``run_inline``, so async runs call it in their own task; LangGraph copies the context into its
thread pool and into parallel ``Send`` branches). A run's context is restored only in the context
it was set in: when its end arrives elsewhere (a copied context), nothing is touched there.
"""

from __future__ import annotations

import time
import types
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar, Token
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from agentspans import semconv
from agentspans._errors import report_internal_error, strict
from agentspans._fingerprint import fingerprint
from agentspans._patching import Patches
from agentspans._runtime import AGENT_NAME_KEY, LLM_CALL_KEY, RUNTIME
from agentspans.wrappers import _versions
from agentspans.wrappers._fields import as_int, as_str, field_of, items_of
from agentspans.wrappers._lifecycle import Invocation
from agentspans.wrappers._llm import Usage
from agentspans.wrappers.operations import claim_for_framework, start_operation

# Set in the context of an LLM run: the start hook marks the run as traced by a client wrapper.
_LLM_RUN_KEY = otel_context.create_key("agentspans.langchain.llm_run")
# LangGraph's control-flow exceptions: a handoff to the parent graph, an interrupt. Not failures.
_CONTROL_FLOW = frozenset({"GraphBubbleUp", "GraphInterrupt", "ParentCommand", "NodeInterrupt"})
_MAX_OPEN_RUNS = 10_000
# Contexts left behind by async ends (see _Run.leave); each keeps its ended span alive.
_MAX_STALE = 1_000
# Set at a run's start: resetting it at the end tells whether the end runs in the same contextvars
# context as the start (ContextVar.reset refuses a token from another one).
_MARK: ContextVar[None] = ContextVar(
    "agentspans_langchain_run"
)  # runs that never end (an abandoned stream) must not grow without bound


class _LLMRun:
    """An LLM run in flight: what the fallback span needs if no client span claims it."""

    __slots__ = ("covered", "fingerprint", "first_token_ns", "model", "provider", "start_ns")

    def __init__(self, model: str | None, provider: str | None, digest: str) -> None:
        self.start_ns = time.time_ns()
        self.model = model
        self.provider = provider
        self.fingerprint = digest
        self.covered = False
        self.first_token_ns: int | None = None


class _Run:
    """One callback run we track: its span (None for runs that make none) and contexts."""

    __slots__ = (
        "attached",
        "context",
        "invocation",
        "llm",
        "mark",
        "node",
        "previous",
        "proxy",
        "routed",
        "targets",
    )

    def __init__(
        self,
        context: Context,
        invocation: Invocation | None = None,
        node: str | None = None,
    ) -> None:
        self.invocation = invocation
        # What the run's children are parented to (and what its code sees as current).
        self.context = context
        self.node = node
        self.llm: _LLMRun | None = None
        self.attached: Context | None = None
        self.previous: Context | None = None
        self.mark: Token[None] | None = None
        self.proxy: _RunSpan | None = None
        # For a node: the nodes it routed to. For a graph: which node last routed to each target.
        # Made on first use: most runs route nothing.
        self.targets: list[str] | None = None
        self.routed: dict[str, str] | None = None

    def enter(self) -> None:
        self.previous = otel_context.get_current()
        self.attached = self.context
        self.mark = _MARK.set(None)
        otel_context.attach(self.context)

    def leave(self, stale: dict[int, tuple[Context, Context | None]]) -> None:
        """Put the context back, in the contextvars context this run's start set it in.

        An end delivered in another one (a copy taken after the start, as async LangGraph takes
        for a task) cannot reach the context it was set in: there, the run's context is left
        *stale*, and the enclosing run that ends there next puts back what it found. No OTel token
        is reset, so a wrong-context detach never happens.
        """
        attached, self.attached = self.attached, None
        mark, self.mark = self.mark, None
        if attached is None or mark is None:
            return
        try:
            _MARK.reset(mark)
        except ValueError:  # another contextvars context than the start's
            if len(stale) >= _MAX_STALE:
                stale.pop(next(iter(stale)))
            stale[id(attached)] = (attached, self.previous)
            return
        current = otel_context.get_current()
        if current is attached or stale.pop(id(current), (None,))[0] is current:
            otel_context.attach(self.previous if self.previous is not None else Context())


class _RunSpan(Span):
    """The span a run's code sees as current: the run's span while it is open, then an alias of
    the span that was current before it.

    langchain_core delivers async end callbacks in a copied context (its ``@shielded`` end
    methods run in a new task), so the task that started a run cannot be reached at its end:
    what the start made current there stays. Once the run ends, that leftover resolves to the
    span that was current before, so nothing started later nests under an ended run, and the
    app's own ``get_current_span()`` calls reach its own span.
    """

    __slots__ = ("_before", "_real", "ended")

    def __init__(self, real: Span, before: Context) -> None:
        self._real = real
        self._before = before
        self.ended = False

    def _target(self) -> Span:
        return trace.get_current_span(self._before) if self.ended else self._real

    def end(self, end_time: int | None = None) -> None:
        if self.ended:
            self._target().end(end_time)  # the alias of the app's span: its own call

    def get_span_context(self) -> trace.SpanContext:
        return self._target().get_span_context()

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        self._target().set_attributes(attributes)

    def set_attribute(self, key: str, value: Any) -> None:
        self._target().set_attribute(key, value)

    def add_event(self, name: str, attributes: Any = None, timestamp: int | None = None) -> None:
        self._target().add_event(name, attributes, timestamp)

    def update_name(self, name: str) -> None:
        self._target().update_name(name)

    def is_recording(self) -> bool:
        return self._target().is_recording()

    def set_status(self, status: Any, description: str | None = None) -> None:
        self._target().set_status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: Any = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        self._target().record_exception(exception, attributes, timestamp, escaped)


def _is_node(tags: Sequence[str] | None, metadata: Mapping[str, Any] | None) -> str | None:
    """The LangGraph node a run executes, when the run is the node's own (not a run inside it)."""
    if not metadata or not tags:
        return None
    node = metadata.get("langgraph_node")
    if not isinstance(node, str) or node.startswith("__"):
        return None
    return node if any(t.startswith("graph:step:") for t in tags) else None


def _seq_step(tags: Sequence[str] | None) -> int:
    for tag in tags or ():
        if tag.startswith("seq:step:"):
            try:
                return int(tag[9:])
            except ValueError:
                return 0
    return 0


def _targets(value: Any) -> list[str]:
    """Node names a routing value names: a string, a ``Send``, a ``Command``, or a list of them."""
    out: list[str] = []
    for item in value if isinstance(value, (list, tuple)) else [value]:
        if isinstance(item, str) and item:
            out.append(item)
            continue
        goto = getattr(item, "goto", None)
        if goto is not None and type(item).__name__ == "Command":
            out.extend(_targets(goto))
            continue
        node = getattr(item, "node", None)
        if isinstance(node, str) and type(item).__name__ == "Send":
            out.append(node)
    return out


def _control_flow(error: BaseException) -> bool:
    return any(cls.__name__ in _CONTROL_FLOW for cls in type(error).__mro__)


def _message_dicts(messages: Any) -> list[Any]:
    """Chat messages as plain (role, content, tool calls) data, for the fingerprint only."""
    out: list[Any] = []
    for batch in items_of(messages):
        for message in items_of(batch) if isinstance(batch, (list, tuple)) else [batch]:
            out.append(
                [
                    field_of(message, "type"),
                    field_of(message, "content"),
                    field_of(message, "tool_calls") or None,
                ]
                if not isinstance(message, str)
                else message
            )
    return out


def _usage_of(response: Any) -> Usage:
    """Token counts from an ``LLMResult``: the messages' ``usage_metadata``, else ``llm_output``."""
    usage = Usage()
    found = False
    for batch in items_of(field_of(response, "generations")):
        for generation in items_of(batch):
            metadata = field_of(field_of(generation, "message"), "usage_metadata")
            if metadata is None:
                continue
            found = True
            for name, key in (("input_tokens", "input_tokens"), ("output_tokens", "output_tokens")):
                value = as_int(field_of(metadata, key))
                if value is not None:
                    setattr(usage, name, (getattr(usage, name) or 0) + value)
            cached = as_int(field_of(field_of(metadata, "input_token_details"), "cache_read"))
            if cached is not None:
                usage.cache_read_tokens = (usage.cache_read_tokens or 0) + cached
            reasoning = as_int(field_of(field_of(metadata, "output_token_details"), "reasoning"))
            if reasoning is not None:
                usage.reasoning_tokens = (usage.reasoning_tokens or 0) + reasoning
    if found:
        return usage
    token_usage = field_of(field_of(response, "llm_output"), "token_usage")
    return Usage(
        input_tokens=as_int(field_of(token_usage, "prompt_tokens")),
        output_tokens=as_int(field_of(token_usage, "completion_tokens")),
    )


def _response_fields(response: Any) -> tuple[str | None, str | None, list[str]]:
    """(response model, response id, finish reasons) from an ``LLMResult``."""
    output = field_of(response, "llm_output")
    model = as_str(field_of(output, "model_name"))
    response_id = as_str(field_of(output, "id"))
    reasons: list[str] = []
    for batch in items_of(field_of(response, "generations")):
        for generation in items_of(batch):
            metadata = field_of(field_of(generation, "message"), "response_metadata")
            model = model or as_str(field_of(metadata, "model_name"))
            response_id = response_id or as_str(field_of(metadata, "id"))
            reason = as_str(field_of(field_of(generation, "generation_info"), "finish_reason"))
            reason = reason or as_str(field_of(metadata, "finish_reason"))
            if reason is not None:
                reasons.append(reason)
    return model, response_id, reasons


class SpanTracker:
    """The callback handler's logic, independent of langchain_core's base class."""

    def __init__(self) -> None:
        self._runs: dict[uuid.UUID, _Run] = {}
        # Contexts of runs whose end arrived in another contextvars context (see _Run.leave).
        self._stale: dict[int, tuple[Context, Context | None]] = {}
        self.active = True

    # -- bookkeeping -----------------------------------------------------------------------------
    def _parent(self, parent_run_id: uuid.UUID | None) -> _Run | None:
        return self._runs.get(parent_run_id) if parent_run_id is not None else None

    def _keep(self, run_id: uuid.UUID, run: _Run) -> None:
        runs = self._runs
        if len(runs) >= _MAX_OPEN_RUNS:
            runs.pop(next(iter(runs)), None)
        runs[run_id] = run

    def _start(
        self,
        run_id: uuid.UUID,
        parent: _Run | None,
        operation: str | None,
        name: str,
        attributes: dict[str, AttributeValue] | None = None,
        tool_arguments: Any = None,
        node: str | None = None,
    ) -> None:
        self._sweep()  # first: a stale context here must not become the parent
        parent_context = parent.context if parent is not None else otel_context.get_current()
        if operation is None:
            self._keep(run_id, _Run(parent_context))
            return
        invocation = start_operation(
            operation, name, attributes, tool_arguments=tool_arguments, parent=parent_context
        )
        if invocation is None:
            self._keep(run_id, _Run(parent_context))
            return
        proxy = _RunSpan(invocation.span, parent_context)
        context = trace.set_span_in_context(proxy, invocation._context)
        if operation != semconv.OP_INVOKE_WORKFLOW:
            # An @agentspans.tool / @agentspans.agent of the same name called inside this run
            # is this run: it makes no second span.
            context = claim_for_framework(context, operation, name, invocation.span)
        run = _Run(context, invocation, node)
        run.proxy = proxy
        self._keep(run_id, run)
        run.enter()

    def _sweep(self) -> None:
        """Put back what runs that ended elsewhere left current here (see ``_Run.leave``)."""
        stale = self._stale
        if not stale:
            return
        current = otel_context.get_current()
        found = stale.get(id(current))
        if found is None or found[0] is not current:
            return
        while found is not None and found[0] is current:
            stale.pop(id(current), None)
            current = found[1] if found[1] is not None else Context()
            found = stale.get(id(current))
        otel_context.attach(current)

    def _end(
        self, run_id: uuid.UUID, result: Any = None, error: BaseException | None = None
    ) -> _Run | None:
        run = self._runs.pop(run_id, None)
        if run is None:
            return None
        run.leave(self._stale)
        invocation = run.invocation
        if invocation is not None:
            if error is not None and not _control_flow(error):
                invocation.fail(error)
            else:
                invocation.succeed(result)
        if run.proxy is not None:
            run.proxy.ended = True
        return run

    # -- chains: graphs, nodes, everything else --------------------------------------------------
    def on_chain_start(
        self,
        serialized: Any,
        inputs: Any,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not self.active:
            return
        parent = self._parent(parent_run_id)
        name = as_str(kwargs.get("name")) or as_str(field_of(serialized, "name")) or "chain"
        if parent is None:
            self._start(run_id, None, semconv.OP_INVOKE_WORKFLOW, name)
            return
        node = _is_node(tags, metadata)
        if node is None:
            self._start(run_id, parent, None, name)
            return
        attributes: dict[str, AttributeValue] = {}
        step = as_int((metadata or {}).get("langgraph_step"))
        if step is not None:
            attributes[semconv.FRAMEWORK_STEP] = step
        source = parent.routed.get(node) if parent.routed is not None else None
        if source is not None:
            attributes[semconv.HANDOFF_FROM_AGENT] = source
        self._start(run_id, parent, semconv.OP_INVOKE_AGENT, node, attributes, node=node)

    def on_chain_end(
        self,
        outputs: Any,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        run = self._runs.get(run_id)
        if run is None:
            return
        parent = self._parent(parent_run_id)
        if run.node is not None:
            if type(outputs).__name__ == "Command":
                self._route(run, _targets(outputs))
            self._publish_routes(run, parent)
        elif parent is not None and parent.node is not None and _seq_step(tags) >= 2:
            # A conditional edge: the run after the node's function and its writes.
            self._route(parent, _targets(outputs))
        self._end(run_id, None)

    def on_chain_error(
        self,
        error: BaseException,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        **kwargs: Any,
    ) -> None:
        run = self._runs.get(run_id)
        if run is None:
            return
        if run.node is not None and type(error).__name__ == "ParentCommand" and error.args:
            # A handoff to a node of the parent graph (Command(graph=Command.PARENT)).
            self._route(run, _targets(error.args[0]))
        self._end(run_id, None, error)

    @staticmethod
    def _route(run: _Run, targets: list[str]) -> None:
        if not targets:
            return
        if run.targets is None:
            run.targets = []
        before = len(run.targets)
        for target in targets:
            if target not in run.targets:
                run.targets.append(target)
        if len(run.targets) == before:
            return
        invocation = run.invocation
        if invocation is not None and invocation.span.is_recording():
            invocation.span.set_attribute(semconv.ROUTE_TARGETS, list(run.targets))

    @staticmethod
    def _publish_routes(node_run: _Run, graph: _Run | None) -> None:
        """Tell the graph who routed to each target, for the target's ``handoff.from_agent``."""
        if graph is None or node_run.node is None or not node_run.targets:
            return
        if graph.routed is None:
            graph.routed = {}
        for target in node_run.targets:
            graph.routed[target] = node_run.node

    # -- tools -----------------------------------------------------------------------------------
    def on_tool_start(
        self,
        serialized: Any,
        input_str: str,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not self.active:
            return
        name = as_str(kwargs.get("name")) or as_str(field_of(serialized, "name")) or "tool"
        attributes: dict[str, AttributeValue] = {}
        call_id = as_str(kwargs.get("tool_call_id"))
        if call_id is not None:
            attributes[semconv.GEN_AI_TOOL_CALL_ID] = call_id
        description = as_str(field_of(serialized, "description"))
        if description is not None:
            attributes[semconv.GEN_AI_TOOL_DESCRIPTION] = description
        arguments = ((), dict(inputs)) if isinstance(inputs, Mapping) else ((input_str,), {})
        self._start(
            run_id,
            self._parent(parent_run_id),
            semconv.OP_EXECUTE_TOOL,
            name,
            attributes,
            tool_arguments=arguments,
        )

    def on_tool_end(self, output: Any, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        run = self._runs.get(run_id)
        call_id = as_str(field_of(output, "tool_call_id")) if not isinstance(output, str) else None
        if run is not None and run.invocation is not None and call_id is not None:
            # Older langchain-core (0.3.5x among them) passes the call id only to the end, on the
            # ToolMessage, not to on_tool_start.
            span = run.invocation.span
            if span.is_recording():
                span.set_attribute(semconv.GEN_AI_TOOL_CALL_ID, call_id)
        content = field_of(output, "content") if not isinstance(output, str) else output
        self._end(run_id, content if content is not None else output)

    def on_tool_error(self, error: BaseException, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        self._end(run_id, None, error)

    # -- LLM runs --------------------------------------------------------------------------------
    def on_chat_model_start(
        self,
        serialized: Any,
        messages: Any,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._llm_start(run_id, parent_run_id, metadata, kwargs, _message_dicts(messages))

    def on_llm_start(
        self,
        serialized: Any,
        prompts: list[str],
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._llm_start(run_id, parent_run_id, metadata, kwargs, list(prompts))

    def _llm_start(
        self,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None,
        metadata: Mapping[str, Any] | None,
        kwargs: Mapping[str, Any],
        messages: list[Any],
    ) -> None:
        if not self.active:
            return
        self._sweep()
        parent = self._parent(parent_run_id)
        parent_context = parent.context if parent is not None else otel_context.get_current()
        params = kwargs.get("invocation_params")
        params = params if isinstance(params, Mapping) else {}
        metadata = metadata or {}
        model = (
            as_str(params.get("model"))
            or as_str(params.get("model_name"))
            or as_str(metadata.get("ls_model_name"))
        )
        provider = as_str(metadata.get("ls_provider"))
        digest = fingerprint(semconv.OP_CHAT, model, messages, params.get("tools"))
        llm = _LLMRun(model, provider, digest)
        run = _Run(otel_context.set_value(_LLM_RUN_KEY, llm, parent_context))
        run.llm = llm
        self._keep(run_id, run)
        run.enter()

    def on_llm_new_token(self, token: Any, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        run = self._runs.get(run_id)
        if run is not None and run.llm is not None and run.llm.first_token_ns is None:
            run.llm.first_token_ns = time.time_ns()

    def on_llm_end(self, response: Any, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        self._llm_end(run_id, response, None)

    def on_llm_error(self, error: BaseException, *, run_id: uuid.UUID, **kwargs: Any) -> None:
        self._llm_end(run_id, None, error)

    def _llm_end(self, run_id: uuid.UUID, response: Any, error: BaseException | None) -> None:
        run = self._runs.pop(run_id, None)
        if run is None or run.llm is None:
            return
        run.leave(self._stale)
        llm = run.llm
        runtime = RUNTIME.current
        if llm.covered or runtime is None:
            return  # a client wrapper traced the request itself
        parent = run.context
        if otel_context.get_value(LLM_CALL_KEY, parent) is not None:
            return  # inside another LLM span (a model wrapping a traced model)
        attributes: dict[str, AttributeValue] = {semconv.GEN_AI_OPERATION_NAME: semconv.OP_CHAT}
        if llm.provider is not None:
            attributes[semconv.GEN_AI_PROVIDER_NAME] = llm.provider
        if llm.model is not None:
            attributes[semconv.GEN_AI_REQUEST_MODEL] = llm.model
        attributes[semconv.REQUEST_FINGERPRINT] = llm.fingerprint
        agent = otel_context.get_value(AGENT_NAME_KEY, parent)
        if isinstance(agent, str):
            attributes[semconv.GEN_AI_AGENT_NAME] = agent
        if llm.first_token_ns is not None:
            attributes[semconv.GEN_AI_REQUEST_STREAM] = True
            attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = (
                llm.first_token_ns - llm.start_ns
            ) / 1e9
        if response is not None:
            attributes.update(_usage_of(response).attributes())
            model, response_id, reasons = _response_fields(response)
            if model is not None:
                attributes[semconv.GEN_AI_RESPONSE_MODEL] = model
            if response_id is not None:
                attributes[semconv.GEN_AI_RESPONSE_ID] = response_id
            if reasons:
                attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
        name = f"{semconv.OP_CHAT} {llm.model}" if llm.model else semconv.OP_CHAT
        span: Span = runtime.tracer.start_span(
            name,
            context=parent,
            kind=SpanKind.CLIENT,
            attributes=attributes,
            start_time=llm.start_ns,
        )
        if error is not None:
            from agentspans.wrappers._llm import public_error_type

            kind = public_error_type(error)
            span.set_attribute(semconv.ERROR_TYPE, kind)
            span.set_status(Status(StatusCode.ERROR, kind))
        span.end()


def _claim_llm_run(span: Any, parent_context: Context | None) -> None:
    """Start hook: an LLM span starting inside an LLM run means a client wrapper traced it."""
    llm = otel_context.get_value(_LLM_RUN_KEY, parent_context)
    if not isinstance(llm, _LLMRun):
        return
    attributes = getattr(span, "attributes", None) or {}
    if attributes.get(semconv.GEN_AI_OPERATION_NAME) in semconv.LLM_OPERATIONS:
        llm.covered = True


# It does nothing unless the parent context holds this key (see ``TraceProcessor``).
_claim_llm_run.context_keys = (_LLM_RUN_KEY,)  # type: ignore[attr-defined]
START_HOOKS = [_claim_llm_run]

_CALLBACKS = (
    "on_chain_start",
    "on_chain_end",
    "on_chain_error",
    "on_tool_start",
    "on_tool_end",
    "on_tool_error",
    "on_chat_model_start",
    "on_llm_start",
    "on_llm_new_token",
    "on_llm_end",
    "on_llm_error",
)


def _guarded(tracker: SpanTracker, name: str) -> Callable[..., None]:
    method = getattr(tracker, name)

    def callback(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            method(*args, **kwargs)
        except Exception as exc:
            report_internal_error(f"langchain callback {name}", exc)

    callback.__name__ = name
    return callback


def make_handler(base: type, tracker: SpanTracker) -> Any:
    """An instance of a ``base`` (``BaseCallbackHandler``) subclass that feeds ``tracker``."""
    namespace: dict[str, Any] = {name: _guarded(tracker, name) for name in _CALLBACKS}
    # Called inline, in the run's own thread or task, never in an executor: the context set at a
    # run's start must be the one its code runs in.
    namespace["run_inline"] = True
    # Under the test suite internal errors must fail the run instead of being logged by
    # langchain_core's handler loop.
    namespace["raise_error"] = property(lambda self: strict())
    handler_class = type("AgentspansCallbackHandler", (base,), namespace)
    return handler_class()


def _install(module: types.ModuleType) -> Callable[[], None]:
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.tracers import context as tracer_context

    _versions.warn_if_unsupported("langchain-core")
    tracker = SpanTracker()
    handler = make_handler(BaseCallbackHandler, tracker)
    variable: ContextVar[Any] = ContextVar("agentspans_langchain_handler", default=handler)
    tracer_context.register_configure_hook(variable, True)

    def undo() -> None:
        tracker.active = False
        # langchain_core has no public unregister: drop our entry from the list the public
        # register function appended it to; the handler is inert either way.
        hooks = getattr(tracer_context, "_configure_hooks", None)
        if isinstance(hooks, list):
            hooks[:] = [hook for hook in hooks if not (hook and hook[0] is variable)]

    return undo


def instrument(patches: Patches) -> None:
    """Register the callback handler when ``langchain_core`` is (or gets) imported."""
    patches.on_import("langchain_core", _install)


# Read by tests: the span of a run, for checking parents without guessing.
__all__ = ["START_HOOKS", "SpanTracker", "instrument", "make_handler"]
