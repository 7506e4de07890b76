"""Metrics from finished spans, read back with the SDK's InMemoryMetricReader, and exported
over real OTLP/HTTP to a local receiver."""

from __future__ import annotations

import http.server
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Status, StatusCode
from tests.cost.conftest import llm_span
from tests.cost.fake_nvml import FakeDevice, make_pynvml

import agentspans
from agentspans import semconv
from agentspans._config import resolve
from agentspans.metrics import DURATION_BUCKETS, TOKEN_BUCKETS, install_metrics
from agentspans.testing import CapturedSpans, capture_spans

GIB = 1 << 30
Points = dict[str, tuple[str, list[tuple[dict[str, Any], Any]]]]


def _points(reader: InMemoryMetricReader) -> Points:
    """name -> (unit, [(attributes, data point)])."""
    found: Points = {}
    data = reader.get_metrics_data()
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            assert scope_metrics.scope.name == "agentspans"
            for metric in scope_metrics.metrics:
                points = [(dict(p.attributes or {}), p) for p in metric.data.data_points]
                found[metric.name] = (metric.unit or "", points)
    return found


@pytest.fixture
def metered() -> Iterator[tuple[CapturedSpans, InMemoryMetricReader]]:
    reader = InMemoryMetricReader()
    with capture_spans(meter_provider=MeterProvider(metric_readers=[reader])) as spans:
        yield spans, reader


def _agent(spans: CapturedSpans, name: str) -> Any:
    tracer = spans.provider.get_tracer("other")
    return tracer.start_as_current_span(
        f"invoke_agent {name}",
        attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": name},
    )


def test_llm_metrics_names_units_and_attributes(
    metered: tuple[CapturedSpans, InMemoryMetricReader],
) -> None:
    spans, reader = metered
    tracer = spans.provider.get_tracer("other")
    usage = {"gen_ai.usage.input_tokens": 1_200, "gen_ai.usage.output_tokens": 300}
    with _agent(spans, "research"):
        with llm_span(
            tracer,
            "gpt-4o",
            **usage,
            **{"gen_ai.provider.name": "openai", "gen_ai.response.model": "gpt-4o-2024-08-06"},
        ):
            pass
        with llm_span(
            tracer,
            "claude-haiku-4-5",
            **{
                "gen_ai.provider.name": "anthropic",
                "gen_ai.usage.input_tokens": 500,
                "gen_ai.usage.output_tokens": 50,
                "gen_ai.response.time_to_first_chunk": 0.25,
            },
        ):
            pass
        with tracer.start_as_current_span(
            "chat gpt-4o",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.provider.name": "openai",
                "error.type": "RateLimitError",
            },
        ) as failed:
            failed.set_status(Status(StatusCode.ERROR))
    finished = spans.finished()
    points = _points(reader)

    unit, tokens = points[semconv.METRIC_TOKEN_USAGE]
    assert unit == "{token}"
    by_key = {(a["gen_ai.request.model"], a["gen_ai.token.type"]): (a, p) for a, p in tokens}
    assert set(by_key) == {
        ("gpt-4o", "input"),
        ("gpt-4o", "output"),
        ("claude-haiku-4-5", "input"),
        ("claude-haiku-4-5", "output"),
    }
    attributes, point = by_key[("gpt-4o", "input")]
    assert attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.agent.name": "research",
        "gen_ai.token.type": "input",
    }
    assert (point.count, point.sum) == (1, 1_200)
    assert tuple(point.explicit_bounds) == TOKEN_BUCKETS
    assert by_key[("claude-haiku-4-5", "output")][1].sum == 50

    unit, durations = points[semconv.METRIC_OPERATION_DURATION]
    assert unit == "s"
    assert sum(p.count for _, p in durations) == 3
    errors = [a for a, _ in durations if "error.type" in a]
    assert errors == [
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.agent.name": "research",
            "error.type": "RateLimitError",
        }
    ]
    llm_spans = [s for s in finished if s.name.startswith("chat ")]
    longest = max((s.end_time or 0) - (s.start_time or 0) for s in llm_spans) / 1e9
    assert max(p.max for _, p in durations) == pytest.approx(longest)
    assert tuple(durations[0][1].explicit_bounds) == DURATION_BUCKETS

    unit, first_chunk = points[semconv.METRIC_TIME_TO_FIRST_CHUNK]
    assert unit == "s"
    assert [(a["gen_ai.request.model"], p.sum) for a, p in first_chunk] == [
        ("claude-haiku-4-5", 0.25)
    ]

    unit, cost = points[semconv.METRIC_COST]
    assert unit == "{USD}"
    span_costs = {
        s.attributes[semconv.GEN_AI_REQUEST_MODEL]: s.attributes[semconv.COST_USD]
        for s in llm_spans
        if s.attributes and semconv.COST_USD in s.attributes
    }
    assert set(span_costs) == {"gpt-4o", "claude-haiku-4-5"}
    assert {a["gen_ai.request.model"]: p.value for a, p in cost} == pytest.approx(span_costs)
    assert all(a["gen_ai.agent.name"] == "research" for a, _ in cost)


def test_nested_instrumentations_record_one_call(
    metered: tuple[CapturedSpans, InMemoryMetricReader],
) -> None:
    """litellm's span around openai's: one call, tokens from the inner span."""
    spans, reader = metered
    litellm = spans.provider.get_tracer("litellm")
    openai = spans.provider.get_tracer("openai")
    with _agent(spans, "writer"):
        with llm_span(litellm, "openai/gpt-4o-mini", **{"gen_ai.provider.name": "openai"}):
            with llm_span(
                openai,
                "gpt-4o-mini",
                **{
                    "gen_ai.provider.name": "openai",
                    "gen_ai.usage.input_tokens": 700,
                    "gen_ai.usage.output_tokens": 70,
                },
            ):
                pass
    inner = spans.one("chat gpt-4o-mini").attributes or {}
    points = _points(reader)
    _, durations = points[semconv.METRIC_OPERATION_DURATION]
    assert sum(p.count for _, p in durations) == 1
    assert durations[0][0]["gen_ai.request.model"] == "openai/gpt-4o-mini"
    _, tokens = points[semconv.METRIC_TOKEN_USAGE]
    assert sorted((a["gen_ai.token.type"], p.count, p.sum) for a, p in tokens) == [
        ("input", 1, 700),
        ("output", 1, 70),
    ]
    _, cost = points[semconv.METRIC_COST]
    assert [p.value for _, p in cost] == pytest.approx([inner[semconv.COST_USD]])


def test_findings_counter_counts_the_analysis_findings(
    metered: tuple[CapturedSpans, InMemoryMetricReader],
) -> None:
    spans, reader = metered
    tracer = spans.provider.get_tracer("other")
    with _agent(spans, "data"):
        for i in range(4):  # one after another: a parallelizable sequence
            with tracer.start_as_current_span(
                f"execute_tool fetch{i}",
                attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "fetch"},
            ):
                time.sleep(0.03)  # savings above the 50 ms default threshold
    expected: dict[str, int] = {}
    seen = set()
    for span in spans.finished():
        for event in span.events:
            if event.name == semconv.FINDING_EVENT:
                a = event.attributes or {}
                key = (
                    a[semconv.FINDING_EVENT_KIND],
                    tuple(a.get(semconv.FINDING_EVENT_SPAN_IDS, ())),
                )
                if key not in seen:
                    seen.add(key)
                    kind = str(a[semconv.FINDING_EVENT_KIND])
                    expected[kind] = expected.get(kind, 0) + 1
    assert "parallelizable_sequence" in expected
    unit, findings = _points(reader)[semconv.METRIC_FINDINGS]
    assert unit == "{finding}"
    counted: dict[str, int] = {}
    for attributes, point in findings:
        assert attributes["gen_ai.agent.name"] == "data"
        assert attributes["agentspans.finding.severity"] in ("high", "medium", "low")
        kind = attributes["agentspans.finding.kind"]
        counted[kind] = counted.get(kind, 0) + point.value
    assert counted == expected


def test_gpu_gauges_per_device_from_the_sampler(monkeypatch: pytest.MonkeyPatch) -> None:
    devices = [
        FakeDevice("Fake A100", total=40 * GIB, used=3 * GIB, utilization_percent=25),
        FakeDevice("Fake A100", total=40 * GIB, used=7 * GIB, utilization_percent=75),
    ]
    monkeypatch.setitem(sys.modules, "pynvml", make_pynvml(devices))
    reader = InMemoryMetricReader()
    with capture_spans(
        resources=True,
        resource_interval_s=0.005,
        meter_provider=MeterProvider(metric_readers=[reader]),
    ):
        deadline = time.monotonic() + 5
        while (
            semconv.METRIC_GPU_MEMORY_USAGE not in _points(reader) and time.monotonic() < deadline
        ):
            time.sleep(0.01)
        points = _points(reader)
    for name, unit, expected in (
        (semconv.METRIC_GPU_MEMORY_USAGE, "By", [3 * GIB, 7 * GIB]),
        (semconv.METRIC_GPU_MEMORY_LIMIT, "By", [40 * GIB, 40 * GIB]),
        (semconv.METRIC_GPU_UTILIZATION, "1", [0.25, 0.75]),
    ):
        got_unit, values = points[name]
        assert got_unit == unit
        assert sorted((a["hw.id"], p.value) for a, p in values) == list(
            zip(["gpu0", "gpu1"], expected, strict=True)
        )
        assert all(a["hw.name"] == "Fake A100" and a["hw.vendor"] == "NVIDIA" for a, _ in values)


def test_no_gpu_no_gpu_gauges(metered: tuple[CapturedSpans, InMemoryMetricReader]) -> None:
    spans, reader = metered
    with llm_span(spans.provider.get_tracer("x"), "gpt-4o", **{"gen_ai.usage.input_tokens": 1}):
        pass
    spans.finished()
    points = _points(reader)
    assert semconv.METRIC_TOKEN_USAGE in points
    assert not [name for name in points if name.startswith("hw.")]


@pytest.mark.parametrize(
    ("options", "env", "outcome"),
    [
        ({"exporter": "none"}, {}, None),
        ({"exporter": "file"}, {}, None),
        ({"exporter": "console"}, {}, "owned"),
        ({"exporter": "otlp"}, {}, "owned"),
        ({"exporter": "otlp", "metrics": False}, {}, None),
        ({"exporter": "otlp"}, {"AGENTSPANS_METRICS": "false"}, None),
        ({"exporter": "none", "meter_provider": "given"}, {}, "given"),
        # Joined the app's tracer provider, no exporter asked for: none added for metrics either.
        ({"joined": True}, {}, None),
    ],
)
def test_which_meter_provider(
    options: dict[str, Any],
    env: dict[str, str],
    outcome: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    given = MeterProvider(metric_readers=[InMemoryMetricReader()])
    if options.get("meter_provider") == "given":
        options = {**options, "meter_provider": given}
    options = dict(options)
    joined = options.pop("joined", False)
    installation = install_metrics(resolve(**options), None, None, add_exporters=not joined)
    if outcome is None:
        assert installation is None
        return
    assert installation is not None
    try:
        if outcome == "given":
            assert installation.provider is given and not installation.owned
        else:
            assert isinstance(installation.provider, MeterProvider) and installation.owned
    finally:
        installation.shutdown()


def test_bad_metrics_options_are_config_errors() -> None:
    with pytest.raises(agentspans.ConfigError, match=r"metrics='yes'.*True or False"):
        agentspans.instrument(metrics="yes", exporter="none")  # type: ignore[arg-type]
    with pytest.raises(agentspans.ConfigError, match=r"meter_provider=.*MeterProvider"):
        agentspans.instrument(meter_provider=object(), exporter="none")


def test_the_apps_global_meter_provider_is_used() -> None:
    script = textwrap.dedent(
        """
        from opentelemetry import metrics
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        reader = InMemoryMetricReader()
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        import agentspans
        from opentelemetry import trace
        agentspans.instrument(exporter="none", resources=False)
        tracer = trace.get_tracer("other")
        with tracer.start_as_current_span("chat m", attributes={
                "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 42}):
            pass
        agentspans.uninstrument()
        data = reader.get_metrics_data()
        names = sorted(m.name for rm in data.resource_metrics for sm in rm.scope_metrics
                       for m in sm.metrics)
        print("NAMES", ",".join(names))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    names = result.stdout.split("NAMES ")[1].split()[0].split(",")
    assert semconv.METRIC_TOKEN_USAGE in names and semconv.METRIC_OPERATION_DURATION in names


class _Receiver(http.server.BaseHTTPRequestHandler):
    bodies: list[tuple[str, bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.bodies.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_metrics_reach_a_real_otlp_http_receiver(monkeypatch: pytest.MonkeyPatch) -> None:
    device = FakeDevice("Fake L4", total=24 * GIB, used=5 * GIB, utilization_percent=60)
    monkeypatch.setitem(sys.modules, "pynvml", make_pynvml([device]))
    bodies: list[tuple[str, bytes]] = []
    handler = type("Receiver", (_Receiver,), {"bodies": bodies})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        agentspans.instrument(
            tracer_provider=TracerProvider(),
            exporter="otlp",
            otlp_protocol="http/protobuf",
            otlp_endpoint=f"http://127.0.0.1:{server.server_address[1]}/v1/traces",
            resource_interval_s=0.005,
        )
        try:
            current = agentspans.instrumentation()
            assert current is not None
            tracer = current.provider.get_tracer("other")
            with llm_span(
                tracer,
                "gpt-4o",
                **{"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 2},
            ):
                time.sleep(0.05)  # the sampler reads the GPU meanwhile
        finally:
            agentspans.uninstrument()  # flushes the held trace, then the metrics
    finally:
        server.shutdown()
    metric_posts = [body for path, body in bodies if path == "/v1/metrics"]
    assert metric_posts, [path for path, _ in bodies]
    names: dict[str, str] = {}
    for body in metric_posts:
        request = ExportMetricsServiceRequest()
        request.ParseFromString(body)
        for resource_metrics in request.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    names[metric.name] = metric.unit
    assert names[semconv.METRIC_TOKEN_USAGE] == "{token}"
    assert names[semconv.METRIC_OPERATION_DURATION] == "s"
    assert names[semconv.METRIC_COST] == "{USD}"
    # The final collection at uninstrument() still read the GPU gauges.
    assert names[semconv.METRIC_GPU_MEMORY_USAGE] == "By"
    assert names[semconv.METRIC_GPU_UTILIZATION] == "1"
    assert "/v1/traces" in {path for path, _ in bodies}
