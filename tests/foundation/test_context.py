"""Parallel delegations nest under the span that started them: threads, pools and asyncio."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from opentelemetry.sdk.trace import ReadableSpan

import agentspans
from agentspans import semconv
from agentspans.testing import CapturedSpans


@agentspans.tool
def search(workflow: int, query: str) -> str:
    return f"{workflow}:{query}"


@agentspans.tool
async def fetch(workflow: int, url: str) -> str:
    await asyncio.sleep(0.001)
    return f"{workflow}:{url}"


def threaded_agent(workflow: int, name: str) -> str:
    with agentspans.agent_span(f"{name}-{workflow}"):
        return search(workflow, name) + search(workflow, name + "2")


async def async_agent(workflow: int, name: str) -> str:
    async with agentspans.agent_span(f"{name}-{workflow}"):
        first = await fetch(workflow, name)
        return first + search(workflow, name)


def coordinator(workflow: int) -> None:
    with agentspans.agent_span(f"coordinator-{workflow}"):
        with ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(lambda n: threaded_agent(workflow, n), ["research", "data", "writer"]))

        async def fan_out() -> None:
            await asyncio.gather(async_agent(workflow, "critic"), async_agent(workflow, "editor"))

        asyncio.run(fan_out())


def _index(spans: list[ReadableSpan]) -> dict[int, ReadableSpan]:
    return {s.context.span_id: s for s in spans if s.context is not None}


def _check_workflow(
    by_id: dict[int, ReadableSpan], spans: list[ReadableSpan], workflow: int
) -> None:
    suffix = f"-{workflow}"
    root = next(s for s in spans if s.name == f"invoke_agent coordinator{suffix}")
    assert root.parent is None
    agents = [
        s
        for s in spans
        if s.name.startswith("invoke_agent ") and s.name.endswith(suffix) and s is not root
    ]
    assert sorted(a.name for a in agents) == sorted(
        f"invoke_agent {n}{suffix}" for n in ("research", "data", "writer", "critic", "editor")
    )
    for agent in agents:
        assert agent.parent is not None and root.context is not None
        assert agent.parent.span_id == root.context.span_id, agent.name
        assert agent.context is not None and agent.context.trace_id == root.context.trace_id
        tools = [
            s for s in spans if s.parent is not None and s.parent.span_id == agent.context.span_id
        ]
        assert len(tools) == 2, agent.name
        for tool in tools:
            # The tool's own argument says which workflow called it; it must match its parent's.
            assert (
                tool.attributes[semconv.GEN_AI_AGENT_NAME]
                == agent.attributes[semconv.GEN_AI_AGENT_NAME]
            )
            assert tool.attributes[semconv.GEN_AI_AGENT_NAME].endswith(suffix)


def test_pool_and_gather_fan_out_nest_under_the_coordinator(spans: CapturedSpans) -> None:
    coordinator(0)
    finished = spans.finished()
    assert len(finished) == 1 + 5 + 10
    _check_workflow(_index(finished), finished, 0)


def test_plain_threads_carry_context(spans: CapturedSpans) -> None:
    class Worker(threading.Thread):
        def run(self) -> None:  # overrides run without calling the base class
            search(1, "from subclass")

    with agentspans.agent_span("spawner"):
        plain = threading.Thread(target=search, args=(1, "from thread"))
        subclassed = Worker()
        plain.start()
        subclassed.start()
        plain.join()
        subclassed.join()
    spawner = spans.one("invoke_agent spawner")
    searches = spans.named("execute_tool search")
    assert len(searches) == 2
    assert all(spans.parent_of(s) == spawner for s in searches)


async def test_run_in_executor_carries_context(spans: CapturedSpans) -> None:
    loop = asyncio.get_running_loop()
    async with agentspans.agent_span("async-parent"):
        await loop.run_in_executor(None, search, 1, "executor")
    assert spans.parent_of(spans.one("execute_tool search")) == spans.one(
        "invoke_agent async-parent"
    )


def test_no_context_leaks_into_later_unrelated_work(spans: CapturedSpans) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        with agentspans.agent_span("first"):
            pool.submit(search, 1, "inside").result()
        pool.submit(search, 1, "outside").result()
    inside, outside = sorted(spans.named("execute_tool search"), key=lambda s: s.start_time or 0)
    assert spans.parent_of(inside) == spans.one("invoke_agent first")
    assert outside.parent is None


def test_200_concurrent_workflows_never_cross_link(spans: CapturedSpans) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(coordinator, range(200)))
    finished = spans.finished()
    assert len(finished) == 200 * 16
    by_id = _index(finished)
    assert len({s.context.trace_id for s in finished if s.context}) == 200
    for workflow in range(200):
        _check_workflow(
            by_id,
            [
                s
                for s in finished
                if s.name.endswith(f"-{workflow}")
                or s.name == "execute_tool search"
                or s.name == "execute_tool fetch"
            ],
            workflow,
        )
