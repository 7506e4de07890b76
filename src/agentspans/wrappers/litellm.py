"""litellm: ``completion`` / ``acompletion`` (``stream=True`` included), ``embedding`` /
``aembedding``, and ``litellm.Router``'s calls, which go through them.

One span per call, named for the model as the app passed it (``chat openai/gpt-4o-mini``). The
span carries ``LLM_CALL_KEY`` in its context, so when litellm reaches a provider through another
instrumented client (the openai SDK, say) that client adds no second span and the call is counted
once. Responses and stream chunks are OpenAI-shaped, so the openai readers summarise them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agentspans import semconv
from agentspans._patching import Patches
from agentspans.wrappers import _providers, _versions
from agentspans.wrappers._fields import as_str
from agentspans.wrappers._lifecycle import Args, Invocation, Kwargs, traced
from agentspans.wrappers._llm import (
    LLMRequest,
    ResponseSummary,
    start_llm_call,
)
from agentspans.wrappers.openai import (
    CHAT_READER,
    EMBEDDINGS_READER,
    ChatChunkReader,
    chat_format_request,
    embeddings_format_request,
)

# litellm's provider names -> the conventions' (others are kept as litellm spells them).
_PROVIDERS = {
    "azure": "azure.ai.openai",
    "azure_ai": "azure.ai.inference",
    "bedrock": "aws.bedrock",
    "vertex_ai": "gcp.vertex_ai",
    "vertex_ai_beta": "gcp.vertex_ai",
    "gemini": "gcp.gemini",
    "mistral": "mistral_ai",
    "xai": "x_ai",
    "watsonx": "ibm.watsonx.ai",
    "ollama_chat": "ollama",
    "hosted_vllm": "vllm",
}

_PARAMETERS = {
    "temperature": semconv.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": semconv.GEN_AI_REQUEST_TOP_P,
    "top_k": semconv.GEN_AI_REQUEST_TOP_K,
    "max_completion_tokens": semconv.GEN_AI_REQUEST_MAX_TOKENS,
    "max_tokens": semconv.GEN_AI_REQUEST_MAX_TOKENS,
    "frequency_penalty": semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": semconv.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "stop": semconv.GEN_AI_REQUEST_STOP_SEQUENCES,
    "seed": semconv.GEN_AI_REQUEST_SEED,
    "n": semconv.GEN_AI_REQUEST_CHOICE_COUNT,
}

# Credentials and routing litellm takes as arguments: never read beyond this check, and not part
# of the request the model sees.
_NOT_THE_REQUEST = (
    "api_version",
    "organization",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_region_name",
    "vertex_credentials",
    "vertex_project",
    "vertex_location",
    "azure_ad_token",
    "num_retries",
    "fallbacks",
    "custom_llm_provider",
    "mock_response",
    "logger_fn",
    "acompletion",
)


def provider_of(model: str | None, kwargs: Mapping[str, Any]) -> tuple[str, str | None, int | None]:
    """(provider, server host, server port) from the arguments alone; no lookup, no network."""
    named = kwargs.get("custom_llm_provider")
    if not isinstance(named, str) and model is not None and "/" in model:
        named = model.split("/", 1)[0]
    base = kwargs.get("api_base") or kwargs.get("base_url")
    host, port = _providers.split_server(base) if isinstance(base, str) else (None, None)
    if not isinstance(named, str):
        named = "openai" if model is None or model.startswith(("gpt-", "o1", "o3", "o4")) else None
    if named in (None, "openai", "openai_like", "text-completion-openai") and host is not None:
        return _providers.provider_for(host, port), host, port
    if named is None:
        return "litellm", host, port  # litellm routes it; which provider is not known from here
    return _PROVIDERS.get(named, named), host, port


def completion_request(kwargs: Mapping[str, Any], capture: bool) -> LLMRequest:
    return chat_format_request(
        kwargs,
        capture,
        provider_of(as_str(kwargs.get("model")), kwargs),
        _PARAMETERS,
        _NOT_THE_REQUEST,
    )


class CompletionReader:
    """``ModelResponse`` and ``CustomStreamWrapper`` (sync or async, as the function called)."""

    _stream_type: type | None = None
    # (``summarise`` is the openai chat reader's, which reads the tool-call ids itself)
    reads_tool_call_ids = True

    def __init__(self, asynchronous: bool) -> None:
        self._asynchronous = asynchronous

    def _is_wrapper(self, result: Any) -> bool:
        if CompletionReader._stream_type is None:
            import litellm

            CompletionReader._stream_type = litellm.CustomStreamWrapper
        return isinstance(result, CompletionReader._stream_type)

    def is_stream(self, result: Any) -> bool:
        return not self._asynchronous and self._is_wrapper(result)

    def is_async_stream(self, result: Any) -> bool:
        return self._asynchronous and self._is_wrapper(result)

    def summarise(self, result: Any, capture: bool) -> ResponseSummary | None:
        return CHAT_READER.summarise(result, capture)

    def chunk_reader(self, capture: bool) -> ChatChunkReader:
        return ChatChunkReader(capture)


def _factory(
    reader: CompletionReader,
    positional: tuple[str, ...],
    build: Callable[[Mapping[str, Any], bool], LLMRequest],
) -> Any:
    """The patch for one litellm function: ``positional`` names the arguments it may take by
    position (``completion(model, messages)``, ``embedding(model, input)``)."""

    def factory(owner: Any, attribute: str, raw: Any) -> Any:
        def start(instance: Any, args: Args, kwargs: Kwargs) -> Invocation | None:
            given = dict(kwargs)
            for name, value in zip(positional, args, strict=False):
                given.setdefault(name, value)
            return start_llm_call(lambda capture: build(given, capture), reader)

        return traced(raw, start)

    return factory


class EmbeddingReader(CompletionReader):
    """``EmbeddingResponse``: the model and ``usage.prompt_tokens``; never a stream."""

    reads_tool_call_ids = False

    def is_stream(self, result: Any) -> bool:
        return False

    def is_async_stream(self, result: Any) -> bool:
        return False

    def summarise(self, result: Any, capture: bool) -> ResponseSummary | None:
        return EMBEDDINGS_READER.summarise(result, capture)


def embedding_request(kwargs: Mapping[str, Any], capture: bool) -> LLMRequest:
    server = provider_of(as_str(kwargs.get("model")), kwargs)
    return embeddings_format_request(kwargs, server, _NOT_THE_REQUEST)


def instrument(patches: Patches) -> None:
    """Patch ``litellm.completion`` / ``acompletion`` / ``embedding`` / ``aembedding`` (the
    package's own attributes). ``litellm.Router`` calls these through the package at call time,
    so a router's calls are traced by the same patches, once per deployment tried."""
    _versions.warn_if_unsupported("litellm")
    chat = ("model", "messages")
    patches.patch_path(
        "litellm:completion", _factory(CompletionReader(False), chat, completion_request)
    )
    patches.patch_path(
        "litellm:acompletion", _factory(CompletionReader(True), chat, completion_request)
    )
    embeddings = _factory(
        EmbeddingReader(asynchronous=False), ("model", "input"), embedding_request
    )
    patches.patch_path("litellm:embedding", embeddings)
    patches.patch_path("litellm:aembedding", embeddings)
