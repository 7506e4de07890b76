"""A CrewAI crew as CrewAI's docs show it, against a scripted 127.0.0.1 server.

Two agents in a sequential crew: a Researcher with a ``search`` tool, and a Writer allowed to
delegate, who hands work to the Researcher through CrewAI's delegation tool. CrewAI's native
OpenAI provider calls the real openai SDK (non-streamed through ``with_raw_response``, or
streamed). CrewAI pins its own openai / pydantic / httpx, so this runs in its own venv
(``scripts/test-crewai.sh``); in the main environment it is skipped.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from tests.frameworks.scripted import MODEL, Reply, ScriptedProvider, last_message, tool_names

from agentspans import semconv
from agentspans.testing import CapturedSpans, capture_spans

# No telemetry or tracing of CrewAI's own leaves the test (set before crewai is imported).
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")
crewai = pytest.importorskip("crewai")


def crew_script(body: dict[str, Any]) -> Reply:
    names = tool_names(body)
    if names and last_message(body).get("role") != "tool":
        if "search" in names:
            return Reply(tool_calls=[("search", {"query": "ants"})])
        if "delegate_work_to_coworker" in names:
            arguments = {
                "task": "find ant facts",
                "context": "an article",
                "coworker": "Researcher",
            }
            return Reply(tool_calls=[("delegate_work_to_coworker", arguments)])
    return Reply(content="Thought: I now know the final answer\nFinal Answer: ants are great")


@pytest.fixture
def server() -> Iterator[ScriptedProvider]:
    provider = ScriptedProvider(crew_script).start()
    yield provider
    provider.stop()


@pytest.fixture
def spans() -> Iterator[CapturedSpans]:
    with capture_spans(metrics=False) as captured:
        yield captured


def run_crew(base_url: str, stream: bool) -> Any:
    from crewai import LLM, Agent, Crew, Process, Task
    from crewai.tools import tool

    @tool("search")
    def search(query: str) -> str:
        """Search the web for a query."""
        return f"results for {query}"

    llm = LLM(model=MODEL, base_url=base_url, api_key="sk-test-crew", stream=stream)
    researcher = Agent(
        role="Researcher",
        goal="Find facts",
        backstory="A careful researcher.",
        tools=[search],
        llm=llm,
    )
    writer = Agent(
        role="Writer",
        goal="Write articles",
        backstory="A writer who delegates research.",
        llm=llm,
        allow_delegation=True,
    )
    crew = Crew(
        agents=[researcher, writer],
        tasks=[
            Task(description="Research ants", expected_output="facts", agent=researcher),
            Task(description="Write about ants", expected_output="an article", agent=writer),
        ],
        process=Process.sequential,
    )
    return crew.kickoff()


def op(span: ReadableSpan) -> Any:
    return (span.attributes or {}).get(semconv.GEN_AI_OPERATION_NAME)


@pytest.mark.parametrize("stream", [False, True], ids=["kickoff", "streaming"])
def test_crew_with_delegation(
    spans: CapturedSpans, server: ScriptedProvider, stream: bool, tmp_path: Path
) -> None:
    run_crew(server.base_url, stream)

    finished = spans.finished()
    assert len({s.context.trace_id for s in finished if s.context}) == 1
    (root,) = spans.roots()
    assert op(root) == semconv.OP_INVOKE_WORKFLOW
    researcher, writer = spans.children(root)
    assert (researcher.name, writer.name) == ("invoke_agent Researcher", "invoke_agent Writer")
    assert [s.name for s in spans.children(researcher)] == [
        f"chat {MODEL}",
        "execute_tool search",
        f"chat {MODEL}",
    ]
    # delegation: the Writer hands work to the Researcher through CrewAI's delegation tool
    assert list((writer.attributes or {})[semconv.ROUTE_TARGETS]) == ["Researcher"]
    (delegation,) = [s for s in spans.children(writer) if op(s) == semconv.OP_EXECUTE_TOOL]
    assert delegation.name == "execute_tool delegate_work_to_coworker"
    (coworker,) = spans.children(delegation)
    assert coworker.name == "invoke_agent Researcher"
    assert (coworker.attributes or {})[semconv.HANDOFF_FROM_AGENT] == "Writer"
    assert "execute_tool search" in [s.name for s in spans.children(coworker)]

    # every request counted once, with the server's tokens and a cost
    llm = [s for s in finished if op(s) in semconv.LLM_OPERATIONS]
    assert len(llm) == len(server.served) == 6
    assert (
        sum(
            int((s.attributes or {}).get(semconv.GEN_AI_USAGE_INPUT_TOKENS, 0))
            + int((s.attributes or {}).get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS, 0))
            for s in llm
        )
        == server.tokens_served()
    )
    for span in llm:
        assert (span.attributes or {}).get(semconv.COST_USD, 0) > 0, span.name

    from agentspans.cli import main
    from agentspans.exporters.otlp_json import encode_request

    path = tmp_path / "trace.jsonl"
    path.write_text(json.dumps(encode_request(finished)) + "\n")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["report", "--format", "json", str(path)]) == 0
    (trace,) = json.loads(out.getvalue())["traces"]
    assert {a["name"] for a in trace["agents"]} >= {"Researcher", "Writer"}


def test_uninstrument_unregisters_the_hooks(server: ScriptedProvider) -> None:
    from crewai.hooks.dispatch import InterceptionPoint, get_global_hook_list

    before = len(get_global_hook_list(InterceptionPoint.PRE_STEP))
    with capture_spans(metrics=False) as captured:
        assert len(get_global_hook_list(InterceptionPoint.PRE_STEP)) == before + 1
    assert len(get_global_hook_list(InterceptionPoint.PRE_STEP)) == before
    run_crew(server.base_url, stream=False)
    assert captured.finished() == []
