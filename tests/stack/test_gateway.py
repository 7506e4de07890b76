"""The two-tier deployment routes and samples as documented (collector/gateway.yaml in front of
two collector/sampler.yaml Collectors, into the real Jaeger).

Sampling is made deterministic by the documented knobs: the probabilistic share of "the rest"
is 0 %, so a trace is kept exactly when a keep-policy matches it.
"""

from __future__ import annotations

import functools
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode
from tests.llm.servers import FakeProvider
from tests.stack import workload
from tests.stack.services import (
    Binaries,
    Service,
    free_port,
    start_collector,
    start_jaeger,
    wait_for,
)
from tests.stack.test_end_to_end import jaeger_trace

import agentspans
from agentspans import semconv

ROUTED_TRACES = 16


@dataclass
class Tier:
    jaeger: Service
    gateway: Service
    samplers: list[Service]


@dataclass
class Sent:
    kept: dict[str, str]  # why -> trace id
    dropped: dict[str, str]
    routed: list[str]  # span-name prefixes of the routing traces


def _metrics_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode("utf-8"))


def _sum_metric(text: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


@pytest.fixture(scope="module")
def tier(binaries: Binaries, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tier]:
    workdir = tmp_path_factory.mktemp("gateway")
    services: list[Service] = []
    try:
        # No Monitor tab here: Jaeger's metrics backend points at a closed port.
        jaeger = start_jaeger(binaries, workdir, f"http://127.0.0.1:{free_port()}")
        services.append(jaeger)
        sampling = {
            "AGENTSPANS_JAEGER_OTLP_ENDPOINT": f"127.0.0.1:{jaeger.ports['otlp_grpc']}",
            "AGENTSPANS_SAMPLING_PERCENTAGE": "0",
            "AGENTSPANS_SAMPLING_DECISION_WAIT": "3s",
            "AGENTSPANS_SAMPLING_AFTER_ROOT_WAIT": "1s",
            "AGENTSPANS_SAMPLING_COST_USD": "1.0",
            "AGENTSPANS_SAMPLING_SLOW_MS": "1000",
        }
        samplers = []
        for index in (1, 2):
            sampler = start_collector(
                binaries, workdir, "sampler.yaml", f"sampler-{index}", sampling
            )
            services.append(sampler)
            samplers.append(sampler)
        endpoints = ", ".join(f"127.0.0.1:{s.ports['otlp_grpc']}" for s in samplers)
        gateway = start_collector(
            binaries,
            workdir,
            "gateway.yaml",
            "gateway",
            {
                "AGENTSPANS_SAMPLER_ENDPOINTS": f"[{endpoints}]",
                "AGENTSPANS_METRICS_OTLP_ENDPOINT": f"127.0.0.1:{samplers[0].ports['otlp_grpc']}",
            },
        )
        services.append(gateway)
        yield Tier(jaeger, gateway, samplers)
    finally:
        for service in reversed(services):
            service.stop()


def _synthetic_traces(endpoint: str) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """Traces made with the plain SDK, one per keep-policy, plus the routing traces."""
    provider = TracerProvider(resource=Resource.create({"service.name": "gateway-synthetic"}))
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True))
    )
    tracer = provider.get_tracer("tests.stack")
    kept: dict[str, str] = {}
    dropped: dict[str, str] = {}

    def root(name: str, **attributes: float) -> trace.Span:
        return tracer.start_span(name, attributes=attributes)

    span = root("errored")
    span.set_status(Status(StatusCode.ERROR, "boom"))
    span.end()
    kept["error"] = f"{span.get_span_context().trace_id:032x}"
    for label, cost, bucket in (("costly", 2.5, kept), ("cheap", 0.4, dropped)):
        span = root(label, **{semconv.TRACE_TOTAL_COST_USD: cost})
        span.end()
        bucket[label] = f"{span.get_span_context().trace_id:032x}"
    start = time.time_ns()
    span = tracer.start_span("slow", start_time=start)
    span.end(end_time=start + 2_000_000_000)  # 2 s, above AGENTSPANS_SAMPLING_SLOW_MS
    kept["slow"] = f"{span.get_span_context().trace_id:032x}"

    routed = []
    for index in range(ROUTED_TRACES):
        prefix = f"routed-{index}"
        with tracer.start_as_current_span(f"{prefix}-root"):
            for child in ("a", "b"):
                with tracer.start_as_current_span(f"{prefix}-{child}"):
                    pass
        routed.append(prefix)
    provider.shutdown()
    return kept, dropped, routed


@pytest.fixture(scope="module")
def sent(tier: Tier) -> Sent:
    endpoint = f"http://127.0.0.1:{tier.gateway.ports['otlp_grpc']}"
    server = FakeProvider().start()
    provider = TracerProvider(resource=Resource.create({"service.name": "gateway-agents"}))
    try:
        agentspans.instrument(
            exporter="otlp",
            otlp_endpoint=endpoint,
            tracer_provider=provider,
            resources=False,
            metrics=False,
        )
        try:
            with_finding = workload.run_workflow(server.base_url, "sk-gateway", failures=False)
            plain = workload.run_plain_call()
        finally:
            agentspans.uninstrument()
            provider.shutdown()
    finally:
        server.stop()
    kept, dropped, routed = _synthetic_traces(endpoint)
    kept["finding"] = with_finding
    dropped["plain"] = plain
    return Sent(kept, dropped, routed)


def test_the_finding_trace_really_has_a_finding_and_no_error(tier: Tier, sent: Sent) -> None:
    spans = wait_for(
        "the finding trace in Jaeger", lambda: jaeger_trace(tier.jaeger, sent.kept["finding"]), 30
    )
    [root] = [s for s in spans if s.parent_id == ""]
    assert root.attributes[semconv.TRACE_FINDINGS_COUNT] >= 1
    assert all(s.status_code != "STATUS_CODE_ERROR" for s in spans)
    assert root.attributes.get(semconv.TRACE_TOTAL_COST_USD, 0) < 1.0  # kept for the finding


@pytest.mark.parametrize("why", ["finding", "error", "costly", "slow"])
def test_a_trace_matching_a_keep_policy_reaches_jaeger(tier: Tier, sent: Sent, why: str) -> None:
    wait_for(f"the {why} trace in Jaeger", lambda: jaeger_trace(tier.jaeger, sent.kept[why]), 30)


@pytest.mark.parametrize("why", ["plain", "cheap"])
def test_a_plain_trace_is_dropped(tier: Tier, sent: Sent, why: str) -> None:
    # Wait until the samplers decided on every trace sent (the decision counters), so that
    # "not in Jaeger" means dropped rather than not yet decided.
    expected = len(sent.kept) + len(sent.dropped) + len(sent.routed)

    def decided() -> float:
        return sum(
            _sum_metric(
                _metrics_text(s.url("telemetry", "/metrics")),
                "otelcol_processor_tail_sampling_global_count_traces_sampled",
            )
            for s in tier.samplers
        )

    wait_for(f"decisions on all {expected} traces", lambda: decided() >= expected, 30)
    for trace_id in sent.kept.values():  # and the kept ones were exported to Jaeger by now
        wait_for(
            "kept traces in Jaeger", functools.partial(jaeger_trace, tier.jaeger, trace_id), 30
        )
    assert jaeger_trace(tier.jaeger, sent.dropped[why]) is None


def test_the_gateway_routes_every_span_of_a_trace_to_one_sampler(tier: Tier, sent: Sent) -> None:
    def span_counts(sampler: Service) -> dict[str, float]:
        text = _metrics_text(sampler.url("prometheus", "/metrics"))
        counts: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith("traces_span_metrics_calls_total{") and 'span_name="routed-' in line:
                name = line.split('span_name="', 1)[1].split('"', 1)[0]
                counts[name] = counts.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
        return counts

    def all_counted() -> list[dict[str, float]] | None:
        counts = [span_counts(s) for s in tier.samplers]
        total = sum(len(c) for c in counts)
        return counts if total >= 3 * len(sent.routed) else None

    counts = wait_for("span metrics of the routed traces on the samplers", all_counted, 30)
    for prefix in sent.routed:
        names = {f"{prefix}-{part}" for part in ("root", "a", "b")}
        holders = [i for i, c in enumerate(counts) if names & set(c)]
        assert len(holders) == 1, (prefix, counts)
        assert names <= set(counts[holders[0]])
    # Both samplers got a share of the traces.
    assert all(any(name.startswith("routed-") for name in c) for c in counts), counts
