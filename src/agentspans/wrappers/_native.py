"""Clients that emit their own CLIENT span per call: enrich that span instead of adding a second.

The ``anthropic`` SDK (2.x) starts a span named ``anthropic.messages.create`` (scope
``com.anthropic.sdk.python``) inside each call when a tracer provider is set. Whether that span
reaches agentspans' pipeline depends on the app (the client may be given another provider, or
have its spans switched off), so the wrapper does not guess. It runs the call under a
:class:`NativeAwareInvocation` placed in the context; the :func:`claim_hook` start hook, run by
the trace processor when the native span starts, hands that span to it:

* claimed: the invocation writes what the SDK leaves out (request parameters, fingerprint,
  ``gen_ai.agent.name``, content when captured) on the live native span at its start, and just
  before it ends maps the SDK's own names onto the conventions' (``anthropic.message.stop_reason``
  to ``gen_ai.response.finish_reasons``, ``cache_write`` to ``cache_creation``); the SDK ends it.
* not claimed (no native span here): the call gets agentspans' own span, started at the time the
  call began, exactly as for a client without native spans.

Either way the trace has one span per call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind

from agentspans._errors import report_internal_error
from agentspans._runtime import LLM_CALL_KEY, RUNTIME, inside_llm_call
from agentspans.wrappers import _raw
from agentspans.wrappers._llm import LLMInvocation, LLMRequest, ResponseReader

_PENDING_KEY = otel_context.create_key("agentspans.native_llm_call")

# Attribute the SDK writes -> the conventions' name, with how to turn its value into ours.
Aliases = Mapping[str, tuple[str, Callable[[Any], Any]]]


class NativeAwareInvocation(LLMInvocation):
    """An LLM call whose span is the client's own when it has one, agentspans' otherwise."""

    __slots__ = ("_aliases", "_body", "_claimed", "_native", "_parent", "_start_ns", "_tracer")

    def __init__(
        self,
        parent: Context,
        tracer: trace.Tracer,
        request: LLMRequest,
        reader: ResponseReader,
        capture: bool,
        aliases: Aliases,
    ) -> None:
        context = otel_context.set_value(LLM_CALL_KEY, True, parent)
        super().__init__(trace.INVALID_SPAN, context, request, reader, capture)
        self._context = otel_context.set_value(_PENDING_KEY, self, context)
        self._parent = parent
        self._tracer = tracer
        self._aliases = aliases
        self._start_ns = time.time_ns()
        self._claimed = False
        self._native: Span | None = None
        # A raw response's body the SDK's span ends with, read by agentspans on the way (the SDK
        # records no usage from a body it leaves to the app): summarised just before that end.
        self._body: Any = None

    # -- the native span -------------------------------------------------------------------------
    def claim(self, span: Span) -> None:
        """Adopt ``span`` (just started by the client) as this call's span."""
        if self._claimed:
            return
        self._claimed = True
        try:  # runs inside the SDK's call: an error here must never reach the app
            if not span.is_recording():
                return
            self._native = span
            present = _attributes_of(span)
            missing = {
                k: v for k, v in self.request.attributes(self.capture).items() if k not in present
            }
            span.set_attributes(missing)
            _before_end(span, self._aliases, self._settle_body)
        except Exception as exc:
            report_internal_error("claiming a native span", exc)

    def _settle_body(self) -> None:
        body, self._body = self._body, None
        if body is not None:
            body.exhausted()

    def record_summary(self, summary: Any) -> None:
        """On the SDK's span, only what it did not record itself."""
        native = self._native
        if native is None:
            super().record_summary(summary)
            return
        present = _attributes_of(native)
        native.set_attributes({k: v for k, v in summary.attributes().items() if k not in present})

    def end(self, end_time: int | None = None) -> None:
        if self._native is None:
            super().end(end_time)  # the SDK ends its own span

    # -- outcome ---------------------------------------------------------------------------------
    def succeed(self, result: Any) -> Any:
        if self._claimed:
            if self.raw_mode is not None and self._native is not None:
                try:
                    self._body = _raw.follow_json_body(result, self)
                except Exception as exc:
                    report_internal_error("native raw response", exc)
            return result  # the client ends its span when the call (or its stream) is done
        self._open_own_span()
        return super().succeed(result)

    def fail(self, exc: BaseException) -> None:
        if self._claimed:
            return  # the client records its own error (error.type, HTTP status) and ends it
        self._open_own_span()
        super().fail(exc)

    def _open_own_span(self) -> None:
        request = self.request
        self.span = self._tracer.start_span(
            request.span_name(),
            context=self._parent,
            kind=SpanKind.CLIENT,
            attributes=request.attributes(self.capture),
            start_time=self._start_ns,
        )


def _attributes_of(span: Span) -> Mapping[str, Any]:
    """A live SDK span's attributes so far (the API's ``Span`` does not promise to expose them)."""
    attributes = getattr(span, "attributes", None)
    return attributes if isinstance(attributes, Mapping) else {}


def _before_end(span: Span, aliases: Aliases, settle: Callable[[], None]) -> None:
    """Copy the SDK's attributes to the conventions' names just before ``span`` ends.

    An SDK span's attributes freeze when ``end()`` starts, before any processor runs, so the copy
    must happen on the span itself: its ``end`` is wrapped for this one instance.
    """
    original_end = span.end

    def end(end_time: int | None = None) -> None:
        try:
            settle()
            attributes = _attributes_of(span)
            for source, (target, convert) in aliases.items():
                if target not in attributes and source in attributes:
                    value = convert(attributes[source])
                    if value is not None:
                        span.set_attribute(target, value)
        except Exception as exc:
            report_internal_error("native span aliases", exc)
        finally:
            original_end(end_time)

    span.end = end  # type: ignore[method-assign]


def start_native_aware_call(
    request_of: Callable[[bool], LLMRequest], reader: ResponseReader, aliases: Aliases
) -> NativeAwareInvocation | None:
    runtime = RUNTIME.current
    if runtime is None or inside_llm_call():
        return None
    capture = runtime.capture_content
    return NativeAwareInvocation(
        otel_context.get_current(), runtime.tracer, request_of(capture), reader, capture, aliases
    )


def claim_hook(scope_prefix: str, span_names: frozenset[str]) -> Callable[[Any, Any], None]:
    """A trace-processor start hook: hand a client's native LLM span to the waiting call."""

    def hook(span: Any, parent_context: Context | None) -> None:
        pending = otel_context.get_value(_PENDING_KEY, parent_context)
        if not isinstance(pending, NativeAwareInvocation):
            return
        scope = getattr(span, "instrumentation_scope", None)
        name = getattr(scope, "name", None)
        if span.name in span_names and isinstance(name, str) and name.startswith(scope_prefix):
            pending.claim(span)

    # It does nothing unless the parent context holds this key (see ``TraceProcessor``).
    hook.context_keys = (_PENDING_KEY,)  # type: ignore[attr-defined]
    return hook
