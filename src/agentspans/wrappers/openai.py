"""openai: chat completions, the Responses API, legacy completions and embeddings.

``create`` (and ``parse`` where the version has it) of the sync and async resources are patched
when ``openai`` is imported (never imported here). The SDKs' ``chat.completions.stream()`` /
``responses.stream()`` helpers call ``create(stream=True)``, so they are traced through it;
closing the helper closes the stream's response, which ends the span. ``with_raw_response`` and
``with_streaming_response`` call the same methods with a raw-response header: the span then
follows the raw response's body (:mod:`agentspans.wrappers._raw`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agentspans import semconv
from agentspans._patching import Patches
from agentspans.wrappers import _content, _providers, _tokens, _versions
from agentspans.wrappers._evidence import (
    add_item_tool_call_ids,
    add_message_tool_call_ids,
    request_evidence,
)
from agentspans.wrappers._fields import as_int, as_str, field_of, items_of, reader_of, sent
from agentspans.wrappers._getters import read_property
from agentspans.wrappers._lifecycle import Args, Invocation, Kwargs, traced
from agentspans.wrappers._llm import (
    LLMRequest,
    ResponseSummary,
    Usage,
    fingerprint_parameters,
    request_parameters,
    start_llm_call,
)
from agentspans.wrappers._raw import raw_response_mode

_CHAT_PARAMETERS = {
    "temperature": semconv.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": semconv.GEN_AI_REQUEST_TOP_P,
    "max_completion_tokens": semconv.GEN_AI_REQUEST_MAX_TOKENS,
    "max_tokens": semconv.GEN_AI_REQUEST_MAX_TOKENS,
    "frequency_penalty": semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": semconv.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "stop": semconv.GEN_AI_REQUEST_STOP_SEQUENCES,
    "seed": semconv.GEN_AI_REQUEST_SEED,
    "n": semconv.GEN_AI_REQUEST_CHOICE_COUNT,
}
_RESPONSES_PARAMETERS = {
    "temperature": semconv.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": semconv.GEN_AI_REQUEST_TOP_P,
    "max_output_tokens": semconv.GEN_AI_REQUEST_MAX_TOKENS,
}
_EMBEDDINGS_PARAMETERS = {"dimensions": semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT}


# -- usage ---------------------------------------------------------------------------------------
_CHAT_USAGE_FIELDS = (
    "prompt_tokens",
    "completion_tokens",
    "prompt_tokens_details",
    "completion_tokens_details",
)


def chat_usage(usage: Any) -> Usage:
    """Chat-completions usage (``prompt_tokens`` includes ``cached_tokens``, as the conventions)."""
    read = reader_of(usage, _CHAT_USAGE_FIELDS)
    prompt_details = read("prompt_tokens_details")
    completion_details = read("completion_tokens_details")
    # (positional, in Usage's field order; an absent details object has no count to read)
    return Usage(
        as_int(read("prompt_tokens")),
        as_int(read("completion_tokens")),
        None if prompt_details is None else as_int(field_of(prompt_details, "cached_tokens")),
        None,
        None
        if completion_details is None
        else as_int(field_of(completion_details, "reasoning_tokens")),
    )


def responses_usage(usage: Any) -> Usage:
    return Usage(
        input_tokens=as_int(field_of(usage, "input_tokens")),
        output_tokens=as_int(field_of(usage, "output_tokens")),
        cache_read_tokens=as_int(
            field_of(field_of(usage, "input_tokens_details"), "cached_tokens")
        ),
        reasoning_tokens=as_int(
            field_of(field_of(usage, "output_tokens_details"), "reasoning_tokens")
        ),
    )


# -- readers -------------------------------------------------------------------------------------
class _StreamTypes:
    """``openai.Stream`` / ``openai.AsyncStream``, imported on first use (openai is loaded then)."""

    _types: tuple[type, type] | None = None

    def is_stream(self, result: Any) -> bool:
        return isinstance(result, self._classes()[0])

    def is_async_stream(self, result: Any) -> bool:
        return isinstance(result, self._classes()[1])

    def _classes(self) -> tuple[type, type]:
        if self._types is None:
            from openai import AsyncStream, Stream

            type(self)._types = (Stream, AsyncStream)
        assert self._types is not None
        return self._types


# (``output`` and ``content``: where a response's tool-call ids may also be, see ``_evidence``)
_CHAT_FIELDS = ("id", "model", "usage", "choices", "output", "content")


class ChatReader(_StreamTypes):
    # ``summarise`` reads the response's tool-call ids itself, in its one pass over the choices:
    # the ids ``_evidence.response_tool_call_ids`` reads, in the same order.
    reads_tool_call_ids = True

    def summarise(self, result: Any, capture: bool) -> ResponseSummary | None:
        read = reader_of(result, _CHAT_FIELDS)
        summary = ResponseSummary(
            response_id=as_str(read("id")),
            model=as_str(read("model")),
            usage=chat_usage(read("usage")),
            provider=_providers.provider_from_response(result),
        )
        reasons, ids = summary.finish_reasons, summary.tool_call_ids
        outputs = []
        for choice in items_of(read("choices")):
            message = field_of(choice, "message")
            reason = as_str(field_of(choice, "finish_reason"))
            if reason is not None:
                reasons.append(reason)
            add_message_tool_call_ids(message, ids)
            if capture:
                outputs.append(_content.chat_output(message, reason))
        output, content = read("output"), read("content")
        if output is not None or content is not None:  # (a chat completion has neither)
            add_item_tool_call_ids(output, content, ids)
        if capture:
            summary.output_messages = outputs
        return summary

    def chunk_reader(self, capture: bool) -> ChatChunkReader:
        return ChatChunkReader(capture)


class ChatChunkReader:
    """Accumulates ``ChatCompletionChunk``s: text, tool calls, finish reasons, final usage."""

    __slots__ = ("_capture", "_choices", "_finished", "_text", "summary")

    def __init__(self, capture: bool) -> None:
        self.summary = ResponseSummary()
        self._capture = capture
        self._text: list[str] = []
        self._finished = False
        # per choice index, with capture on: [text pieces, {tool index: [id, name, args]}, reason]
        self._choices: dict[int, list[Any]] = {}

    def read(self, chunk: Any) -> bool:
        summary = self.summary
        if summary.response_id is None:
            summary.response_id = as_str(field_of(chunk, "id"))
        if summary.model is None:
            summary.model = as_str(field_of(chunk, "model"))
            summary.provider = _providers.provider_from_response(chunk)
        usage = field_of(chunk, "usage")
        if usage is not None:
            summary.usage.merge(chat_usage(usage))
        output = False
        for choice in items_of(field_of(chunk, "choices")):
            delta = field_of(choice, "delta")
            text = field_of(delta, "content")
            tool_calls = items_of(field_of(delta, "tool_calls"))
            if isinstance(text, str) and text:
                self._text.append(text)
                output = True
            if tool_calls or as_str(field_of(delta, "refusal")):
                output = True
            reason = as_str(field_of(choice, "finish_reason"))
            if reason is not None:
                summary.finish_reasons.append(reason)
                self._finished = True
            if self._capture:
                self._keep(choice, text, tool_calls, reason)
        return output

    def _keep(self, choice: Any, text: Any, tool_calls: list[Any], reason: str | None) -> None:
        index = as_int(field_of(choice, "index")) or 0
        state = self._choices.setdefault(index, [[], {}, None])
        if isinstance(text, str):
            state[0].append(text)
        for call in tool_calls:
            slot = state[1].setdefault(as_int(field_of(call, "index")) or 0, [None, None, []])
            function = field_of(call, "function")
            slot[0] = slot[0] or field_of(call, "id")
            slot[1] = slot[1] or field_of(function, "name")
            arguments = field_of(function, "arguments")
            if isinstance(arguments, str):
                slot[2].append(arguments)
        if reason is not None:
            state[2] = reason

    def settle(self, source: Any) -> None:
        """With capture on, the output messages, joined once at the end (O(n) in the chunks)."""
        if not self._capture or not self._choices:
            return
        self.summary.output_messages = [
            _content.chat_output(
                {
                    "role": "assistant",
                    "content": "".join(text_parts) or None,
                    "tool_calls": [
                        {"id": i, "function": {"name": n, "arguments": "".join(a)}}
                        for i, n, a in calls.values()
                    ],
                },
                finish,
            )
            for text_parts, calls, finish in self._choices.values()
        ]

    def finished(self) -> bool:
        return self._finished

    def output_text(self) -> str:
        return "".join(self._text)


def _responses_summary(response: Any, capture: bool) -> ResponseSummary:
    status = as_str(field_of(response, "status"))
    reason = as_str(field_of(field_of(response, "incomplete_details"), "reason")) or status
    summary = ResponseSummary(
        response_id=as_str(field_of(response, "id")),
        model=as_str(field_of(response, "model")),
        finish_reasons=[reason] if reason is not None else [],
        usage=responses_usage(field_of(response, "usage")),
    )
    if capture:
        summary.output_messages = _content.responses_output(field_of(response, "output"), reason)
    return summary


class ResponsesReader(_StreamTypes):
    def summarise(self, result: Any, capture: bool) -> ResponseSummary | None:
        return _responses_summary(result, capture)

    def chunk_reader(self, capture: bool) -> ResponsesEventReader:
        return ResponsesEventReader(capture)


_RESPONSE_DONE_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


class ResponsesEventReader:
    """Accumulates Responses API stream events; the final event carries the whole response."""

    __slots__ = ("_capture", "_finished", "_text", "summary")

    def __init__(self, capture: bool) -> None:
        self.summary = ResponseSummary()
        self._capture = capture
        self._text: list[str] = []
        self._finished = False

    def read(self, event: Any) -> bool:
        kind = field_of(event, "type")
        if kind == "response.output_text.delta":
            delta = field_of(event, "delta")
            if isinstance(delta, str):
                self._text.append(delta)
            return True
        if kind == "response.function_call_arguments.delta":
            return True
        response = field_of(event, "response")
        if response is None:
            return False
        if kind in _RESPONSE_DONE_EVENTS:
            self._finished = True
            final = _responses_summary(response, self._capture)
            final.response_id = final.response_id or self.summary.response_id
            final.model = final.model or self.summary.model
            self.summary = final
        else:
            self.summary.response_id = self.summary.response_id or as_str(field_of(response, "id"))
            self.summary.model = self.summary.model or as_str(field_of(response, "model"))
        return False

    def finished(self) -> bool:
        return self._finished

    def output_text(self) -> str:
        return "".join(self._text)


class EmbeddingsReader(_StreamTypes):
    def summarise(self, result: Any, capture: bool) -> ResponseSummary | None:
        usage = field_of(result, "usage")
        return ResponseSummary(
            model=as_str(field_of(result, "model")),
            usage=Usage(input_tokens=as_int(field_of(usage, "prompt_tokens"))),
        )

    def chunk_reader(self, capture: bool) -> ChatChunkReader:
        return ChatChunkReader(capture)  # embeddings never stream; here for the protocol


CHAT_READER = ChatReader()
RESPONSES_READER = ResponsesReader()
EMBEDDINGS_READER = EmbeddingsReader()


# -- requests ------------------------------------------------------------------------------------
def _server(instance: Any) -> tuple[str, str | None, int | None]:
    client = getattr(instance, "_client", None)
    host, port = _providers.split_server(read_property(client, "base_url"))
    return _providers.provider_for(host, port), host, port


def _guess(request: LLMRequest) -> LLMRequest:
    request.provider_is_a_guess = _providers.is_a_guess(request.server_address, request.provider)
    return request


def chat_request(instance: Any, kwargs: Mapping[str, Any], capture: bool) -> LLMRequest:
    return chat_format_request(kwargs, capture, _server(instance), _CHAT_PARAMETERS)


def chat_format_request(
    kwargs: Mapping[str, Any],
    capture: bool,
    server: tuple[str, str | None, int | None],
    parameters: Mapping[str, str],
    not_the_request: tuple[str, ...] = (),
) -> LLMRequest:
    """A request in OpenAI's chat completions format (litellm takes the same arguments).

    ``server`` is (provider, host, port); ``not_the_request`` names arguments besides the
    transport ones that do not shape the answer, so they stay out of the fingerprint.
    """
    provider, host, port = server
    model = as_str(kwargs.get("model"))
    messages = kwargs.get("messages")
    streaming = kwargs.get("stream") is True
    request = LLMRequest(
        operation=semconv.OP_CHAT,
        provider=provider,
        model=model,
        parameters=request_parameters(kwargs, parameters),
        server_address=host,
        server_port=port,
        streaming=streaming,
        fingerprint_parts=(
            semconv.OP_CHAT,
            model,
            messages,
            kwargs.get("tools") if sent(kwargs.get("tools")) else None,
            fingerprint_parameters(kwargs, ("model", "messages", "tools", *not_the_request)),
        ),
        prompt_text=_tokens.prompt_text(messages) if streaming else None,
    )
    request.parameters.update(request_evidence(messages))
    if capture:
        request.input_messages, request.system_instructions = _content.chat_messages(messages)
    return _guess(request)


def responses_request(instance: Any, kwargs: Mapping[str, Any], capture: bool) -> LLMRequest:
    provider, host, port = _server(instance)
    model = as_str(kwargs.get("model"))
    given = kwargs.get("input")
    instructions = kwargs.get("instructions")
    streaming = kwargs.get("stream") is True
    request = LLMRequest(
        operation=semconv.OP_CHAT,
        provider=provider,
        model=model,
        parameters=request_parameters(kwargs, _RESPONSES_PARAMETERS),
        server_address=host,
        server_port=port,
        streaming=streaming,
        fingerprint_parts=(
            "responses",
            model,
            given if sent(given) else None,
            instructions if sent(instructions) else None,
            kwargs.get("tools") if sent(kwargs.get("tools")) else None,
            fingerprint_parameters(kwargs, ("model", "input", "instructions", "tools")),
        ),
        prompt_text=_tokens.prompt_text([given, instructions]) if streaming else None,
    )
    request.parameters.update(request_evidence(given))
    if capture:
        request.input_messages, request.system_instructions = _content.responses_input(
            given if sent(given) else None, instructions if sent(instructions) else None
        )
    return request


def embeddings_request(instance: Any, kwargs: Mapping[str, Any], capture: bool) -> LLMRequest:
    return embeddings_format_request(kwargs, _server(instance))


def embeddings_format_request(
    kwargs: Mapping[str, Any],
    server: tuple[str, str | None, int | None],
    not_the_request: tuple[str, ...] = (),
) -> LLMRequest:
    """An embeddings request in OpenAI's format (litellm's ``embedding`` takes the same)."""
    provider, host, port = server
    model = as_str(kwargs.get("model"))
    parameters = request_parameters(kwargs, _EMBEDDINGS_PARAMETERS)
    encoding = kwargs.get("encoding_format")
    if isinstance(encoding, str):
        parameters[semconv.GEN_AI_REQUEST_ENCODING_FORMATS] = [encoding]
    return LLMRequest(
        operation=semconv.OP_EMBEDDINGS,
        provider=provider,
        model=model,
        parameters=parameters,
        server_address=host,
        server_port=port,
        fingerprint_parts=(
            semconv.OP_EMBEDDINGS,
            model,
            kwargs.get("input"),
            fingerprint_parameters(kwargs, ("model", "input", *not_the_request)),
        ),
    )


# -- legacy completions ------------------------------------------------------------------------
class CompletionsReader(_StreamTypes):
    """Legacy ``completions.create``: ``choices[].text``, the chat format's usage."""

    def summarise(self, result: Any, capture: bool) -> ResponseSummary | None:
        summary = ResponseSummary(
            response_id=as_str(field_of(result, "id")),
            model=as_str(field_of(result, "model")),
            usage=chat_usage(field_of(result, "usage")),
        )
        outputs = []
        for choice in items_of(field_of(result, "choices")):
            reason = as_str(field_of(choice, "finish_reason"))
            if reason is not None:
                summary.finish_reasons.append(reason)
            if capture:
                text = {"role": "assistant", "content": field_of(choice, "text")}
                outputs.append(_content.chat_output(text, reason))
        if capture:
            summary.output_messages = outputs
        return summary

    def chunk_reader(self, capture: bool) -> CompletionChunkReader:
        return CompletionChunkReader(capture)


class CompletionChunkReader:
    """Accumulates legacy completion chunks (``choices[].text``)."""

    __slots__ = ("_capture", "_finished", "_text", "summary")

    def __init__(self, capture: bool) -> None:
        self.summary = ResponseSummary()
        self._capture = capture
        self._text: list[str] = []
        self._finished = False

    def read(self, chunk: Any) -> bool:
        summary = self.summary
        summary.response_id = summary.response_id or as_str(field_of(chunk, "id"))
        summary.model = summary.model or as_str(field_of(chunk, "model"))
        usage = field_of(chunk, "usage")
        if usage is not None:
            summary.usage.merge(chat_usage(usage))
        output = False
        for choice in items_of(field_of(chunk, "choices")):
            text = field_of(choice, "text")
            if isinstance(text, str) and text:
                self._text.append(text)
                output = True
            reason = as_str(field_of(choice, "finish_reason"))
            if reason is not None:
                summary.finish_reasons.append(reason)
                self._finished = True
        return output

    def settle(self, source: Any) -> None:
        if self._capture and self._text:
            message = {"role": "assistant", "content": "".join(self._text)}
            reason = self.summary.finish_reasons[0] if self.summary.finish_reasons else None
            self.summary.output_messages = [_content.chat_output(message, reason)]

    def finished(self) -> bool:
        return self._finished

    def output_text(self) -> str:
        return "".join(self._text)


COMPLETIONS_READER = CompletionsReader()


def completions_request(instance: Any, kwargs: Mapping[str, Any], capture: bool) -> LLMRequest:
    provider, host, port = _server(instance)
    model = as_str(kwargs.get("model"))
    prompt = kwargs.get("prompt")
    streaming = kwargs.get("stream") is True
    request = LLMRequest(
        operation=semconv.OP_TEXT_COMPLETION,
        provider=provider,
        model=model,
        parameters=request_parameters(kwargs, _CHAT_PARAMETERS),
        server_address=host,
        server_port=port,
        streaming=streaming,
        fingerprint_parts=(
            semconv.OP_TEXT_COMPLETION,
            model,
            prompt,
            fingerprint_parameters(kwargs, ("model", "prompt")),
        ),
        prompt_text=_tokens.prompt_text(prompt) if streaming else None,
    )
    if capture and isinstance(prompt, str):
        request.input_messages = [{"role": "user", "parts": [{"type": "text", "content": prompt}]}]
    return _guess(request)


# -- patches -------------------------------------------------------------------------------------
RequestBuilder = Callable[[Any, Mapping[str, Any], bool], LLMRequest]


def _factory(build: RequestBuilder, reader: Any) -> Callable[[Any, str, Any], Any]:
    def factory(owner: Any, attribute: str, raw: Any) -> Any:
        def start(instance: Any, args: Args, kwargs: Kwargs) -> Invocation | None:
            return start_llm_call(
                lambda capture: build(instance, kwargs, capture),
                reader,
                raw_response_mode(kwargs),
            )

        return traced(raw, start)

    return factory


# Module of each resource, its classes and the methods to patch on both. ``with_raw_response``
# and ``with_streaming_response`` call these same methods (see ``_raw``); the ``stream()``
# helpers call ``create(stream=True)``; ``parse()`` posts on its own, so it is patched too.
# A method a client version lacks (``parse`` before 1.92, ``responses`` before 1.66) is skipped.
PATCHES: tuple[tuple[str, tuple[str, ...], RequestBuilder, Any], ...] = (
    ("openai.resources.chat.completions", ("create", "parse"), chat_request, CHAT_READER),
    ("openai.resources.beta.chat.completions", ("parse",), chat_request, CHAT_READER),
    ("openai.resources.responses", ("create", "parse"), responses_request, RESPONSES_READER),
    ("openai.resources.completions", ("create",), completions_request, COMPLETIONS_READER),
    ("openai.resources.embeddings", ("create",), embeddings_request, EMBEDDINGS_READER),
)
_CLASS_NAMES = {
    "openai.resources.chat.completions": ("Completions", "AsyncCompletions"),
    "openai.resources.beta.chat.completions": ("Completions", "AsyncCompletions"),
    "openai.resources.responses": ("Responses", "AsyncResponses"),
    "openai.resources.completions": ("Completions", "AsyncCompletions"),
    "openai.resources.embeddings": ("Embeddings", "AsyncEmbeddings"),
}


def _installer(
    patches: Patches, methods: tuple[str, ...], names: tuple[str, ...], factory: Any
) -> Callable[[Any], None]:
    def install(module: Any) -> None:
        for class_name in names:
            cls = getattr(module, class_name, None)
            for method in methods:
                if cls is not None and callable(vars(cls).get(method)):
                    patches.wrap(cls, method, factory)

    return install


def instrument(patches: Patches) -> None:
    """Register the openai patches; each applies when its module is (or already was) imported."""
    _versions.warn_if_unsupported("openai")
    for module, methods, build, reader in PATCHES:
        names = _CLASS_NAMES[module]
        patches.on_import(module, _installer(patches, methods, names, _factory(build, reader)))
