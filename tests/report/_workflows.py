"""Small multi-agent workflows the report tests instrument, and helpers shared by the tests."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

import agentspans
from agentspans.analysis.model import SpanEvent, SpanRecord


@agentspans.tool
def search(query: str) -> str:
    time.sleep(0.03)
    return query.upper()


@agentspans.tool
def flaky(query: str) -> str:
    raise ValueError(f"no results for {query}")


@agentspans.agent(name="research")
def research(topic: str) -> list[str]:
    # Three calls one after another: a parallelizable sequence (3 x 30 ms, saving ~60 ms).
    return [search(f"{topic} {part}") for part in ("history", "market", "risks")]


@agentspans.agent(name="writer")
def writer(notes: list[str]) -> str:
    search("style guide")  # the same request twice: a repeated call
    search("style guide")
    try:
        flaky("citations")
    except ValueError:
        pass
    return " ".join(notes)


def coordinator_workflow() -> str:
    """A coordinator that idles before delegating, then runs two agents one after the other."""
    with agentspans.agent_span(
        "coordinator",
        attributes={"app.int": 7, "app.float": 0.25, "app.flag": True, "app.tags": ["a", "b"]},
    ):
        time.sleep(0.08)  # coordination overhead: the coordinator's own time
        notes = research("acme")
        return writer(notes)


def expected_record(span: ReadableSpan) -> SpanRecord:
    """What reading ``span`` back from OTLP/JSON must give, written independently of the readers.

    OTLP/JSON has one array type, so sequences come back as tuples wherever they were lists.
    """
    context = span.context
    assert context is not None and span.start_time is not None and span.end_time is not None
    parent = span.parent
    service = span.resource.attributes.get("service.name")
    return SpanRecord(
        trace_id=format(context.trace_id, "032x"),
        span_id=format(context.span_id, "016x"),
        parent_id=format(parent.span_id, "016x") if parent is not None else None,
        name=span.name,
        start_ns=span.start_time,
        end_ns=span.end_time,
        attributes=_tuples(span.attributes or {}),
        error=span.status.status_code.name == "ERROR",
        service=service if isinstance(service, str) else None,
        events=tuple(
            SpanEvent(event.name, event.timestamp, _tuples(event.attributes or {}))
            for event in span.events
        ),
        parent_is_remote=parent is not None and parent.is_remote,
    )


def _tuples(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: tuple(value) if isinstance(value, (list, tuple)) else value
        for key, value in attributes.items()
    }
