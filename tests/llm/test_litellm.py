"""litellm through the real package: one span per call, counted once even when litellm calls openai."""

from __future__ import annotations

from typing import Any

import pytest
from tests.llm.conftest import API_KEY, llm_spans, only_llm_span
from tests.llm.faults import Outcome, async_outcome
from tests.llm.servers import EMBEDDING_USAGE, OPENAI_USAGE, REPLY_TEXT, FakeProvider

import agentspans
from agentspans import semconv
from agentspans.testing import CapturedSpans, capture_spans

litellm = pytest.importorskip("litellm")
openai = pytest.importorskip("openai")

MESSAGES = [{"role": "user", "content": "Route me through litellm"}]


def _kw(provider: FakeProvider, model: str = "openai/gpt-4o-mini", **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "messages": MESSAGES,
        "api_base": provider.base_url,
        "api_key": API_KEY,
        **extra,
    }


@agentspans.agent("router")
def in_agent(call: Any) -> Any:
    return call()


@agentspans.agent("router")
async def in_async_agent(call: Any) -> Any:
    return await call()


def check(spans: CapturedSpans, *, streamed: bool = False) -> Any:
    span = only_llm_span(spans)
    attrs = span.attributes
    assert span.name == "chat openai/gpt-4o-mini"
    assert span.instrumentation_scope.name == "agentspans"
    assert attrs[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert attrs[semconv.SERVER_ADDRESS] == "127.0.0.1"
    assert attrs[semconv.GEN_AI_REQUEST_MODEL] == "openai/gpt-4o-mini"
    assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini"
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == OPENAI_USAGE["prompt_tokens"]
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == OPENAI_USAGE["completion_tokens"]
    assert tuple(attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == ("stop",)
    assert attrs[semconv.GEN_AI_AGENT_NAME] == "router"
    assert len(attrs[semconv.REQUEST_FINGERPRINT]) == 16
    if streamed:
        assert attrs[semconv.STREAM_OUTCOME] == "completed"
        assert attrs[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    (root,) = spans.roots()
    assert spans.parent_of(span) == root and root.name == "invoke_agent router"
    # the analysis counts the call once, on the trace and in the agent's rollup
    assert root.attributes[semconv.TRACE_TOTAL_LLM_CALLS] == 1
    assert root.attributes[semconv.ROLLUP_LLM_CALLS] == 1
    return span


def test_completion(spans: CapturedSpans, provider: FakeProvider) -> None:
    response = in_agent(lambda: litellm.completion(**_kw(provider, temperature=0.1)))
    assert response.choices[0].message.content == REPLY_TEXT
    span = check(spans)
    assert span.attributes[semconv.GEN_AI_REQUEST_TEMPERATURE] == 0.1


def test_model_and_messages_given_by_position(spans: CapturedSpans, provider: FakeProvider) -> None:
    kw = _kw(provider)
    model, messages = kw.pop("model"), kw.pop("messages")
    in_agent(lambda: litellm.completion(model, messages, **kw))
    check(spans)  # the request model comes from the positional argument


def test_embedding_model_given_by_position(spans: CapturedSpans, provider: FakeProvider) -> None:
    kw = {"api_base": provider.base_url, "api_key": API_KEY}
    in_agent(lambda: litellm.embedding("openai/text-embedding-3-small", ["a"], **kw))
    check_embedding(spans)


async def test_acompletion(spans: CapturedSpans, provider: FakeProvider) -> None:
    response = await in_async_agent(lambda: litellm.acompletion(**_kw(provider)))
    assert response.choices[0].message.content == REPLY_TEXT
    check(spans)


def test_streamed_completion(spans: CapturedSpans, provider: FakeProvider) -> None:
    kw = _kw(provider, stream=True, stream_options={"include_usage": True})
    chunks = in_agent(lambda: list(litellm.completion(**kw)))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == REPLY_TEXT
    check(spans, streamed=True)


async def test_streamed_acompletion(spans: CapturedSpans, provider: FakeProvider) -> None:
    kw = _kw(provider, stream=True, stream_options={"include_usage": True})

    async def call() -> list[Any]:
        return [chunk async for chunk in await litellm.acompletion(**kw)]

    await in_async_agent(call)
    check(spans, streamed=True)


class OpenAIThroughSDK(litellm.CustomLLM):  # type: ignore[misc]
    """A litellm provider that calls the openai SDK's ``chat.completions.create`` itself."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.client = openai.OpenAI(base_url=base_url, api_key=API_KEY, max_retries=0)

    def completion(self, *args: Any, **kwargs: Any) -> Any:
        result = self.client.chat.completions.create(
            model="gpt-4o-mini", messages=kwargs["messages"]
        )
        return litellm.ModelResponse(**result.model_dump())


def test_litellm_calling_the_openai_sdk_is_one_span_counted_once(
    spans: CapturedSpans, provider: FakeProvider
) -> None:
    before = litellm.custom_provider_map
    litellm.custom_provider_map = [
        {"provider": "via-sdk", "custom_handler": OpenAIThroughSDK(provider.base_url)}
    ]
    try:
        in_agent(lambda: litellm.completion(model="via-sdk/gpt-4o-mini", messages=MESSAGES))
    except litellm.APIConnectionError as exc:
        if "not a valid LlmProviders" not in str(exc):
            raise
        pytest.skip("this litellm cannot register a custom provider at run time")
    finally:
        litellm.custom_provider_map = before
    assert len(provider.requests) >= 1
    span = only_llm_span(spans)  # the openai call inside made no span of its own
    assert span.name == "chat via-sdk/gpt-4o-mini"
    assert span.attributes[semconv.GEN_AI_PROVIDER_NAME] == "via-sdk"
    (root,) = spans.roots()
    assert root.attributes[semconv.TRACE_TOTAL_LLM_CALLS] == 1


@pytest.mark.parametrize("fault", ["429", "500", "missing_usage", "nulls", "malformed"])
def test_faults_are_transparent(provider: FakeProvider, fault: str) -> None:
    kw = _kw(provider, model=f"openai/gpt-4o-mini+{fault}", num_retries=0)
    plain = Outcome.of(lambda: litellm.completion(**kw))
    with capture_spans(metrics=False) as spans:
        traced = Outcome.of(lambda: litellm.completion(**kw))
    if fault == "nulls":  # litellm makes up an id when the provider sends none
        traced.value.pop("id")
        plain.value.pop("id")
    assert traced == plain
    assert len(llm_spans(spans)) == 1
    if plain.error_type is not None:
        (span,) = llm_spans(spans)
        assert span.attributes[semconv.ERROR_TYPE].startswith("litellm.")
        assert API_KEY not in str(dict(span.attributes))


async def test_async_fault_is_transparent(provider: FakeProvider) -> None:
    kw = _kw(provider, model="openai/gpt-4o-mini+429", num_retries=0)
    plain = await async_outcome(lambda: litellm.acompletion(**kw))
    with capture_spans(metrics=False) as spans:
        traced = await async_outcome(lambda: litellm.acompletion(**kw))
    assert (traced.error_type, traced.status_code) == (plain.error_type, plain.status_code)
    assert len(llm_spans(spans)) == 1


def test_uninstrument_restores_litellm() -> None:
    before = (litellm.completion, litellm.acompletion)
    agentspans.instrument(exporter="none", resources=False, analysis=False, metrics=False)
    try:
        assert litellm.completion is not before[0]
    finally:
        agentspans.uninstrument()
    assert (litellm.completion, litellm.acompletion) == before


# -- Router and embeddings -----------------------------------------------------------------------
def _router(provider: FakeProvider) -> Any:
    deployment = {"model": "openai/gpt-4o-mini", "api_base": provider.base_url, "api_key": API_KEY}
    embedder = {**deployment, "model": "openai/text-embedding-3-small"}
    return litellm.Router(
        model_list=[
            {"model_name": "fast", "litellm_params": deployment},
            {"model_name": "embedder", "litellm_params": embedder},
        ],
        num_retries=0,
    )


def test_router_completion_is_one_span(spans: CapturedSpans, provider: FakeProvider) -> None:
    router = _router(provider)
    in_agent(lambda: router.completion(model="fast", messages=MESSAGES))
    check(spans)


async def test_router_acompletion_streamed(spans: CapturedSpans, provider: FakeProvider) -> None:
    router = _router(provider)

    async def call() -> None:
        stream = await router.acompletion(
            model="fast", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        async for _ in stream:
            pass

    await in_async_agent(call)
    check(spans, streamed=True)


def check_embedding(spans: CapturedSpans) -> None:
    span = only_llm_span(spans)
    attrs = span.attributes
    assert attrs is not None
    assert span.name == "embeddings openai/text-embedding-3-small"
    assert attrs[semconv.GEN_AI_OPERATION_NAME] == "embeddings"
    assert attrs[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == EMBEDDING_USAGE["prompt_tokens"]
    assert semconv.GEN_AI_USAGE_OUTPUT_TOKENS not in attrs  # embeddings report none
    (root,) = spans.roots()
    assert root.attributes is not None
    assert root.attributes[semconv.TRACE_TOTAL_LLM_CALLS] == 1


def test_embedding_over_openai_is_counted_once(
    spans: CapturedSpans, provider: FakeProvider
) -> None:
    kw = {"api_base": provider.base_url, "api_key": API_KEY}
    in_agent(lambda: litellm.embedding(model="openai/text-embedding-3-small", input=["a"], **kw))
    check_embedding(spans)


async def test_aembedding_and_router_embedding(provider: FakeProvider) -> None:
    kw = {"api_base": provider.base_url, "api_key": API_KEY}
    with capture_spans(metrics=False) as spans:
        await in_async_agent(
            lambda: litellm.aembedding(model="openai/text-embedding-3-small", input=["a"], **kw)
        )
        check_embedding(spans)
    with capture_spans(metrics=False) as spans:
        router = _router(provider)
        await in_async_agent(lambda: router.aembedding(model="embedder", input=["a"]))
        check_embedding(spans)
