"""Agent and tool spans from decorators and context managers, on every kind of callable."""

from __future__ import annotations

import asyncio
import inspect

import pytest

import agentspans
from agentspans import semconv
from agentspans.testing import CapturedSpans


@agentspans.tool
def search(query: str) -> str:
    return f"results for {query}"


@agentspans.tool(name="web_fetch", description="fetches a page")
async def fetch(url: str) -> str:
    await asyncio.sleep(0)
    return f"page {url}"


@agentspans.tool
def paginate(n: int):  # type: ignore[no-untyped-def]
    for i in range(n):
        yield search(f"page {i}")


@agentspans.tool
async def stream_pages(n: int):  # type: ignore[no-untyped-def]
    for i in range(n):
        await asyncio.sleep(0)
        yield await fetch(f"/{i}")


class ResearchAgent:
    name = "research"

    @agentspans.agent
    def run(self, topic: str) -> str:
        return search(topic)

    @agentspans.agent(name="summariser")
    async def summarise(self, text: str) -> str:
        return await fetch(text)


class Anonymous:
    @agentspans.agent
    def run(self) -> str:
        return search("x")


def test_sync_decorators_nest_and_carry_genai_attributes(spans: CapturedSpans) -> None:
    assert ResearchAgent().run("llamas") == "results for llamas"

    agent_span = spans.one("invoke_agent research")
    tool_span = spans.one("execute_tool search")
    assert tool_span.parent is not None and agent_span.context is not None
    assert tool_span.parent.span_id == agent_span.context.span_id
    assert agent_span.attributes[semconv.GEN_AI_OPERATION_NAME] == "invoke_agent"
    assert agent_span.attributes[semconv.GEN_AI_AGENT_NAME] == "research"
    assert tool_span.attributes[semconv.GEN_AI_OPERATION_NAME] == "execute_tool"
    assert tool_span.attributes[semconv.GEN_AI_TOOL_NAME] == "search"
    # The enclosing agent is named on the tool call too, so metrics can group by agent.
    assert tool_span.attributes[semconv.GEN_AI_AGENT_NAME] == "research"
    assert tool_span.attributes[semconv.CODE_FUNCTION].endswith("test_operations.search")


def test_agent_named_after_class_when_instance_has_no_name(spans: CapturedSpans) -> None:
    Anonymous().run()
    assert spans.named("invoke_agent Anonymous")


async def test_async_decorators(spans: CapturedSpans) -> None:
    assert await ResearchAgent().summarise("doc") == "page doc"
    agent_span = spans.one("invoke_agent summariser")
    tool_span = spans.one("execute_tool web_fetch")
    assert tool_span.parent is not None and agent_span.context is not None
    assert tool_span.parent.span_id == agent_span.context.span_id
    assert tool_span.attributes[semconv.GEN_AI_TOOL_DESCRIPTION] == "fetches a page"


def test_decorated_functions_keep_their_nature() -> None:
    assert inspect.iscoroutinefunction(fetch)
    assert inspect.isgeneratorfunction(paginate)
    assert inspect.isasyncgenfunction(stream_pages)
    assert search.__name__ == "search"
    assert inspect.signature(search) == inspect.signature(search.__wrapped__)


def test_generator_span_covers_iteration_and_is_not_active_between_yields(
    spans: CapturedSpans,
) -> None:
    outer: list[str] = []
    with agentspans.agent_span("reader"):
        for page in paginate(3):
            outer.append(page)
            search("between yields")  # runs in the consumer: must not nest under paginate

    generator_span = spans.one("execute_tool paginate")
    reader = spans.one("invoke_agent reader")
    assert generator_span.context is not None and reader.context is not None
    inner = [
        s
        for s in spans.named("execute_tool search")
        if s.parent and s.parent.span_id == generator_span.context.span_id
    ]
    between = [
        s
        for s in spans.named("execute_tool search")
        if s.parent and s.parent.span_id == reader.context.span_id
    ]
    assert len(inner) == 3
    assert len(between) == 3
    assert outer == ["results for page 0", "results for page 1", "results for page 2"]
    assert generator_span.end_time is not None and inner[-1].end_time is not None
    assert generator_span.end_time >= inner[-1].end_time


def test_generator_closed_early_ends_its_span(spans: CapturedSpans) -> None:
    generator = paginate(10)
    assert next(generator) == "results for page 0"
    generator.close()
    assert len(spans.named("execute_tool paginate")) == 1


def test_generator_send_and_throw_pass_through(spans: CapturedSpans) -> None:
    @agentspans.tool
    def echo():  # type: ignore[no-untyped-def]
        received = yield "ready"
        try:
            yield f"got {received}"
        except ValueError as exc:
            yield f"caught {exc}"

    generator = echo()
    assert next(generator) == "ready"
    assert generator.send("hello") == "got hello"
    assert generator.throw(ValueError("boom")) == "caught boom"
    assert not spans.named("execute_tool echo")  # still open until exhausted
    with pytest.raises(StopIteration):
        next(generator)
    assert len(spans.named("execute_tool echo")) == 1


async def test_async_generator(spans: CapturedSpans) -> None:
    pages = [page async for page in stream_pages(2)]
    assert pages == ["page /0", "page /1"]
    generator_span = spans.one("execute_tool stream_pages")
    assert generator_span.context is not None
    fetches = spans.named("execute_tool web_fetch")
    assert len(fetches) == 2
    assert all(
        f.parent is not None and f.parent.span_id == generator_span.context.span_id for f in fetches
    )


def test_context_managers(spans: CapturedSpans) -> None:
    with agentspans.workflow_span("report") as workflow:
        assert workflow.is_recording()
        with agentspans.agent_span("writer"), agentspans.tool_span("spell_check") as tool_span:
            tool_span.set_attribute("app.words", 12)

    root = spans.one("invoke_workflow report")
    writer = spans.one("invoke_agent writer")
    check = spans.one("execute_tool spell_check")
    assert root.attributes[semconv.GEN_AI_WORKFLOW_NAME] == "report"
    assert spans.parent_of(writer) == root
    assert spans.parent_of(check) == writer
    assert check.attributes["app.words"] == 12
    assert check.attributes[semconv.GEN_AI_AGENT_NAME] == "writer"


async def test_async_context_manager(spans: CapturedSpans) -> None:
    async with agentspans.agent_span("async-writer"):
        await fetch("x")
    writer = spans.one("invoke_agent async-writer")
    assert spans.parent_of(spans.one("execute_tool web_fetch")) == writer


def test_tool_fingerprint_equal_for_equal_calls(spans: CapturedSpans) -> None:
    search("same")
    search("same")
    search("other")
    prints = [s.attributes[semconv.REQUEST_FINGERPRINT] for s in spans.named("execute_tool search")]
    assert prints[0] == prints[1] != prints[2]


def test_content_not_recorded_by_default(spans: CapturedSpans) -> None:
    search("secret query text")
    attributes = spans.one("execute_tool search").attributes
    assert all("secret query text" not in str(value) for value in attributes.values())


def test_content_recorded_when_opted_in() -> None:
    from agentspans.testing import capture_spans

    with capture_spans(capture_content=True) as captured:
        search("visible query")
    attributes = captured.one("execute_tool search").attributes
    assert "visible query" in str(attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS])
    assert attributes[semconv.GEN_AI_TOOL_CALL_RESULT] == "results for visible query"


def test_decorators_are_inert_when_not_instrumented() -> None:
    assert agentspans.instrumentation() is None
    assert search("x") == "results for x"
    assert ResearchAgent().run("y") == "results for y"
    with agentspans.agent_span("nothing") as span:
        assert not span.is_recording()


def test_bad_names_fail_at_decoration() -> None:
    with pytest.raises(TypeError, match="expected a string"):
        agentspans.agent(name=3)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="non-empty string"):
        agentspans.agent_span("")
