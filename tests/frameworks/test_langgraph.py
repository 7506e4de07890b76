"""LangGraph apps written as LangGraph's docs show them, against a scripted 127.0.0.1 server.

* a supervisor graph: ``create_react_agent`` workers with a tool, and a supervisor node that
  routes with ``with_structured_output`` and returns ``Command(goto=...)``; sync, non-streamed
  and streamed (``streaming=True``), the ReAct tool node running tools in its thread pool;
* a graph that fans out with ``Send`` to parallel async nodes, each calling the model, run
  with ``.astream``.

Each run must give one trace with the right agent / tool / LLM parents, one LLM span per request
the server logged, the server's token totals, a cost on every LLM span, and a report that names
the agents.
"""

from __future__ import annotations

import contextlib
import io
import json
import operator
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from typing_extensions import TypedDict

pytest.importorskip("langgraph")
pytest.importorskip("langchain_openai")

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import Command, Send
from opentelemetry.sdk.trace import ReadableSpan
from pydantic import BaseModel
from tests.frameworks.scripted import MODEL, Reply, ScriptedProvider, last_message, tool_names

from agentspans import semconv
from agentspans.testing import CapturedSpans, capture_spans

API_KEY = "sk-test-SECRET-lg"
WORKERS = ("researcher", "coder")


def supervisor_script(body: dict[str, Any]) -> Reply:
    """Route researcher -> coder -> FINISH; workers call their tool twice, then answer."""
    if body.get("response_format"):
        names = [m.get("name") for m in body.get("messages") or []]
        pending = [w for w in WORKERS if w not in names]
        return Reply(content=json.dumps({"next": pending[0] if pending else "FINISH"}))
    if body.get("tools") and last_message(body).get("role") != "tool":
        tool = tool_names(body)[0]
        return Reply(tool_calls=[(tool, {"query": "alpha"}), (tool, {"query": "beta"})])
    return Reply(content="the work is done")


@pytest.fixture
def spans() -> Iterator[CapturedSpans]:
    with capture_spans(metrics=False) as captured:
        yield captured


@pytest.fixture
def server() -> Iterator[ScriptedProvider]:
    provider = ScriptedProvider(supervisor_script).start()
    yield provider
    provider.stop()


def build_supervisor(base_url: str, streaming: bool) -> Any:

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # create_react_agent's move to langchain.agents
        from langgraph.prebuilt import create_react_agent

    llm = ChatOpenAI(
        model=MODEL,
        base_url=base_url,
        api_key=API_KEY,
        max_retries=0,
        streaming=streaming,
        stream_usage=True,
    )

    @tool
    def search(query: str) -> str:
        """Search the web."""
        return f"results for {query}"

    class Router(BaseModel):
        next: Literal["researcher", "coder", "FINISH"]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workers = {name: create_react_agent(llm, [search], name=name) for name in WORKERS}

    def supervisor(state: MessagesState) -> Command[Literal["researcher", "coder", "__end__"]]:
        system = {"role": "system", "content": "Route to a worker or FINISH."}
        decision = llm.with_structured_output(Router).invoke([system, *state["messages"]])
        return Command(goto=END if decision.next == "FINISH" else decision.next)

    def worker_node(name: str) -> Any:
        def node(state: MessagesState) -> Command[Literal["supervisor"]]:
            result = workers[name].invoke(state)
            answer = HumanMessage(content=result["messages"][-1].content, name=name)
            return Command(update={"messages": [answer]}, goto="supervisor")

        return node

    graph = StateGraph(MessagesState)
    graph.add_node("supervisor", supervisor)
    for name in WORKERS:
        graph.add_node(name, worker_node(name))
    graph.add_edge(START, "supervisor")
    return graph.compile()


# -- helpers -------------------------------------------------------------------------------------
def op(span: ReadableSpan) -> Any:
    return (span.attributes or {}).get(semconv.GEN_AI_OPERATION_NAME)


def llm_spans(spans: CapturedSpans) -> list[ReadableSpan]:
    return [s for s in spans.finished() if op(s) in semconv.LLM_OPERATIONS]


def tokens(found: list[ReadableSpan]) -> int:
    return sum(
        int((s.attributes or {}).get(semconv.GEN_AI_USAGE_INPUT_TOKENS, 0))
        + int((s.attributes or {}).get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS, 0))
        for s in found
    )


def agent_of(spans: CapturedSpans, span: ReadableSpan) -> ReadableSpan | None:
    parent = spans.parent_of(span)
    while parent is not None and op(parent) != semconv.OP_INVOKE_AGENT:
        parent = spans.parent_of(parent)
    return parent


def assert_one_trace(spans: CapturedSpans, root_name: str) -> ReadableSpan:
    finished = spans.finished()
    assert len({s.context.trace_id for s in finished if s.context}) == 1
    (root,) = spans.roots()
    assert root.name == root_name and op(root) == semconv.OP_INVOKE_WORKFLOW
    return root


def report_agents(spans: CapturedSpans, tmp_path: Path) -> set[str]:
    """Write the spans as OTLP/JSON and read back the agents ``agentspans report`` names."""
    from agentspans.cli import main
    from agentspans.exporters.otlp_json import encode_request

    path = tmp_path / "trace.jsonl"
    path.write_text(json.dumps(encode_request(spans.finished())) + "\n")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["report", "--format", "json", str(path)]) == 0
    (trace,) = json.loads(out.getvalue())["traces"]
    return {agent["name"] for agent in trace["agents"]}


# -- the supervisor graph ------------------------------------------------------------------------
@pytest.mark.parametrize("streaming", [False, True], ids=["invoke", "streaming"])
def test_supervisor_graph(
    spans: CapturedSpans, server: ScriptedProvider, streaming: bool, tmp_path: Path
) -> None:
    app = build_supervisor(server.base_url, streaming)
    app.invoke({"messages": [("user", "write a report")]})

    root = assert_one_trace(spans, "invoke_workflow LangGraph")
    top = spans.children(root)
    assert [s.name for s in top] == [
        "invoke_agent supervisor",
        "invoke_agent researcher",
        "invoke_agent supervisor",
        "invoke_agent coder",
        "invoke_agent supervisor",
    ]
    # the supervisor's routing: what each visit chose, and who started each worker
    routes = [list((s.attributes or {}).get(semconv.ROUTE_TARGETS, ())) for s in top]
    assert routes == [["researcher"], ["supervisor"], ["coder"], ["supervisor"], ["__end__"]]
    assert [(s.attributes or {}).get(semconv.HANDOFF_FROM_AGENT) for s in top] == [
        None,
        "supervisor",
        "researcher",
        "supervisor",
        "coder",
    ]
    # each worker is a ReAct subgraph: agent -> tools -> agent. LangGraph 1.x sends each tool
    # call to its own tools-node run; 0.3 runs both in one, on ToolNode's thread pool.
    for worker in (top[1], top[3]):
        inner = spans.children(worker)
        names = [s.name for s in inner]
        assert names[0] == names[-1] == "invoke_agent agent"
        assert set(names[1:-1]) == {"invoke_agent tools"} and len(names) in (3, 4), names
        tools = [t for node in inner[1:-1] for t in spans.children(node)]
        assert [t.name for t in tools] == ["execute_tool search"] * 2
        for tool_span in tools:
            call_id = (tool_span.attributes or {}).get(semconv.GEN_AI_TOOL_CALL_ID)
            assert str(call_id).startswith("call_")
        for model_node in (inner[0], inner[-1]):
            assert [op(s) for s in spans.children(model_node)] == [semconv.OP_CHAT]
    # the tool-node thread pool: each tool ran in a worker thread and kept its parent
    call_ids = {
        (s.attributes or {}).get(semconv.GEN_AI_TOOL_CALL_ID)
        for s in spans.named("execute_tool search")
    }
    assert len(call_ids) == 4

    assert {s.name for s in spans.children(top[0])} == {f"chat {MODEL}"}
    for span in llm_spans(spans):
        assert agent_of(spans, span) is not None, span.name
    assert report_agents(spans, tmp_path) >= {"supervisor", "researcher", "coder"}


@pytest.mark.parametrize(
    "streaming",
    # non-streamed ChatOpenAI calls go through openai's with_raw_response
    [False, True],
    ids=["invoke", "streaming"],
)
def test_supervisor_graph_counts_each_request_once(
    spans: CapturedSpans, server: ScriptedProvider, streaming: bool
) -> None:
    build_supervisor(server.base_url, streaming).invoke({"messages": [("user", "a report")]})
    found = llm_spans(spans)
    assert len(found) == len(server.served) == 7
    assert tokens(found) == server.tokens_served()
    for span in found:
        assert (span.attributes or {}).get(semconv.COST_USD, 0) > 0, span.name


# -- parallel Send fan-out with async nodes ------------------------------------------------------
class Overall(TypedDict):
    topics: list[str]
    notes: Annotated[list[str], operator.add]


class Topic(TypedDict):
    topic: str


def fan_out_script(body: dict[str, Any]) -> Reply:
    topic = str(last_message(body).get("content"))
    return Reply(content=f"notes on {topic} are ready")


async def test_send_fan_out_async(spans: CapturedSpans, tmp_path: Path) -> None:
    import asyncio

    server = ScriptedProvider(fan_out_script).start()
    try:
        llm = ChatOpenAI(
            model=MODEL,
            base_url=server.base_url,
            api_key=API_KEY,
            max_retries=0,
            streaming=True,
            stream_usage=True,
        )

        def plan(state: Overall) -> list[Send]:
            return [Send("research", {"topic": t}) for t in state["topics"]]

        async def research(state: Topic) -> dict[str, list[str]]:
            await asyncio.sleep(0.01)  # the branches overlap
            chunks = [c async for c in llm.astream(state["topic"])]
            return {"notes": ["".join(str(c.content) for c in chunks)]}

        async def summarise(state: Overall) -> dict[str, list[str]]:
            message = await llm.ainvoke("summarise: " + " / ".join(state["notes"]))
            return {"notes": [str(message.content)]}

        graph = StateGraph(Overall)
        graph.add_node("research", research)
        graph.add_node("summarise", summarise)
        graph.add_conditional_edges(START, plan, ["research"])
        graph.add_edge("research", "summarise")
        graph.add_edge("summarise", END)
        app = graph.compile(name="fan_out")

        updates = [u async for u in app.astream({"topics": ["ants", "bees", "wasps"], "notes": []})]
        assert len(updates) == 4

        root = assert_one_trace(spans, "invoke_workflow fan_out")
        children = spans.children(root)
        assert sorted(s.name for s in children) == [
            "invoke_agent research",
            "invoke_agent research",
            "invoke_agent research",
            "invoke_agent summarise",
        ]
        branches = [s for s in children if s.name == "invoke_agent research"]
        # they ran concurrently, and each branch's LLM span is its own
        assert max(s.start_time or 0 for s in branches) < min(s.end_time or 0 for s in branches)
        for branch in branches:
            (llm_span,) = spans.children(branch)
            assert op(llm_span) == semconv.OP_CHAT
            assert (llm_span.attributes or {}).get(semconv.GEN_AI_REQUEST_STREAM) is True
        found = llm_spans(spans)
        assert len(found) == len(server.served) == 4
        assert tokens(found) == server.tokens_served()
        assert all((s.attributes or {}).get(semconv.COST_USD, 0) > 0 for s in found)
        assert report_agents(spans, tmp_path) >= {"research", "summarise"}
    finally:
        server.stop()


# -- a model whose client we do not trace --------------------------------------------------------
def test_untraced_model_gets_a_span_from_the_callback(spans: CapturedSpans) -> None:

    reply = AIMessage(
        content="hi",
        usage_metadata={"input_tokens": 12, "output_tokens": 3, "total_tokens": 15},
        response_metadata={"model_name": MODEL},
    )
    model = GenericFakeChatModel(messages=iter([reply]))

    def call(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("assistant", call)
    graph.add_edge(START, "assistant")
    graph.compile().invoke({"messages": [("user", "hello")]})

    (llm_span,) = llm_spans(spans)
    attributes = llm_span.attributes or {}
    assert attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 12
    assert attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 3
    assert attributes[semconv.GEN_AI_AGENT_NAME] == "assistant"
    assert spans.parent_of(llm_span).name == "invoke_agent assistant"  # type: ignore[union-attr]


def test_uninstrument_removes_the_handler(server: ScriptedProvider) -> None:
    from langchain_core.tracers import context as tracer_context

    before = len(tracer_context._configure_hooks)
    with capture_spans(metrics=False) as captured:
        assert len(tracer_context._configure_hooks) == before + 1
    assert len(tracer_context._configure_hooks) == before
    build_supervisor(server.base_url, streaming=False).invoke({"messages": [("user", "x")]})
    assert captured.finished() == []


# -- context, errors and decorators --------------------------------------------------------------
class Failure(Exception):
    pass


def two_node_graph(fail: bool = False) -> Any:
    def first(state: MessagesState) -> dict[str, Any]:
        return {"messages": [("ai", "one")]}

    def second(state: MessagesState) -> dict[str, Any]:
        if fail:
            raise Failure("the node's own error")
        return {"messages": [("ai", "two")]}

    graph = StateGraph(MessagesState)
    graph.add_node("first", first)
    graph.add_node("second", second)
    graph.add_edge(START, "first")
    graph.add_edge("first", "second")
    graph.add_edge("second", END)
    return graph.compile(name="pair")


async def test_graph_nests_under_the_apps_span_and_restores_the_context(
    spans: CapturedSpans,
) -> None:
    from opentelemetry import trace

    import agentspans

    def current_is(span: Any) -> bool:
        return trace.get_current_span().get_span_context() == span.get_span_context()

    app = two_node_graph()
    with agentspans.agent_span("app") as outer:
        app.invoke({"messages": [("user", "x")]})
        assert trace.get_current_span() is outer
        await app.ainvoke({"messages": [("user", "y")]})
        # langchain_core ends async runs in a copied context: what the runs' starts left
        # current here now stands for the app's own span
        assert current_is(outer)
        stream = app.astream({"messages": [("user", "z")]})
        async for _ in stream:
            break  # a stream closed halfway
        await stream.aclose()
        assert current_is(outer)
        with agentspans.tool_span("after"):
            pass
    assert not trace.get_current_span().get_span_context().is_valid
    assert spans.parent_of(spans.one("execute_tool after")).name == "invoke_agent app"  # type: ignore[union-attr]

    (root,) = spans.roots()
    assert root.name == "invoke_agent app"
    workflows = spans.children(root)
    assert [s.name for s in workflows][:3] == ["invoke_workflow pair"] * 3
    for workflow in workflows[:3]:
        # a stale context of the previous run never names the enclosing agent
        assert (workflow.attributes or {}).get(semconv.GEN_AI_AGENT_NAME) == "app"
    for workflow in workflows[:2]:
        assert [s.name for s in spans.children(workflow)] == [
            "invoke_agent first",
            "invoke_agent second",
        ]


def test_a_nodes_error_passes_through_and_is_recorded(spans: CapturedSpans) -> None:
    with pytest.raises(Failure, match="the node's own error"):
        two_node_graph(fail=True).invoke({"messages": [("user", "x")]})
    (failed,) = spans.named("invoke_agent second")
    assert (failed.attributes or {}).get(semconv.ERROR_TYPE, "").endswith("Failure")
    assert spans.one("invoke_agent first").status.is_ok


def test_a_decorated_function_run_as_a_langchain_tool_is_one_span(spans: CapturedSpans) -> None:
    import agentspans

    @tool
    @agentspans.tool
    def lookup(query: str) -> str:
        """Look something up."""
        return query.upper()

    assert lookup.invoke({"query": "x"}) == "X"
    assert [s.name for s in spans.finished()] == ["execute_tool lookup"]
