"""What every LLM call has in common, whatever the client: its span, request, response and failure.

A client module (openai, anthropic, litellm) turns the call's arguments into an
:class:`LLMRequest` and supplies a :class:`ResponseReader` that knows its response and stream
chunk types. :func:`start_llm_call` opens the ``chat {model}`` / ``embeddings {model}`` CLIENT
span; :class:`LLMInvocation` reads the result through the reader, or hands a stream to a proxy
from :mod:`agentspans.wrappers._streams` that ends the span later. The lifecycle itself (call the
wrapped function exactly once, re-raise unchanged) is :mod:`agentspans.wrappers._lifecycle`'s.

Nothing here raises into the application: readers see provider objects that may be malformed
(``None`` where a number belongs, unknown shapes) and every accessor tolerates that.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from agentspans import semconv
from agentspans._fingerprint import fingerprint
from agentspans._runtime import AGENT_NAME_KEY, LLM_CALL_KEY, RUNTIME
from agentspans.wrappers import _attributes, _content, _evidence, _raw, _streams
from agentspans.wrappers._fields import as_int, field_of, items_of, sent
from agentspans.wrappers._lifecycle import Invocation, error_type
from agentspans.wrappers._start import start_client_span

# Keyword arguments that shape the transport, not the request the model sees: left out of the
# fingerprint so a retry with a longer timeout is still "the same request". ``extra_headers`` can
# carry credentials, so it is never read at all.
TRANSPORT_PARAMETERS = frozenset(
    {
        "extra_headers",
        "extra_query",
        "timeout",
        "stream",
        "stream_options",
        "api_key",
        "api_base",
        "base_url",
        "headers",
        "metadata",
        "user",
        "store",
        "safety_identifier",
        "prompt_cache_key",
        "max_retries",
        "client",
        "litellm_logging_obj",
    }
)


@dataclass
class Usage:
    """Token counts as the conventions define them: input includes cached input."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_creation_tokens: int | None = None
    reasoning_tokens: int | None = None

    def merge(self, other: Usage) -> None:
        """Take every count ``other`` knows (a later chunk's usage supersedes an earlier one)."""
        for name in (
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_creation_tokens",
            "reasoning_tokens",
        ):
            value = getattr(other, name)
            if value is not None:
                setattr(self, name, value)

    def known(self) -> bool:
        return self.input_tokens is not None or self.output_tokens is not None

    def attributes(self) -> dict[str, AttributeValue]:
        out: dict[str, AttributeValue] = {}
        if self.input_tokens is not None:
            out[semconv.GEN_AI_USAGE_INPUT_TOKENS] = self.input_tokens
        if self.output_tokens is not None:
            out[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = self.output_tokens
        if self.cache_read_tokens is not None:
            out[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = self.cache_read_tokens
        if self.cache_creation_tokens is not None:
            out[semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = self.cache_creation_tokens
        if self.reasoning_tokens is not None:
            out[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = self.reasoning_tokens
        return out


@dataclass
class ResponseSummary:
    """What a response (or a stream's chunks, accumulated) says, in provider-neutral terms."""

    response_id: str | None = None
    model: str | None = None
    finish_reasons: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    # GenAI-format output messages; filled only when content capture is on.
    output_messages: list[dict[str, Any]] | None = None
    # The server the response shows it came from, when the request could not tell (an
    # OpenAI-compatible server on an unremarkable URL); see ``_providers.provider_from_response``.
    provider: str | None = None
    # The tool calls the response asked for, by id (dependency evidence, see ``_evidence``).
    tool_call_ids: list[str] = field(default_factory=list)

    def attributes(self) -> dict[str, AttributeValue]:
        out: dict[str, AttributeValue] = {}
        if self.tool_call_ids:
            out[semconv.RESPONSE_TOOL_CALL_IDS] = tuple(self.tool_call_ids)
        if self.response_id is not None:
            out[semconv.GEN_AI_RESPONSE_ID] = self.response_id
        if self.model is not None:
            out[semconv.GEN_AI_RESPONSE_MODEL] = self.model
        if self.finish_reasons:
            out[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = tuple(self.finish_reasons)
        out.update(self.usage.attributes())
        return out


class ChunkReader(Protocol):
    """Accumulates one stream's chunks (or events) into a :class:`ResponseSummary`."""

    summary: ResponseSummary

    def read(self, chunk: Any) -> bool:
        """Account for ``chunk``; True when it carries output (text, tool call, embedding)."""
        ...

    def finished(self) -> bool:
        """Whether the stream reached its end marker (a finish reason, ``message_stop``, ...)."""
        ...

    def output_text(self) -> str:
        """The text streamed so far, for token estimation when no usage arrived."""
        ...


class ResponseReader(Protocol):
    """A client's knowledge of its result types."""

    def is_stream(self, result: Any) -> bool: ...

    def is_async_stream(self, result: Any) -> bool: ...

    def summarise(self, result: Any, capture: bool) -> ResponseSummary | None:
        """A non-stream result's summary, or None for a result of an unknown type."""
        ...

    def chunk_reader(self, capture: bool) -> ChunkReader: ...


@dataclass
class LLMRequest:
    """One LLM call as the client was asked to make it."""

    operation: str
    provider: str
    model: str | None
    # gen_ai.request.* parameters that were really sent
    parameters: dict[str, AttributeValue] = field(default_factory=dict)
    server_address: str | None = None
    server_port: int | None = None
    streaming: bool = False
    # What the fingerprint is computed from: the normalised request, never stored.
    fingerprint_parts: tuple[Any, ...] = ()
    # With content capture on: GenAI-format input messages and system instructions.
    input_messages: list[dict[str, Any]] | None = None
    system_instructions: list[dict[str, Any]] | None = None
    # Text of the prompt, kept only for streams, to estimate input tokens without usage.
    prompt_text: str | None = None
    # True when ``provider`` is the conventions' fallback for an unrecognised server, which the
    # response may correct.
    provider_is_a_guess: bool = False

    def span_name(self) -> str:
        return f"{self.operation} {self.model}" if self.model else self.operation

    def attributes(
        self, capture: bool, context: otel_context.Context | None = None
    ) -> dict[str, AttributeValue]:
        """The span's attributes; the enclosing agent's name is read from ``context`` (default:
        the current one)."""
        attrs: dict[str, AttributeValue] = {
            semconv.GEN_AI_OPERATION_NAME: self.operation,
            semconv.GEN_AI_PROVIDER_NAME: self.provider,
        }
        if self.model is not None:
            attrs[semconv.GEN_AI_REQUEST_MODEL] = self.model
        attrs.update(self.parameters)
        if self.streaming:
            attrs[semconv.GEN_AI_REQUEST_STREAM] = True
        if self.server_address is not None:
            attrs[semconv.SERVER_ADDRESS] = self.server_address
        if self.server_port is not None:
            attrs[semconv.SERVER_PORT] = self.server_port
        attrs[semconv.REQUEST_FINGERPRINT] = fingerprint(*self.fingerprint_parts)
        # (``get_value`` reads a given context's dict, else the current one's)
        agent = (context if context is not None else otel_context.get_current()).get(AGENT_NAME_KEY)
        if isinstance(agent, str):
            attrs[semconv.GEN_AI_AGENT_NAME] = agent
        if capture:
            if self.input_messages is not None:
                attrs[semconv.GEN_AI_INPUT_MESSAGES] = _content.to_json(self.input_messages)
            if self.system_instructions:
                attrs[semconv.GEN_AI_SYSTEM_INSTRUCTIONS] = _content.to_json(
                    self.system_instructions
                )
        return attrs


def request_parameters(
    kwargs: Mapping[str, Any], names: Mapping[str, str]
) -> dict[str, AttributeValue]:
    """The ``gen_ai.request.*`` attributes for the arguments in ``names`` that were sent."""
    out: dict[str, AttributeValue] = {}
    # Parameters an SDK has no argument for travel in ``extra_body``: they were sent all the same.
    extra = kwargs.get("extra_body")
    # (``None`` first: ``isinstance`` against an ABC is a Python-level check)
    if extra is None or not isinstance(extra, Mapping) or not extra:
        if names.keys().isdisjoint(kwargs):
            return out  # none of them sent: one check in C instead of one per name
        extra = _NOTHING
    stop = semconv.GEN_AI_REQUEST_STOP_SEQUENCES
    for argument, attribute in names.items():
        if argument in kwargs:
            value = kwargs[argument]
        elif argument in extra:
            value = extra[argument]
        else:
            continue  # most parameters are not sent: skip them at the cost of a lookup
        kind = type(value)
        if (kind is int or kind is float) and attribute != stop:
            out.setdefault(attribute, value)  # a plain number: sent, and recorded as it is
            continue
        if not sent(value):
            continue
        if attribute == stop:
            stops = [value] if isinstance(value, str) else items_of(value)
            if stops and all(isinstance(s, str) for s in stops):
                out[attribute] = stops
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out.setdefault(attribute, value)
    return out


_NOTHING: Mapping[str, Any] = {}


def fingerprint_parameters(kwargs: Mapping[str, Any], content: Iterable[str]) -> dict[str, Any]:
    """The sent arguments that shape the answer, other than the ``content`` ones hashed apart."""
    skip = _skipped(content if type(content) is tuple else tuple(content))
    # (a value of a builtin type is sent whatever it is, but None: ``sent`` asked only of others)
    builtin = _BUILTIN_TYPES
    return {
        k: v
        for k, v in kwargs.items()
        if k not in skip and v is not None and (type(v) in builtin or sent(v))
    }


_BUILTIN_TYPES = frozenset({str, int, float, bool, list, dict, tuple})


@lru_cache(maxsize=64)  # one entry per call site: building the set per call is waste
def _skipped(content: tuple[str, ...]) -> frozenset[str]:
    return TRANSPORT_PARAMETERS.union(content)


def set_attributes(span: Span, attributes: Mapping[str, AttributeValue]) -> None:
    """Set ``attributes`` on a span still recording (an ended one is left alone, unwarned)."""
    if not attributes or _attributes.set_directly(span, attributes):
        return
    if span.is_recording():
        span.set_attributes(attributes)


# (reader, result type) pairs whose results are neither of the reader's stream types.
_NOT_STREAMS: set[tuple[object, type]] = set()
_MAX_NOT_STREAMS = 256


class LLMInvocation(Invocation):
    """The span of one LLM call; hands streams to a proxy that ends it when the stream ends."""

    __slots__ = ("_ends_with_body", "capture", "raw_mode", "reader", "request")

    # Provider errors can echo request content or a masked key: record only the error's type.
    record_exception_message = False

    def __init__(
        self,
        span: Span,
        context: otel_context.Context,
        request: LLMRequest,
        reader: ResponseReader,
        capture: bool,
        raw_mode: str | None = None,
    ) -> None:
        super().__init__(span, context)
        self.request = request
        self.reader = reader
        self.capture = capture
        # ``X-Stainless-Raw-Response`` of a ``with_raw_response`` / ``with_streaming_response``
        # call: the result is then the SDK's raw response, its body read later (or already).
        self.raw_mode = raw_mode
        self._ends_with_body = False

    def on_result(self, result: Any) -> Any:
        if self.raw_mode is not None:
            self._ends_with_body = _raw.trace_raw_response(result, self)
            return result
        reader = self.reader
        cls = type(result)
        key = (reader, cls)
        try:
            known = key in _NOT_STREAMS  # what a type is does not change: asked once per type
        except TypeError:  # a reader that cannot be hashed is asked every time
            known = hashable = False
        else:
            hashable = True
        if not known:
            if reader.is_stream(result):
                return _streams.traced_stream(result, self, asynchronous=False)
            if reader.is_async_stream(result):
                return _streams.traced_stream(result, self, asynchronous=True)
            # (a proxy's ``__class__`` may differ per instance: not remembered)
            if hashable and result.__class__ is cls and len(_NOT_STREAMS) < _MAX_NOT_STREAMS:
                _NOT_STREAMS.add(key)
        self.summarise(result)
        return result

    def summarise(self, response: Any) -> None:
        """Record what a complete response says: the parsed model or a raw body's document."""
        reader = self.reader
        summary = reader.summarise(response, self.capture)
        if summary is not None:
            if not getattr(reader, "reads_tool_call_ids", False):
                summary.tool_call_ids = _evidence.response_tool_call_ids(response)
            self.record_summary(summary)

    def ends_later(self, result: Any, proxy: Any) -> bool:
        return self._ends_with_body or proxy is not result

    def record_summary(self, summary: ResponseSummary) -> None:
        span = self.span
        if not span.is_recording():
            return
        set_attributes(span, summary.attributes())
        if summary.provider is not None and self.request.provider_is_a_guess:
            span.set_attribute(semconv.GEN_AI_PROVIDER_NAME, summary.provider)
        if self.capture and summary.output_messages is not None:
            span.set_attribute(
                semconv.GEN_AI_OUTPUT_MESSAGES, _content.to_json(summary.output_messages)
            )

    def record_error(self, exc: BaseException) -> None:
        span = self.span
        if not span.is_recording():
            return
        kind = public_error_type(exc)
        span.set_attribute(semconv.ERROR_TYPE, kind)
        span.set_status(Status(StatusCode.ERROR, kind))
        status = as_int(field_of(exc, "status_code"))
        if status is not None:
            span.set_attribute(semconv.HTTP_RESPONSE_STATUS_CODE, status)


def public_error_type(exc: BaseException) -> str:
    """``error.type``: the class under the name its package exports (``openai.RateLimitError``)."""
    cls = type(exc)
    if cls.__module__ == "builtins":
        return error_type(exc)  # ``ConnectionError``, as the conventions spell builtins
    package = cls.__module__.split(".", 1)[0]
    module = sys.modules.get(package)
    if module is not None and getattr(module, cls.__name__, None) is cls:
        return f"{package}.{cls.__name__}"
    return error_type(exc)


def start_llm_call(
    request_of: Any, reader: ResponseReader, raw_mode: str | None = None
) -> LLMInvocation | None:
    """Open the span for the request ``request_of(capture)`` builds; None when not traced.

    ``request_of`` is only called when a span will be made, so an untraced call (not
    instrumented, or inside another client's LLM span, as litellm calling openai) costs nothing.
    """
    runtime = RUNTIME.current
    if runtime is None:
        return None
    # The current context, read once: ``Context`` is a dict, so its keys are read directly.
    parent = otel_context.get_current()
    if parent.get(LLM_CALL_KEY) is not None:
        return None  # inside another client's LLM span
    capture = runtime.capture_content
    request: LLMRequest = request_of(capture)
    span = start_client_span(
        runtime.tracer, request.span_name(), parent, request.attributes(capture, parent)
    )
    # ``set_span_in_context`` then ``set_value`` would copy the parent's context twice.
    values = dict(parent)
    values[_SPAN_KEY] = span
    values[LLM_CALL_KEY] = True
    context = otel_context.Context(values)
    return LLMInvocation(span, context, request, reader, capture, raw_mode)


def _span_key() -> str:
    """The key ``trace.set_span_in_context`` keeps the span under (found through it, once)."""
    (key,) = trace.set_span_in_context(trace.INVALID_SPAN, otel_context.Context()).keys()
    return key


_SPAN_KEY = _span_key()
