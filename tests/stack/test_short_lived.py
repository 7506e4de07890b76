"""Metrics from short-lived processes, through the real Collector and Prometheus.

Three separate ``agentspans demo --otlp`` processes, each living a few seconds, send their spans
and metrics to the Collector running collector/config.yaml (plus the file overlay, so the test
reads back every span the Collector saw). Then every dashboard expression must answer non-zero
values, and the totals, error rates and percentiles must be those of the three runs together:
the first run counts as much as the last (docs/stack.md, "Processes of any lifetime").

A fourth process instruments, makes LLM calls and simply exits, with no other agentspans call:
its metrics must still reach Prometheus.
"""

from __future__ import annotations

import bisect
import json
import math
import os
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.llm.servers import FakeProvider
from tests.stack.services import (
    REPO,
    Binaries,
    Service,
    collector_ports,
    free_port,
    get_json,
    start_collector,
    start_prometheus,
    wait_for,
)

from agentspans.analysis import analyze
from agentspans.analysis.model import SpanRecord
from agentspans.report import render_json
from agentspans.sources.otlp_json import read_files

sys.path.insert(0, str(REPO / "scripts"))
import check_dashboards

RUNS = 3
# A script that instruments, calls an LLM three times in one trace (one call fails) and exits:
# no flush, no uninstrument(), no sleep.
JUST_EXITS = """
import agentspans, openai
def main():
    client = openai.OpenAI(base_url={base_url!r}, api_key="k", max_retries=0)
    for model in ("gpt-4o-mini", "gpt-4o-mini", "gpt-4o-mini+500"):
        try:
            client.chat.completions.create(model=model, messages=[dict(role="user", content="hi")])
        except openai.APIError:
            pass
agentspans.instrument(service_name="just-exits", agents=["__main__:main"])
main()
"""
JUST_EXITS_TRACES = 1
DEMO = (sys.executable, "-m", "agentspans", "demo", "--otlp", "--format", "json", "--speed", "10")
AGENT_BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000, 10000, 30000, 60000)
WINDOW = "10m"  # $__range and $__rate_interval: longer than the whole test


@dataclass
class Runs:
    collector: Service
    prometheus: Service
    reports: list[dict[str, Any]]  # the JSON report of every trace the Collector received
    spans: list[SpanRecord]  # every span the Collector received
    demo_trace_ids: set[str]


def _python() -> str:
    return sys.executable


def _env(ports: dict[str, int], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTSPANS_"))}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]),
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{ports['otlp_grpc']}",
            # The SDK's default export interval is a minute; each run ends well before it.
            **extra,
        }
    )
    return env


def query(prometheus: Service, expression: str) -> list[dict[str, Any]]:
    url = prometheus.url("http", "/api/v1/query?query=") + urllib.parse.quote(expression)
    result: list[dict[str, Any]] = get_json(url)["data"]["result"]
    return result


def dashboard_expressions() -> dict[str, list[str]]:
    """Each panel's expressions with Grafana's variables filled as check_dashboards fills them."""
    path = REPO / "dashboards" / "agentspans-overview.json"
    variables = check_dashboards._variables(path)
    panels: dict[str, list[str]] = {}
    for expression in check_dashboards.expressions(path):
        if expression.kind == "expr":
            panels.setdefault(expression.panel, []).append(
                check_dashboards.substitute(expression.text, variables, WINDOW, WINDOW)
            )
    return panels


def total(prometheus: Service, expression: str) -> float:
    return sum(float(item["value"][1]) for item in query(prometheus, expression))


def by_label(prometheus: Service, expression: str, label: str) -> dict[str, float]:
    return {
        item["metric"].get(label, ""): float(item["value"][1])
        for item in query(prometheus, expression)
    }


@pytest.fixture(scope="module")
def runs(binaries: Binaries, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    workdir = tmp_path_factory.mktemp("short-lived")
    ports = collector_ports()
    trace_file = workdir / "collector-traces.jsonl"
    services: list[Service] = []
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
        collector = start_collector(
            binaries,
            workdir,
            "config.yaml",
            "collector",
            {
                # No Jaeger here: the traces that matter are the file overlay's copy.
                "AGENTSPANS_JAEGER_OTLP_ENDPOINT": f"127.0.0.1:{free_port()}",
                "AGENTSPANS_TRACE_FILE": str(trace_file),
            },
            ports,
            overlays=["examples/file.yaml"],
        )
        services.append(collector)
        demo_reports = []
        for seed in range(RUNS):
            result = subprocess.run(
                [*DEMO, "--seed", str(seed)],
                env=_env(ports),
                capture_output=True,
                text=True,
                timeout=120,
                cwd=workdir,
            )
            assert result.returncode == 0, result.stderr
            [trace] = json.loads(result.stdout)["traces"]
            demo_reports.append(trace)
        provider = FakeProvider().start()
        try:
            result = subprocess.run(
                [sys.executable, "-c", JUST_EXITS.format(base_url=provider.base_url)],
                env=_env(ports),
                capture_output=True,
                text=True,
                timeout=60,
            )
        finally:
            provider.stop()
        assert result.returncode == 0, result.stderr

        def spans_written() -> list[SpanRecord]:
            records = read_files([str(trace_file)]).records
            roots = {r.trace_id for r in records if not r.parent_id}
            return records if len(roots) == RUNS + JUST_EXITS_TRACES else []

        spans = wait_for("every trace in the Collector's file", spans_written, timeout_s=30)
        reports = json.loads(render_json(analyze(spans)))["traces"]
        # What each demo process printed is the analysis of what the Collector received.
        by_id = {r["trace_id"]: r for r in reports}
        for printed in demo_reports:
            assert by_id[printed["trace_id"]]["totals"] == printed["totals"]
        expected_cost = sum(r["totals"]["cost_usd"] for r in reports)

        def arrived() -> bool:
            found = total(prometheus, "sum(agentspans_cost_usd_total)")
            calls = total(prometheus, "sum(traces_span_metrics_calls_total)")
            # The span metrics of the last run come on the connector's flush interval.
            return math.isclose(found, expected_cost, rel_tol=1e-6) and calls >= len(spans)

        wait_for("every run's cost and span metrics in Prometheus", arrived, timeout_s=60)
        yield Runs(collector, prometheus, reports, spans, {r["trace_id"] for r in demo_reports})
    finally:
        for service in reversed(services):
            service.stop()


def test_every_dashboard_expression_answers_non_zero(runs: Runs) -> None:
    outcomes = check_dashboards.run(
        runs.prometheus.url("http"),
        [REPO / "dashboards"],
        gpu=False,
        rate_interval=WINDOW,
        range_=WINDOW,
    )
    failed = [f"{o.expression.panel}: {o.detail}: {o.query}" for o in outcomes if not o.ok]
    assert not failed, "\n".join(failed)
    gpu_only = [o for o in outcomes if o.series == 0]
    assert all("hw_gpu" in o.query for o in gpu_only)


def test_totals_count_every_run(runs: Runs) -> None:
    panels = dashboard_expressions()
    cost = sum(r["totals"]["cost_usd"] for r in runs.reports)
    tokens = sum(r["totals"]["input_tokens"] + r["totals"]["output_tokens"] for r in runs.reports)
    findings = sum(len(r["findings"]) for r in runs.reports)
    assert cost > 0 and tokens > 0 and findings > 0
    (expr,) = panels["LLM cost in range"]
    assert total(runs.prometheus, expr) == pytest.approx(cost, rel=1e-6)
    (expr,) = panels["Cost by agent and model in range"]
    assert total(runs.prometheus, expr) == pytest.approx(cost, rel=1e-6)
    (expr,) = panels["Cost per hour by agent"]
    assert total(runs.prometheus, expr) == pytest.approx(cost, rel=1e-6)
    (expr,) = panels["Tokens in range"]
    assert total(runs.prometheus, expr) == tokens
    (expr,) = panels["Tokens per minute by model"]
    assert total(runs.prometheus, expr) == tokens
    (expr,) = panels["Findings in range"]
    assert total(runs.prometheus, expr) == findings
    (expr,) = panels["Findings by agent and kind in range"]
    assert total(runs.prometheus, expr) == findings


def test_error_rates_are_those_of_every_span(runs: Runs) -> None:
    panels = dashboard_expressions()
    errors = sum(1 for s in runs.spans if s.error)
    assert errors > 0
    (expr,) = panels["Span error rate"]
    assert total(runs.prometheus, expr) == pytest.approx(errors / len(runs.spans))
    (expr,) = panels["Error rate by operation"]
    rates = by_label(runs.prometheus, expr, "gen_ai_operation_name")
    for operation, rate in rates.items():
        spans = [
            s for s in runs.spans if s.attributes.get("gen_ai.operation.name", "") == operation
        ]
        failed = [s for s in spans if s.error]
        assert rate == pytest.approx(len(failed) / len(spans)), operation


def test_agent_p95_is_in_the_bucket_of_the_runs_p95(runs: Runs) -> None:
    panels = dashboard_expressions()
    p95_expr = panels["Agent latency p50 / p95 / p99"][1]
    estimates = by_label(runs.prometheus, p95_expr, "gen_ai_agent_name")
    durations: dict[str, list[float]] = {}
    for span in runs.spans:
        if span.attributes.get("gen_ai.operation.name") == "invoke_agent":
            name = str(span.attributes["gen_ai.agent.name"])
            durations.setdefault(name, []).append(span.duration_ns / 1e6)
    assert set(estimates) == set(durations)
    for agent, values in durations.items():
        assert len(values) >= (RUNS if agent != "main" else 1)
        values.sort()
        exact = values[math.ceil(0.95 * len(values)) - 1]  # nearest rank
        index = bisect.bisect_left(AGENT_BUCKETS_MS, exact)
        low = AGENT_BUCKETS_MS[index - 1] if index else 0
        high = AGENT_BUCKETS_MS[index] if index < len(AGENT_BUCKETS_MS) else math.inf
        assert low <= estimates[agent] <= high, (agent, values, estimates[agent])


def test_check_dashboards_fails_on_only_zeros(runs: Runs, tmp_path: Path) -> None:
    dashboard = {
        "title": "zeros",
        "panels": [
            {
                "title": "an increase that never saw its series rise",
                "targets": [{"expr": "sum(increase(agentspans_cost_usd_total[10m])) * 0"}],
            },
            {"title": "real", "targets": [{"expr": "sum(agentspans_cost_usd_total)"}]},
        ],
    }
    path = tmp_path / "zeros.json"
    path.write_text(json.dumps(dashboard))
    result = subprocess.run(
        [
            _python(),
            str(REPO / "scripts" / "check_dashboards.py"),
            runs.prometheus.url("http"),
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stdout
    assert "FAIL zeros / an increase that never saw its series rise: only zeros" in result.stdout
    assert "ok   zeros / real: 1 non-zero" in result.stdout


def test_a_script_that_just_exits_delivers_its_metrics(runs: Runs) -> None:
    """JUST_EXITS made 2 answered calls and 1 failed one, then the interpreter exited."""
    tokens = 'sum(gen_ai_client_token_usage_count{job="just-exits"})'
    assert total(runs.prometheus, tokens) == 4  # 2 answered calls x (input, output)
    calls = 'sum(gen_ai_client_operation_duration_seconds_count{job="just-exits"})'
    assert total(runs.prometheus, calls) == 3
    cost = total(runs.prometheus, 'sum(agentspans_cost_usd_total{job="just-exits"})')
    [report] = [r for r in runs.reports if r["trace_id"] not in runs.demo_trace_ids]
    assert cost == pytest.approx(report["totals"]["cost_usd"], rel=1e-6)
    assert cost > 0
