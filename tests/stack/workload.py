"""A small multi-agent app, instrumented the way users write one: ``@agentspans.agent`` and
``@agentspans.tool`` functions calling an LLM through the real ``openai`` client.

A coordinator hands work to a researcher and a writer. Planted on purpose, for the analysis to
find: the researcher runs three independent searches one after another
(``parallelizable_sequence``), and the writer repeats the researcher's profile request
(``repeated_call``). With ``failures=True`` one tool call and one LLM call fail (the agents
handle both), so the stack has errors to count.
"""

from __future__ import annotations

import time
from typing import Any

import openai
from openai.types.chat import ChatCompletionMessageParam
from opentelemetry import trace

import agentspans

CHEAP_MODEL = "gpt-4o-mini"
WRITER_MODEL = "gpt-4o"
FAILING_MODEL = "gpt-4o-mini+500"  # the test server answers this one with HTTP 500
PROFILE: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "Give a two-sentence profile of Acme Robotics."}
]
QUERIES = ("acme revenue", "acme competitors", "warehouse robot market")


@agentspans.tool("web_search")
def web_search(query: str) -> list[str]:
    time.sleep(0.04)  # three of these in a row: ~80 ms to save by running them together
    return [f"https://search.invalid/{query.replace(' ', '-')}"]


@agentspans.tool("warehouse_lookup")
def warehouse_lookup(table: str) -> list[str]:
    raise LookupError(f"table {table!r} is not in the warehouse")


@agentspans.agent("researcher")
def researcher(client: openai.OpenAI, failures: bool) -> list[str]:
    client.chat.completions.create(model=CHEAP_MODEL, messages=PROFILE, max_tokens=40)
    sources = [url for query in QUERIES for url in web_search(query)]
    if failures:
        try:
            sources += warehouse_lookup("acme_quarterly")
        except LookupError:
            pass
    return sources


@agentspans.agent("writer")
def writer(client: openai.OpenAI, sources: list[str], failures: bool) -> str:
    client.chat.completions.create(model=CHEAP_MODEL, messages=PROFILE, max_tokens=40)
    stream = client.chat.completions.create(
        model=WRITER_MODEL,
        messages=[{"role": "user", "content": f"Write a report from {sources}"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    if failures:
        try:
            client.chat.completions.create(model=FAILING_MODEL, messages=PROFILE)
        except openai.InternalServerError:
            pass
    return text


@agentspans.agent("coordinator")
def coordinator(client: openai.OpenAI, failures: bool) -> str:
    return writer(client, researcher(client, failures), failures)


def run_workflow(base_url: str, api_key: str, *, failures: bool = True) -> str:
    """Run one market-report workflow; the hex trace id of its trace."""
    client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0)
    try:
        with agentspans.workflow_span("market-report"):
            trace_id = trace.get_current_span().get_span_context().trace_id
            coordinator(client, failures)
    finally:
        client.close()
    return f"{trace_id:032x}"


@agentspans.tool("lookup_price")
def lookup_price(symbol: str) -> float:
    return 42.0


def run_plain_call() -> str:
    """One fast tool call and nothing else: a trace with no error and no finding."""
    with agentspans.workflow_span("price-check"):
        trace_id = trace.get_current_span().get_span_context().trace_id
        lookup_price("ACME")
    return f"{trace_id:032x}"


def otlp_attributes(raw: list[dict[str, Any]]) -> dict[str, Any]:
    """OTLP/JSON ``[{"key", "value": {"stringValue": ...}}]`` as a plain dict."""
    return {item["key"]: _value(item["value"]) for item in raw}


def _value(value: dict[str, Any]) -> Any:
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [_value(v) for v in value["arrayValue"].get("values", [])]
    return None
