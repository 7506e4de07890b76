"""The OpenAI Agents SDK, as its docs use it, against a 127.0.0.1 Responses server.

Real ``openai-agents`` and ``openai`` packages over HTTP; the SDK's default exporter (which would
send traces to OpenAI) is replaced before agentspans registers its processor, so nothing leaves
the machine.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

agents = pytest.importorskip("agents")
openai = pytest.importorskip("openai")

from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan  # noqa: E402
from tests.frameworks import agents_app  # noqa: E402
from tests.frameworks.responses_script import MODEL, Call, Say, ScriptedResponses  # noqa: E402
from tests.llm.servers import OPENAI_USAGE  # noqa: E402

import agentspans  # noqa: E402
from agentspans import semconv  # noqa: E402
from agentspans.testing import CapturedSpans, capture_spans  # noqa: E402

API_KEY = "sk-test-agents-0000"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_processor_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The SDK catches what its trace processors raise and logs it: agentspans' strict-mode
    internal errors would vanish there, so any error the SDK logged fails the test."""
    caplog.set_level(logging.ERROR, logger="openai.agents")
    yield
    errors = [r for r in caplog.records if r.name.startswith("openai.agents")]
    assert not [r for r in errors if r.levelno >= logging.ERROR], [r.getMessage() for r in errors]


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[ScriptedResponses]:
    specialist = getattr(request, "param", "billing")
    provider = ScriptedResponses(agents_app.script(specialist)).start()
    client = openai.AsyncOpenAI(base_url=provider.base_url, api_key=API_KEY, max_retries=0)
    agents.set_default_openai_client(client, use_for_tracing=False)
    agents.set_default_openai_api("responses")
    # The SDK's own processor exports to OpenAI: off, as its docs say (set_trace_processors).
    agents.set_trace_processors([])
    agents_app.tool_client["client"] = client
    yield provider
    agents_app.tool_client.clear()
    provider.stop()


@pytest.fixture
def reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def spans(reader: InMemoryMetricReader) -> Iterator[CapturedSpans]:
    with capture_spans(meter_provider=MeterProvider(metric_readers=[reader])) as captured:
        yield captured


def _attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def _op(span: ReadableSpan) -> Any:
    return _attrs(span).get(semconv.GEN_AI_OPERATION_NAME)


def _by_id(spans: list[ReadableSpan]) -> dict[int, ReadableSpan]:
    return {s.context.span_id: s for s in spans if s.context is not None}


def _parent(span: ReadableSpan, index: dict[int, ReadableSpan]) -> ReadableSpan | None:
    return index.get(span.parent.span_id) if span.parent is not None else None


def _run(streamed: bool) -> str:
    async def main() -> str:
        question = "Where is my invoice?" if not streamed else "I want a refund"
        if not streamed:
            result = await agents.Runner.run(agents_app.triage, question)
            return str(result.final_output)
        streaming = agents.Runner.run_streamed(agents_app.triage, question)
        async for _event in streaming.stream_events():
            pass
        return str(streaming.final_output)

    return asyncio.run(main())


def _check_run(spans: CapturedSpans, server: ScriptedResponses, specialist: str) -> None:
    finished = spans.finished()
    index = _by_id(finished)
    # One trace, one root: the SDK's trace as the workflow.
    assert len({s.context.trace_id for s in finished if s.context}) == 1
    (root,) = [s for s in finished if s.parent is None]
    assert root.name == "invoke_workflow Agent workflow"
    assert _op(root) == semconv.OP_INVOKE_WORKFLOW
    assert _attrs(root)[semconv.GEN_AI_AGENT_NAME] == "Agent workflow"

    expected = agents_app.EXPECTED_TOOLS[specialist]
    agent_spans = {
        _attrs(s)[semconv.GEN_AI_AGENT_NAME]: s for s in finished if _op(s) == "invoke_agent"
    }
    assert sorted(agent_spans) == sorted(expected)
    for name, agent_span in agent_spans.items():
        assert agent_span.name == f"invoke_agent {name}"
        assert _parent(agent_span, index) is root
        tools = [
            s for s in finished if _op(s) == "execute_tool" and _parent(s, index) is agent_span
        ]
        assert sorted(_attrs(t)[semconv.GEN_AI_TOOL_NAME] for t in tools) == sorted(expected[name])
        for tool in tools:
            assert tool.name == f"execute_tool {_attrs(tool)[semconv.GEN_AI_TOOL_NAME]}"
            assert _attrs(tool)[semconv.GEN_AI_AGENT_NAME] == name
            assert _attrs(tool)[semconv.GEN_AI_TOOL_CALL_ID].startswith(f"call_{name}_")
            assert semconv.REQUEST_FINGERPRINT in _attrs(tool)
    # The @agentspans.tool decorator inside the SDK's function tool made no second span.
    assert len([s for s in finished if s.name.startswith("execute_tool get_invoice")]) == (
        1 if specialist == "billing" else 0
    )

    (handoff,) = [s for s in finished if s.name.startswith("handoff ")]
    target = "Billing" if specialist == "billing" else "Refunds"
    assert handoff.name == f"handoff Triage -> {target}"
    assert _attrs(handoff)[semconv.HANDOFF_FROM_AGENT] == "Triage"
    assert _attrs(handoff)[semconv.HANDOFF_TO_AGENT] == target
    assert _parent(handoff, index) is agent_spans["Triage"]

    (guardrail,) = [s for s in finished if s.name.startswith("guardrail ")]
    assert guardrail.name == "guardrail polite"
    assert _attrs(guardrail)[semconv.GUARDRAIL_TRIGGERED] is False
    assert _parent(guardrail, index) is agent_spans["Triage"]

    # Every request the server saw is one LLM span, nested under the agent (or tool) that made it.
    llm = [s for s in finished if _op(s) in semconv.LLM_OPERATIONS]
    assert len(llm) == len(server.requests), [s.name for s in llm]
    for span in llm:
        parent = _parent(span, index)
        assert parent is not None and _op(parent) in ("invoke_agent", "execute_tool"), span.name
        assert span.name == f"chat {MODEL}"
        assert _attrs(span)[semconv.COST_USD] > 0
    chat_requests = [r for r in server.requests if r.path.startswith("/v1/chat/completions")]
    returned = sum(s.input_tokens + s.output_tokens for s in server.responses_served()) + len(
        chat_requests
    ) * (OPENAI_USAGE["prompt_tokens"] + OPENAI_USAGE["completion_tokens"])
    recorded = sum(
        _attrs(s)[semconv.GEN_AI_USAGE_INPUT_TOKENS] + _attrs(s)[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]
        for s in llm
    )
    assert recorded == returned
    if chat_requests:  # the async tool's own LLM call nests under that tool
        (chat,) = [
            s
            for s in llm
            if _attrs(s).get(semconv.GEN_AI_REQUEST_STREAM) is None
            and _parent(s, index) is not None
            and _op(_parent(s, index)) == "execute_tool"
        ]
        assert _attrs(_parent(chat, index))[semconv.GEN_AI_TOOL_NAME] == "get_balance"


@pytest.mark.parametrize("server", ["billing"], indirect=True)
def test_run_gives_one_trace_with_agents_tools_handoff_and_every_request(
    server: ScriptedResponses, spans: CapturedSpans, reader: InMemoryMetricReader
) -> None:
    output = _run(streamed=False)
    assert output == "Invoice 7 is 30 USD and your balance is clear."
    assert len(server.requests) == 5  # 2 triage + 2 billing responses + the tool's chat call
    _check_run(spans, server, "billing")
    # Duration histograms from the finished agent and tool spans.
    spans.provider.force_flush()
    metrics = {
        m.name: m
        for rm in reader.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    }
    agent_points = metrics[semconv.METRIC_INVOKE_AGENT_DURATION].data.data_points
    by_agent = {p.attributes[semconv.GEN_AI_AGENT_NAME]: p.count for p in agent_points}
    assert by_agent == {"Agent workflow": 1, "Triage": 1, "Billing": 1}
    tool_points = metrics[semconv.METRIC_EXECUTE_TOOL_DURATION].data.data_points
    assert {p.attributes[semconv.GEN_AI_TOOL_NAME]: p.count for p in tool_points} == {
        "lookup_customer": 1,
        "get_invoice": 1,
        "get_balance": 1,
    }


@pytest.mark.parametrize("server", ["refunds"], indirect=True)
def test_streamed_run_gives_the_same_tree(server: ScriptedResponses, spans: CapturedSpans) -> None:
    output = _run(streamed=True)
    assert output == "Your refund of 30 USD is on its way."
    assert len(server.requests) == 4
    assert all(r.body.get("stream") is True for r in server.requests)
    _check_run(spans, server, "refunds")


@pytest.mark.parametrize("server", ["billing"], indirect=True)
def test_two_runs_are_two_traces_and_nothing_leaks_into_the_caller(
    server: ScriptedResponses, spans: CapturedSpans
) -> None:
    from opentelemetry import context as otel_context

    async def main() -> None:
        before = otel_context.get_current()
        await agents.Runner.run(agents_app.triage, "Where is my invoice?")
        assert otel_context.get_current() is before
        streaming = agents.Runner.run_streamed(agents_app.triage, "Where is my invoice?")
        async for _event in streaming.stream_events():
            pass
        assert otel_context.get_current() is before

    asyncio.run(main())
    roots = [s for s in spans.finished() if s.parent is None]
    assert len(roots) == 2
    assert len({r.context.trace_id for r in roots if r.context}) == 2


@pytest.mark.parametrize("server", ["billing"], indirect=True)
def test_group_id_is_the_conversation_and_an_outer_span_is_the_parent(
    server: ScriptedResponses, spans: CapturedSpans
) -> None:
    async def main() -> None:
        with agentspans.workflow_span("support"), agents.trace("Support", group_id="thread-9"):
            await agents.Runner.run(agents_app.triage, "Where is my invoice?")

    asyncio.run(main())
    finished = spans.finished()
    (outer,) = [s for s in finished if s.parent is None]
    assert outer.name == "invoke_workflow support"
    sdk_root = spans.one("invoke_workflow Support")
    assert sdk_root.parent is not None and sdk_root.parent.span_id == outer.context.span_id
    for span in finished:
        if _op(span) in ("invoke_agent",) or span is sdk_root:
            assert _attrs(span)[semconv.GEN_AI_CONVERSATION_ID] == "thread-9"


@pytest.mark.parametrize("server", ["billing"], indirect=True)
def test_a_model_agentspans_does_not_trace_gets_its_llm_span_from_the_sdk(
    server: ScriptedResponses,
) -> None:
    # Only the framework is instrumented: the openai client is not patched, so the SDK's own
    # response spans are the only record of the requests.
    with capture_spans(libraries=["openai_agents"]) as captured:
        _run(streamed=False)
        finished = captured.finished()
    llm = [s for s in finished if _op(s) in semconv.LLM_OPERATIONS]
    responses = server.responses_served()
    assert len(llm) == len(responses)  # the tool's chat call is not traced here at all
    assert sum(_attrs(s)[semconv.GEN_AI_USAGE_INPUT_TOKENS] for s in llm) == sum(
        r.input_tokens for r in responses
    )
    assert all(_attrs(s)[semconv.COST_USD] > 0 for s in llm)
    assert all(_attrs(s)[semconv.GEN_AI_PROVIDER_NAME] == "openai" for s in llm)


@pytest.mark.parametrize("server", ["billing"], indirect=True)
def test_report_names_the_agents(server: ScriptedResponses, tmp_path: Path) -> None:
    trace_file = tmp_path / "agents.jsonl"
    agentspans.instrument(exporter="file", file_path=str(trace_file), metrics=False)
    try:
        _run(streamed=False)
    finally:
        agentspans.uninstrument()
    completed = subprocess.run(
        [sys.executable, "-m", "agentspans.cli", "report", "--format", "json", str(trace_file)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    (trace_report,) = json.loads(completed.stdout)["traces"]
    assert {a["name"] for a in trace_report["agents"]} == {"Triage", "Billing"}
    assert trace_report["totals"]["llm_calls"] == len(server.requests)
    assert trace_report["totals"]["tool_calls"] == 3


def test_an_mcp_tool_of_an_agent_is_one_span_with_the_mcp_attributes() -> None:
    from agents.mcp import MCPServerStdio

    provider = ScriptedResponses(
        {"Calculator": [(Call("add", {"a": 2, "b": 3}),), (Say("2 + 3 = 5"),)]}
    ).start()
    client = openai.AsyncOpenAI(base_url=provider.base_url, api_key=API_KEY, max_retries=0)
    agents.set_default_openai_client(client, use_for_tracing=False)
    agents.set_trace_processors([])

    async def main() -> str:
        params = {
            "command": sys.executable,
            "args": [str(Path(__file__).with_name("mcp_server.py"))],
        }
        async with MCPServerStdio(params=params) as calculator:  # type: ignore[arg-type]
            agent = agents.Agent(
                name="Calculator",
                instructions="You are Calculator. Use the tools.",
                mcp_servers=[calculator],
                model=MODEL,
            )
            result = await agents.Runner.run(agent, "What is 2 + 3?")
            return str(result.final_output)

    try:
        with capture_spans(metrics=False) as captured:
            assert asyncio.run(main()) == "2 + 3 = 5"
            finished = captured.finished()
    finally:
        provider.stop()
    (tool,) = [s for s in finished if _op(s) == "execute_tool"]
    assert tool.name == "execute_tool add"
    assert _attrs(tool)[semconv.MCP_METHOD_NAME] == "tools/call"
    assert _attrs(tool)[semconv.GEN_AI_AGENT_NAME] == "Calculator"


def test_uninstrument_takes_the_processor_out() -> None:
    from agents.tracing import get_trace_provider

    def ours() -> list[Any]:
        multi = get_trace_provider()._multi_processor  # type: ignore[attr-defined]
        return [p for p in multi._processors if type(p).__name__ == "AgentspansTracingProcessor"]

    with capture_spans():
        assert len(ours()) == 1
    assert ours() == []
    with capture_spans():
        assert len(ours()) == 1
    assert ours() == []


@pytest.mark.parametrize("blocked", [True, False])
def test_without_the_framework_instrument_imports_nothing_of_it(blocked: bool) -> None:
    code = (
        "import sys\n"
        + ("sys.modules['agents'] = None; sys.modules['mcp'] = None\n" if blocked else "")
        + "import agentspans\n"
        "agentspans.instrument(exporter='none', metrics=False)\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('agents', 'mcp') and sys.modules[m]]\n"
        "assert not loaded, loaded\n"
        "agentspans.uninstrument()\n"
        "print('ok')\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "ok"


def test_spans_that_end_out_of_order_leave_no_ended_span_current() -> None:
    from agents.tracing import agent_span, function_span
    from opentelemetry import context as otel_context
    from opentelemetry import trace as otel_trace

    agents.set_trace_processors([])
    with capture_spans(metrics=False) as captured:
        before = otel_context.get_current()
        sdk_trace = agents.trace("manual")
        sdk_trace.start(mark_as_current=True)
        agent = agent_span("A")
        agent.start(mark_as_current=True)
        tool = function_span("f", input="{}")
        tool.start(mark_as_current=True)
        assert otel_trace.get_current_span().name == "execute_tool f"  # type: ignore[attr-defined]
        agent.finish(reset_current=True)  # the agent ends before its tool
        tool.set_error({"message": "Error running tool", "data": None})
        tool.finish(reset_current=True)
        # Not the ended agent: the workflow, the last span still open.
        current = otel_trace.get_current_span()
        assert current.name == "invoke_workflow manual"  # type: ignore[attr-defined]
        sdk_trace.finish(reset_current=True)
        assert otel_context.get_current() is before
        finished = {s.name: s for s in captured.finished()}
    assert set(finished) == {"invoke_workflow manual", "invoke_agent A", "execute_tool f"}
    failed = finished["execute_tool f"]
    assert failed.status.status_code.name == "ERROR"
    assert _attrs(failed)[semconv.ERROR_TYPE] == "_OTHER"
    assert failed.parent is not None
    assert failed.parent.span_id == finished["invoke_agent A"].context.span_id


@pytest.mark.parametrize("streamed", [False, True])
def test_chat_completions_model_is_one_llm_span_per_request(streamed: bool) -> None:
    from tests.llm.servers import REPLY_TEXT, FakeProvider

    provider = FakeProvider().start()
    client = openai.AsyncOpenAI(base_url=provider.base_url, api_key=API_KEY, max_retries=0)
    model = agents.OpenAIChatCompletionsModel(model=MODEL, openai_client=client)
    # Streamed chat completions carry usage only when asked (the SDK's include_usage setting).
    settings = agents.ModelSettings(include_usage=True) if streamed else agents.ModelSettings()
    agent = agents.Agent(
        name="Helper", instructions="You are Helper.", model=model, model_settings=settings
    )
    agents.set_trace_processors([])

    async def main() -> str:
        if not streamed:
            return str((await agents.Runner.run(agent, "Hello?")).final_output)
        streaming = agents.Runner.run_streamed(agent, "Hello?")
        async for _event in streaming.stream_events():
            pass
        return str(streaming.final_output)

    try:
        with capture_spans(metrics=False) as captured:
            assert asyncio.run(main()) == REPLY_TEXT
            finished = captured.finished()
    finally:
        provider.stop()
    llm = [s for s in finished if _op(s) in semconv.LLM_OPERATIONS]
    assert len(llm) == len(provider.requests) == 1
    (call,) = llm
    index = _by_id(finished)
    assert _parent(call, index) is not None
    assert _parent(call, index).name == "invoke_agent Helper"  # type: ignore[union-attr]
    assert _attrs(call)[semconv.GEN_AI_USAGE_INPUT_TOKENS] == OPENAI_USAGE["prompt_tokens"]
    assert _attrs(call)[semconv.COST_USD] > 0


def test_beyond_the_open_span_cap_new_spans_are_not_mirrored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agents.tracing import agent_span, function_span

    from agentspans.wrappers import openai_agents

    monkeypatch.setattr(openai_agents, "MAX_OPEN", 2)
    agents.set_trace_processors([])
    with capture_spans(metrics=False) as captured:
        with agents.trace("capped"), agent_span("A"), function_span("f"):
            pass
        names = sorted(s.name for s in captured.finished())
    assert names == ["invoke_agent A", "invoke_workflow capped"]


def test_no_tool_call_id_when_the_response_asked_for_the_same_tool_twice() -> None:
    provider = ScriptedResponses(
        {
            "Twice": [
                (
                    Call("lookup_customer", {"email": "a@x"}),
                    Call("lookup_customer", {"email": "b@x"}),
                ),
                (Say("Both found."),),
            ]
        }
    ).start()
    client = openai.AsyncOpenAI(base_url=provider.base_url, api_key=API_KEY, max_retries=0)
    agents.set_default_openai_client(client, use_for_tracing=False)
    agents.set_trace_processors([])
    agent = agents.Agent(
        name="Twice", instructions="You are Twice.", tools=[agents_app.lookup_customer], model=MODEL
    )
    try:
        with capture_spans(metrics=False) as captured:
            asyncio.run(agents.Runner.run(agent, "Look both up"))
            tools = [s for s in captured.finished() if _op(s) == "execute_tool"]
    finally:
        provider.stop()
    assert len(tools) == 2
    # Which call is which span is not known: no id rather than a guessed one.
    assert all(semconv.GEN_AI_TOOL_CALL_ID not in _attrs(t) for t in tools)
    # Different arguments, different fingerprints.
    assert len({_attrs(t)[semconv.REQUEST_FINGERPRINT] for t in tools}) == 2
