"""anthropic: ``messages`` and ``beta.messages``: ``create`` (sync, async, ``stream=True``),
``parse`` and ``stream()``; ``with_raw_response`` / ``with_streaming_response`` call the same
methods with the raw-response header, and the span follows the body (see ``_raw``).

SDKs that emit their own span per call (2.x: ``anthropic.messages.create``, scope
``com.anthropic.sdk.python``) keep it as the call's only span, enriched by agentspans (see
:mod:`agentspans.wrappers._native`); older SDKs get agentspans' ``chat {model}`` span.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from typing import Any

from agentspans import semconv
from agentspans._patching import Patches
from agentspans._runtime import RUNTIME
from agentspans.wrappers import _content, _providers, _tokens, _versions
from agentspans.wrappers._evidence import request_evidence
from agentspans.wrappers._fields import as_int, as_str, field_of, sent
from agentspans.wrappers._lifecycle import Args, Invocation, Kwargs, traced
from agentspans.wrappers._llm import (
    LLMRequest,
    ResponseSummary,
    Usage,
    fingerprint_parameters,
    request_parameters,
    start_llm_call,
)
from agentspans.wrappers._native import Aliases, claim_hook, start_native_aware_call
from agentspans.wrappers._raw import raw_response_mode
from agentspans.wrappers._streams import TracedStreamManager

PROVIDER = "anthropic"
NATIVE_SCOPE = "com.anthropic.sdk.python"
NATIVE_SPAN_NAMES = frozenset({"anthropic.messages.create"})

# What the SDK's native span calls by its own names, mapped onto the conventions' names.
NATIVE_ALIASES: Aliases = {
    "anthropic.message.stop_reason": (
        semconv.GEN_AI_RESPONSE_FINISH_REASONS,
        lambda value: [value] if isinstance(value, str) else None,
    ),
    "gen_ai.usage.cache_write.input_tokens": (
        semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
        as_int,
    ),
}

START_HOOKS = [claim_hook(NATIVE_SCOPE, NATIVE_SPAN_NAMES)]

_PARAMETERS = {
    "max_tokens": semconv.GEN_AI_REQUEST_MAX_TOKENS,
    "temperature": semconv.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": semconv.GEN_AI_REQUEST_TOP_P,
    "top_k": semconv.GEN_AI_REQUEST_TOP_K,
    "stop_sequences": semconv.GEN_AI_REQUEST_STOP_SEQUENCES,
}


def message_usage(usage: Any) -> Usage:
    """Anthropic's ``input_tokens`` excludes cached input; the conventions' count includes it."""
    cache_read = as_int(field_of(usage, "cache_read_input_tokens"))
    cache_creation = as_int(field_of(usage, "cache_creation_input_tokens"))
    uncached = as_int(field_of(usage, "input_tokens"))
    return Usage(
        input_tokens=None
        if uncached is None
        else uncached + (cache_read or 0) + (cache_creation or 0),
        output_tokens=as_int(field_of(usage, "output_tokens")),
        cache_read_tokens=cache_read,
        cache_creation_tokens=cache_creation,
    )


def message_summary(message: Any, capture: bool) -> ResponseSummary:
    reason = as_str(field_of(message, "stop_reason"))
    summary = ResponseSummary(
        response_id=as_str(field_of(message, "id")),
        model=as_str(field_of(message, "model")),
        finish_reasons=[reason] if reason is not None else [],
        usage=message_usage(field_of(message, "usage")),
    )
    if capture:
        summary.output_messages = [_content.anthropic_output(field_of(message, "content"), reason)]
    return summary


class MessageEventReader:
    """Accumulates raw message stream events (also what the ``stream()`` helper yields)."""

    __slots__ = ("_capture", "_finished", "_text", "summary")

    def __init__(self, capture: bool) -> None:
        self.summary = ResponseSummary()
        self._capture = capture
        self._text: list[str] = []
        self._finished = False

    def read(self, event: Any) -> bool:
        kind = field_of(event, "type")
        summary = self.summary
        if kind == "content_block_delta":
            delta = field_of(event, "delta")
            text = field_of(delta, "text")
            if isinstance(text, str):
                self._text.append(text)
            return True
        if kind == "content_block_start":
            return bool(field_of(field_of(event, "content_block"), "type") == "tool_use")
        if kind == "message_start":
            message = field_of(event, "message")
            summary.response_id = as_str(field_of(message, "id"))
            summary.model = as_str(field_of(message, "model"))
            start = message_usage(field_of(message, "usage"))
            start.output_tokens = None  # a placeholder until message_delta
            summary.usage.merge(start)
        elif kind == "message_delta":
            reason = as_str(field_of(field_of(event, "delta"), "stop_reason"))
            if reason is not None:
                summary.finish_reasons = [reason]
            usage = field_of(event, "usage")
            if usage is not None:
                final = message_usage(usage)
                if final.input_tokens is not None and summary.usage.input_tokens is not None:
                    final.input_tokens = None  # message_start's total already counts the cache
                summary.usage.merge(final)
        elif kind == "message_stop":
            self._finished = True
        if self._capture and kind in ("message_delta", "message_stop"):
            summary.output_messages = [
                {
                    "role": "assistant",
                    "parts": [{"type": "text", "content": "".join(self._text)}],
                    "finish_reason": summary.finish_reasons[0] if summary.finish_reasons else None,
                }
            ]
        return False

    def settle(self, source: Any) -> None:
        """Take what a helper read through its own methods (``until_done``, ``text_stream``)."""
        if self.summary.usage.known():
            return
        try:
            snapshot = source.current_message_snapshot
        except Exception:  # no message_start yet, or not a helper stream
            return
        final = message_summary(snapshot, self._capture)
        final.response_id = final.response_id or self.summary.response_id
        self.summary = final
        self._finished = self._finished or bool(final.finish_reasons)

    def finished(self) -> bool:
        return self._finished

    def output_text(self) -> str:
        return "".join(self._text)


class MessagesReader:
    _types: tuple[tuple[type, ...], tuple[type, ...]] | None = None

    def _classes(self) -> tuple[tuple[type, ...], tuple[type, ...]]:
        if self._types is None:
            from anthropic import AsyncStream, Stream

            sync: tuple[type, ...] = (Stream,)
            asynchronous: tuple[type, ...] = (AsyncStream,)
            try:
                from anthropic.lib.streaming import AsyncMessageStream, MessageStream

                sync, asynchronous = (*sync, MessageStream), (*asynchronous, AsyncMessageStream)
            except ImportError:
                pass
            try:  # what ``beta.messages.stream()`` yields
                from anthropic.lib.streaming import BetaAsyncMessageStream, BetaMessageStream

                sync = (*sync, BetaMessageStream)
                asynchronous = (*asynchronous, BetaAsyncMessageStream)
            except ImportError:
                pass
            type(self)._types = (sync, asynchronous)
        assert self._types is not None
        return self._types

    def is_stream(self, result: Any) -> bool:
        return isinstance(result, self._classes()[0])

    def is_async_stream(self, result: Any) -> bool:
        return isinstance(result, self._classes()[1])

    def summarise(self, result: Any, capture: bool) -> ResponseSummary | None:
        return message_summary(result, capture)

    def chunk_reader(self, capture: bool) -> MessageEventReader:
        return MessageEventReader(capture)


READER = MessagesReader()


def messages_request(instance: Any, kwargs: Mapping[str, Any], capture: bool) -> LLMRequest:
    client = getattr(instance, "_client", None)
    host, port = _providers.split_server(getattr(client, "base_url", None))
    model = as_str(kwargs.get("model"))
    messages = kwargs.get("messages")
    system = kwargs.get("system") if sent(kwargs.get("system")) else None
    streaming = kwargs.get("stream") is True
    request = LLMRequest(
        operation=semconv.OP_CHAT,
        provider=PROVIDER,
        model=model,
        parameters=request_parameters(kwargs, _PARAMETERS),
        server_address=host,
        server_port=port,
        streaming=streaming,
        fingerprint_parts=(
            semconv.OP_CHAT,
            model,
            system,
            messages,
            kwargs.get("tools") if sent(kwargs.get("tools")) else None,
            fingerprint_parameters(kwargs, ("model", "messages", "system", "tools")),
        ),
        prompt_text=_tokens.prompt_text([system, messages]) if streaming else None,
    )
    request.parameters.update(request_evidence(messages))
    if capture:
        request.input_messages, request.system_instructions = _content.anthropic_messages(
            messages, system
        )
    return request


def _has_native_spans() -> bool:
    try:
        return importlib.util.find_spec("anthropic._tracing") is not None
    except (ImportError, ValueError):
        return False


def _starter(kwargs: Mapping[str, Any], instance: Any, native: bool) -> Invocation | None:
    def request_of(capture: bool) -> LLMRequest:
        return messages_request(instance, kwargs, capture)

    raw_mode = raw_response_mode(kwargs)
    if native:
        invocation = start_native_aware_call(request_of, READER, NATIVE_ALIASES)
        if invocation is not None:
            invocation.raw_mode = raw_mode  # for the span of its own it opens without a native one
        return invocation
    return start_llm_call(request_of, READER, raw_mode)


def create_factory(owner: Any, attribute: str, raw: Any) -> Any:
    native = _has_native_spans()

    def start(instance: Any, args: Args, kwargs: Kwargs) -> Invocation | None:
        return _starter(kwargs, instance, native)

    return traced(raw, start)


def stream_factory(owner: Any, attribute: str, raw: Any) -> Any:
    """``messages.stream()`` returns a manager; the request (and the span) starts on enter."""
    native = _has_native_spans()

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Args, kwargs: Kwargs) -> Any:
        manager = wrapped(*args, **kwargs)
        if RUNTIME.current is None:
            return manager
        request_kwargs = {**kwargs, "stream": True}

        def start(_instance: Any, _args: Args, _kwargs: Kwargs) -> Invocation | None:
            return _starter(request_kwargs, instance, native)

        return TracedStreamManager(manager, start)

    return wrapper


# The modules of ``messages`` and ``beta.messages`` (the resources moved into packages in 0.4x);
# ``parse`` (structured output) is traced like ``create``; ``count_tokens`` is no LLM call.
_MODULES = (
    "anthropic.resources.messages",
    "anthropic.resources.messages.messages",
    "anthropic.resources.beta.messages",
    "anthropic.resources.beta.messages.messages",
)
_FACTORIES = {"create": create_factory, "parse": create_factory, "stream": stream_factory}


def _install(patches: Patches) -> Callable[[Any], None]:
    def install(module: Any) -> None:
        for class_name in ("Messages", "AsyncMessages"):
            cls = getattr(module, class_name, None)
            if not isinstance(cls, type):
                continue
            for method, factory in _FACTORIES.items():
                if callable(vars(cls).get(method)):
                    patches.wrap(cls, method, factory)

    return install


def instrument(patches: Patches) -> None:
    """Register the anthropic patches; each applies when its module is (or was) imported."""
    _versions.warn_if_unsupported("anthropic")
    for module in _MODULES:
        patches.on_import(module, _install(patches))
