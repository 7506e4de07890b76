"""End to end through the shipped stack: an instrumented multi-agent run exports by OTLP to the
real Collector running collector/config.yaml, which forwards traces to the real Jaeger v2 and
serves metrics to a real Prometheus.

The trace is read back from Jaeger's query API and checked against what the process itself
saw; ``agentspans analyze --jaeger`` must print the same analysis as the in-process spans give;
every PromQL expression of dashboards/ must return data from the Prometheus that scraped the
Collector; Jaeger's Monitor API must answer from the same span metrics.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests.llm.servers import OPENAI_USAGE, FakeProvider
from tests.stack import workload
from tests.stack.services import (
    REPO,
    Binaries,
    Service,
    collector_ports,
    get_json,
    start_collector,
    start_jaeger,
    start_prometheus,
    wait_for,
)

import agentspans
from agentspans import semconv

SERVICE_NAME = "agentspans-stack-e2e"
API_KEY = "sk-stack-SECRET-77d1"  # must reach nothing the stack stores


@dataclass
class Span:
    """One span as Jaeger's api/v3 returns it (OTLP/JSON)."""

    span_id: str
    parent_id: str
    name: str
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]
    status_code: str
    start_ns: int
    end_ns: int


@dataclass
class StackRun:
    collector: Service
    jaeger: Service
    prometheus: Service
    trace_ids: list[str]
    local_spans: list[ReadableSpan]

    def local(self, trace_id: str) -> list[ReadableSpan]:
        wanted = int(trace_id, 16)
        return [
            s for s in self.local_spans if s.context is not None and s.context.trace_id == wanted
        ]


def jaeger_trace(jaeger: Service, trace_id: str) -> list[Span] | None:
    try:
        body = get_json(jaeger.url("query", f"/api/v3/traces/{trace_id}"))
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise
    spans = []
    for resource_spans in body["result"]["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for raw in scope_spans["spans"]:
                spans.append(
                    Span(
                        span_id=raw["spanId"],
                        parent_id=raw.get("parentSpanId", ""),
                        name=raw["name"],
                        attributes=workload.otlp_attributes(raw.get("attributes", [])),
                        events=[
                            (e["name"], workload.otlp_attributes(e.get("attributes", [])))
                            for e in raw.get("events", [])
                        ],
                        status_code=_status(raw.get("status", {}).get("code", 0)),
                        start_ns=int(raw["startTimeUnixNano"]),
                        end_ns=int(raw["endTimeUnixNano"]),
                    )
                )
    return spans


def _status(code: int | str) -> str:
    """Jaeger's api/v3 writes the status code as a number (OTLP/JSON allows either form)."""
    names = {0: "STATUS_CODE_UNSET", 1: "STATUS_CODE_OK", 2: "STATUS_CODE_ERROR"}
    return names[code] if isinstance(code, int) else code


def prometheus_value(prometheus: Service, query: str) -> float:
    """The single value of an instant query, or 0 when it has none."""
    body = get_json(prometheus.url("http", "/api/v1/query?query=") + _quote(query))
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


def _quote(query: str) -> str:
    import urllib.parse

    return urllib.parse.quote(query)


def _flush(instrumentation: agentspans.Instrumentation) -> None:
    assert instrumentation.force_flush()
    if instrumentation.metrics is not None:
        instrumentation.metrics.provider.force_flush()


@pytest.fixture(scope="module")
def stack_run(binaries: Binaries, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackRun]:
    workdir = tmp_path_factory.mktemp("stack")
    ports = collector_ports()
    services: list[Service] = []
    provider_server = FakeProvider().start()
    try:
        prometheus = start_prometheus(
            binaries,
            workdir,
            {
                "agentspans": f"127.0.0.1:{ports['prometheus']}",
                "otel-collector": f"127.0.0.1:{ports['telemetry']}",
            },
        )
        services.append(prometheus)
        jaeger = start_jaeger(binaries, workdir, prometheus.url("http"))
        services.append(jaeger)
        collector = start_collector(
            binaries,
            workdir,
            "config.yaml",
            "collector",
            {"AGENTSPANS_JAEGER_OTLP_ENDPOINT": f"127.0.0.1:{jaeger.ports['otlp_grpc']}"},
            ports,
        )
        services.append(collector)

        memory = InMemorySpanExporter()
        tracer_provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
        tracer_provider.add_span_processor(SimpleSpanProcessor(memory))
        instrumentation = agentspans.instrument(
            exporter="otlp",
            otlp_endpoint=f"http://127.0.0.1:{ports['otlp_grpc']}",
            tracer_provider=tracer_provider,
            resources=False,
        )
        trace_ids: list[str] = []
        try:
            # Two rounds with a scrape between them, so that every rate() on the dashboards
            # sees counters that moved.
            for _ in range(2):
                before = prometheus_value(prometheus, "sum(gen_ai_client_token_usage_count)")
                trace_ids.append(workload.run_workflow(provider_server.base_url, API_KEY))
                _flush(instrumentation)

                def scraped(before: float = before) -> bool:
                    tokens = prometheus_value(prometheus, "sum(gen_ai_client_token_usage_count)")
                    return tokens > before

                wait_for("Prometheus to scrape the run's token metrics", scraped, timeout_s=30)
                time.sleep(2.5)  # a couple more scrapes of the same values
        finally:
            agentspans.uninstrument()
            tracer_provider.shutdown()
        wait_for(
            "span metrics of both runs in Prometheus",
            lambda: (
                prometheus_value(
                    prometheus,
                    f'sum(traces_span_metrics_calls_total{{service_name="{SERVICE_NAME}", '
                    'span_name="invoke_workflow market-report"})',
                )
                >= 2
            ),
            timeout_s=30,
        )
        yield StackRun(collector, jaeger, prometheus, trace_ids, list(memory.get_finished_spans()))
    finally:
        provider_server.stop()
        for service in reversed(services):
            service.stop()


@pytest.fixture(scope="module")
def trace_from_jaeger(stack_run: StackRun) -> list[Span]:
    trace_id = stack_run.trace_ids[-1]
    spans: list[Span] = wait_for(
        f"trace {trace_id} in Jaeger",
        lambda: (
            (found := jaeger_trace(stack_run.jaeger, trace_id))
            and len(found) == len(stack_run.local(trace_id))
            and found
        ),
        timeout_s=30,
    )
    return spans


def by_name(spans: list[Span], name: str) -> list[Span]:
    return [s for s in spans if s.name == name]


def one(spans: list[Span], name: str) -> Span:
    found = by_name(spans, name)
    assert len(found) == 1, (name, [s.name for s in spans])
    return found[0]


def test_jaeger_has_the_whole_agent_tree(
    stack_run: StackRun, trace_from_jaeger: list[Span]
) -> None:
    spans = trace_from_jaeger
    root = one(spans, "invoke_workflow market-report")
    assert root.parent_id == ""
    coordinator = one(spans, "invoke_agent coordinator")
    researcher = one(spans, "invoke_agent researcher")
    writer = one(spans, "invoke_agent writer")
    assert coordinator.parent_id == root.span_id
    assert researcher.parent_id == coordinator.span_id
    assert writer.parent_id == coordinator.span_id
    for agent, name in (
        (coordinator, "coordinator"),
        (researcher, "researcher"),
        (writer, "writer"),
    ):
        assert agent.attributes[semconv.GEN_AI_OPERATION_NAME] == "invoke_agent"
        assert agent.attributes[semconv.GEN_AI_AGENT_NAME] == name

    searches = by_name(spans, "execute_tool web_search")
    assert len(searches) == 3
    assert {s.parent_id for s in searches} == {researcher.span_id}
    failed_tool = one(spans, "execute_tool warehouse_lookup")
    assert failed_tool.parent_id == researcher.span_id
    assert failed_tool.status_code == "STATUS_CODE_ERROR"
    assert failed_tool.attributes[semconv.ERROR_TYPE] == "LookupError"

    chats = [s for s in spans if s.attributes.get(semconv.GEN_AI_OPERATION_NAME) == "chat"]
    by_parent = {s.parent_id for s in chats}
    assert by_parent == {researcher.span_id, writer.span_id}
    assert sum(s.parent_id == writer.span_id for s in chats) == 3  # profile, stream, failure


def test_llm_spans_carry_tokens_and_cost(
    stack_run: StackRun, trace_from_jaeger: list[Span]
) -> None:
    local = {f"{s.context.span_id:016x}": s for s in stack_run.local(stack_run.trace_ids[-1])}
    chats = [
        s for s in trace_from_jaeger if s.attributes.get(semconv.GEN_AI_OPERATION_NAME) == "chat"
    ]
    answered = [s for s in chats if s.status_code != "STATUS_CODE_ERROR"]
    assert len(answered) == 3
    for span in answered:
        # The test server's wire values, as the process recorded them and Jaeger stored them.
        assert span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == OPENAI_USAGE["prompt_tokens"]
        assert (
            span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == OPENAI_USAGE["completion_tokens"]
        )
        cost = span.attributes[semconv.COST_USD]
        assert cost > 0
        assert cost == dict(local[span.span_id].attributes or {})[semconv.COST_USD]
    failed = [s for s in chats if s.status_code == "STATUS_CODE_ERROR"]
    assert len(failed) == 1
    assert semconv.COST_USD not in failed[0].attributes
    root = one(trace_from_jaeger, "invoke_workflow market-report")
    assert root.attributes[semconv.TRACE_TOTAL_COST_USD] == pytest.approx(
        sum(s.attributes[semconv.COST_USD] for s in answered)
    )
    assert root.attributes[semconv.TRACE_TOTAL_INPUT_TOKENS] == 3 * int(
        str(OPENAI_USAGE["prompt_tokens"])
    )
    # The API key the client sent is nowhere in what the stack stored.
    assert API_KEY not in json.dumps([s.attributes for s in trace_from_jaeger])


def test_critical_path_and_findings_are_on_the_right_spans(trace_from_jaeger: list[Span]) -> None:
    spans = trace_from_jaeger
    root = one(spans, "invoke_workflow market-report")
    duration_ms = (root.end_ns - root.start_ns) / 1e6
    on_path = [s for s in spans if semconv.CRITICAL_PATH_SELF_MS in s.attributes]
    assert root in on_path and one(spans, "invoke_agent researcher") in on_path
    # The path's own times tile the root's window.
    assert sum(s.attributes[semconv.CRITICAL_PATH_SELF_MS] for s in on_path) == pytest.approx(
        duration_ms, abs=0.01
    )

    kinds = set(root.attributes[semconv.TRACE_FINDING_KINDS])
    assert {"parallelizable_sequence", "repeated_call"} <= kinds
    assert root.attributes[semconv.TRACE_FINDINGS_COUNT] >= 2
    # Each finding's event on the spans it concerns (the root's copies are checked below).
    events = [
        (span, attrs)
        for span in spans
        for name, attrs in span.events
        if name == semconv.FINDING_EVENT and not attrs.get(semconv.FINDING_EVENT_ROOT_COPY)
    ]
    on_root = [attrs for name, attrs in root.events if name == semconv.FINDING_EVENT]
    assert {attrs[semconv.FINDING_EVENT_KIND] for attrs in on_root} == kinds
    assert "critical path: " in root.attributes[semconv.SUMMARY]
    assert {attrs[semconv.FINDING_EVENT_KIND] for _, attrs in events} == kinds
    for span, attrs in events:
        assert span.span_id in attrs[semconv.FINDING_EVENT_SPAN_IDS]
    repeated = {
        span.span_id
        for span, attrs in events
        if attrs[semconv.FINDING_EVENT_KIND] == "repeated_call"
    }
    profile_calls = [
        s
        for s in spans
        if s.name == f"chat {workload.CHEAP_MODEL}" and s.status_code != "STATUS_CODE_ERROR"
    ]
    assert repeated == {s.span_id for s in profile_calls}
    assert len({s.attributes[semconv.REQUEST_FINGERPRINT] for s in profile_calls}) == 1
    sequence = [
        attrs
        for _, attrs in events
        if attrs[semconv.FINDING_EVENT_KIND] == "parallelizable_sequence"
    ]
    searches = {s.span_id for s in by_name(spans, "execute_tool web_search")}
    assert searches <= set(sequence[0][semconv.FINDING_EVENT_SPAN_IDS])


def test_analyze_jaeger_prints_the_in_process_analysis(
    stack_run: StackRun, trace_from_jaeger: list[Span]
) -> None:
    from agentspans.analysis import analyze
    from agentspans.report import render_json
    from agentspans.sources.live import record_from_span

    trace_id = stack_run.trace_ids[-1]
    in_process = json.loads(
        render_json(analyze([record_from_span(s) for s in stack_run.local(trace_id)]))
    )
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("agentspans")),  # the installed console script
            "analyze",
            "--jaeger",
            stack_run.jaeger.url("query"),
            trace_id,
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    from_jaeger = json.loads(result.stdout)
    assert from_jaeger == in_process
    [analysis] = from_jaeger["traces"]
    assert analysis["trace_id"] == trace_id
    assert {f["kind"] for f in analysis["findings"]} >= {"parallelizable_sequence", "repeated_call"}


def test_every_dashboard_expression_returns_data(stack_run: StackRun) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "check_dashboards.py"),
            stack_run.prometheus.url("http"),
            str(REPO / "dashboards"),
            "--no-gpu",
            "--range",
            "10m",
            "--rate-interval",
            "1m",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith(("ok", "FAIL"))]
    assert len(lines) >= 20
    # Only the GPU panels may be empty here (no NVML on this machine), and only those.
    empty = [line for line in lines if "no data" in line]
    assert all(("VRAM" in line or "GPU" in line) for line in empty), empty


def test_jaeger_monitor_tab_reads_span_metrics_from_prometheus(stack_run: StackRun) -> None:
    now_ms = int(time.time() * 1000)
    query = (
        f"/api/metrics/calls?service={SERVICE_NAME}&endTs={now_ms}&lookback=600000&step=1000"
        "&ratePer=60000&spanKind=internal"
    )
    body = get_json(stack_run.jaeger.url("query", query))
    points = [
        point
        for metric in body.get("metrics", [])
        for point in metric.get("metricPoints", [])
        if "gaugeValue" in point
        and not math.isnan(float(point["gaugeValue"].get("doubleValue", "nan")))
    ]
    assert points, body


def test_the_collector_ran_without_deprecation_warnings(stack_run: StackRun) -> None:
    log = stack_run.collector.log_path.read_text()
    assert "deprecated" not in log.lower(), log
