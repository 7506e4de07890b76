"""OpenTelemetry metrics recorded from finished spans (names and units: docs/cost.md).

The trace processor's worker thread hands every batch of finished, enriched spans to
:meth:`SpanMetrics.record` — a whole local trace at once when it was held for analysis — so
metrics cost the application's thread nothing, and spans from other instrumentations count as
well as ours. The GPU gauges read the resource sampler's latest sample when the metric reader
collects.

An LLM call that two instrumentations both traced (litellm's span around openai's) is recorded
once: the outermost LLM span counts, and a count it lacks is taken from the first LLM span nested
inside it that has it — the same rule the trace analysis uses for rollups.

Processes of any lifetime (docs/stack.md): the OTLP exporter sends counters and histograms as
deltas (unless OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE says otherwise), and a provider
agentspans created is shut down at interpreter exit after the spans still held for analysis
were recorded, so a script that just exits delivers its metrics.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Meter, MeterProvider, Observation
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode
from opentelemetry.util.types import AttributeValue

from agentspans import semconv
from agentspans._config import Config
from agentspans._errors import logger
from agentspans._spans import events_of
from agentspans.llm_span import LlmCall, read_llm_call
from agentspans.resources import GpuReading, ResourceSampler

# The GenAI conventions' advised histogram boundaries.
TOKEN_BUCKETS = tuple(float(4**i) for i in range(14))  # 1, 4, 16, ..., 67108864
DURATION_BUCKETS = tuple(round(0.01 * 2**i, 2) for i in range(14))  # 0.01, 0.02, ..., 81.92
_UNIT_SECONDS = "s"
_OTHER_ERROR = "_OTHER"
_GPU_VENDOR = "NVIDIA"
# A healthy backend takes milliseconds for the final export; past this it is retrying an
# unreachable one, and the application's exit must not wait for that.
_FINAL_EXPORT_WAIT_S = 1.0
_TEMPORALITY_VARIABLE = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"

# Span attributes copied onto the LLM metrics as dimensions, when the span has them.
_LLM_DIMENSIONS = (
    semconv.GEN_AI_OPERATION_NAME,
    semconv.GEN_AI_PROVIDER_NAME,
    semconv.GEN_AI_REQUEST_MODEL,
    semconv.GEN_AI_RESPONSE_MODEL,
)

# The sampler the GPU gauges read. Module-level because an SDK meter hands back the instrument
# registered first when the same name is created again (a second instrument() on the app's
# global provider), so the gauges' callbacks must not capture one installation's sampler.
_gauge_sampler: ResourceSampler | None = None


def _span_id(span: ReadableSpan) -> int | None:
    return span.context.span_id if span.context is not None else None


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


@dataclass
class _Batch:
    """Parent links within one batch of spans, for agent names and nested LLM spans."""

    spans: Sequence[ReadableSpan]
    by_id: dict[int, ReadableSpan] = field(default_factory=dict)
    children: dict[int, list[ReadableSpan]] = field(default_factory=dict)
    # Each span's LLM call (None: not an LLM span), read once per batch.
    calls: dict[int, LlmCall | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for span in self.spans:
            span_id, parent_id = _span_id(span), _parent_id(span)
            if span_id is not None:
                self.by_id[span_id] = span
                self.calls[span_id] = read_llm_call(span.attributes or {})
            if parent_id is not None:
                self.children.setdefault(parent_id, []).append(span)

    def call(self, span: ReadableSpan) -> LlmCall | None:
        span_id = _span_id(span)
        if span_id is None:
            return read_llm_call(span.attributes or {})
        return self.calls.get(span_id)

    def ancestors(self, span: ReadableSpan) -> Iterable[ReadableSpan]:
        seen: set[int] = set()
        parent_id = _parent_id(span)
        while parent_id is not None and parent_id not in seen:
            seen.add(parent_id)
            parent = self.by_id.get(parent_id)
            if parent is None:
                return
            yield parent
            parent_id = _parent_id(parent)

    def descendants(self, span: ReadableSpan) -> Iterable[ReadableSpan]:
        stack = list(reversed(self.children.get(_span_id(span) or -1, [])))
        while stack:
            child = stack.pop()
            yield child
            stack.extend(reversed(self.children.get(_span_id(child) or -1, [])))

    def agent_name(self, span: ReadableSpan) -> str | None:
        for candidate in (span, *self.ancestors(span)):
            attributes = candidate.attributes or {}
            name = attributes.get(semconv.GEN_AI_AGENT_NAME)
            if (
                isinstance(name, str)
                and name
                and (
                    candidate is span
                    or attributes.get(semconv.GEN_AI_OPERATION_NAME) == semconv.OP_INVOKE_AGENT
                )
            ):
                return name
        return None


def _llm_dimensions(
    attributes: Mapping[str, Any], call: LlmCall, agent: str | None
) -> dict[str, AttributeValue]:
    dimensions: dict[str, AttributeValue] = {
        name: value for name in _LLM_DIMENSIONS if (value := attributes.get(name)) is not None
    }
    dimensions[semconv.GEN_AI_OPERATION_NAME] = call.operation
    if call.provider is not None:
        dimensions.setdefault(semconv.GEN_AI_PROVIDER_NAME, call.provider)
    if agent is not None:
        dimensions[semconv.GEN_AI_AGENT_NAME] = agent
    return dimensions


def _nonnegative(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        return None
    return float(value)


class SpanMetrics:
    """The instruments, and how finished spans are turned into measurements."""

    def __init__(self, meter: Meter) -> None:
        self._token_usage = meter.create_histogram(
            semconv.METRIC_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used per LLM call",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self._duration = meter.create_histogram(
            semconv.METRIC_OPERATION_DURATION,
            unit=_UNIT_SECONDS,
            description="Duration of LLM calls",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._first_chunk = meter.create_histogram(
            semconv.METRIC_TIME_TO_FIRST_CHUNK,
            unit=_UNIT_SECONDS,
            description="Time from the request to the first chunk of a streamed response",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._cost = meter.create_counter(
            semconv.METRIC_COST, unit="{USD}", description="Cost of LLM calls in US dollars"
        )
        self._findings = meter.create_counter(
            semconv.METRIC_FINDINGS,
            unit="{finding}",
            description="Bottleneck findings of the trace analysis",
        )
        self._operations = _OperationDurations(meter)
        for name, value_of, unit, description in _GPU_GAUGES:
            meter.create_observable_gauge(
                name, callbacks=[_gpu_gauge(value_of)], unit=unit, description=description
            )

    def record(self, spans: Sequence[ReadableSpan]) -> None:
        """Record the measurements of a batch of finished spans (one local trace, or fewer)."""
        batch = _Batch(spans)
        for span in spans:
            call = batch.call(span)
            if call is not None and not any(batch.call(a) for a in batch.ancestors(span)):
                self._record_llm(span, call, batch)
            else:
                self._operations.record(span)
        self._record_findings(batch)

    def _record_llm(self, span: ReadableSpan, call: LlmCall, batch: _Batch) -> None:
        attributes = span.attributes or {}
        dimensions = _llm_dimensions(attributes, call, batch.agent_name(span))
        # What a nested LLM span of the same call measured fills what this one lacks.
        calls = [call, *(c for d in batch.descendants(span) if (c := batch.call(d)) is not None)]
        for token_type, count in (
            (semconv.TOKEN_TYPE_INPUT, _first(c.input_tokens for c in calls)),
            (semconv.TOKEN_TYPE_OUTPUT, _first(c.output_tokens for c in calls)),
        ):
            if count is not None:
                self._token_usage.record(
                    count, {**dimensions, semconv.GEN_AI_TOKEN_TYPE: token_type}
                )
        cost = _first(c.cost_usd for c in calls)
        if cost is not None:
            self._cost.add(cost, dimensions)
        self._record_timing(span, call, dimensions)

    def _record_timing(
        self, span: ReadableSpan, call: LlmCall, dimensions: dict[str, AttributeValue]
    ) -> None:
        timed = dict(dimensions)
        if call.error_type is not None:
            timed[semconv.ERROR_TYPE] = call.error_type
        elif span.status.status_code is StatusCode.ERROR:
            timed[semconv.ERROR_TYPE] = _OTHER_ERROR
        if span.start_time is not None and span.end_time is not None:
            self._duration.record(max(span.end_time - span.start_time, 0) / 1e9, timed)
        attributes = span.attributes or {}
        first_chunk = _nonnegative(attributes.get(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK))
        if first_chunk is not None:
            self._first_chunk.record(first_chunk, timed)

    def _record_findings(self, batch: _Batch) -> None:
        root = next((s for s in batch.spans if s.parent is None or s.parent.is_remote), None)
        base = _workflow_dimensions(root)
        seen: set[tuple[Any, ...]] = set()
        for span in batch.spans:
            for attributes in _finding_events(span):
                # One finding may be written on each span it concerns: count it once.
                key = _finding_key(attributes)
                if key in seen:
                    continue
                seen.add(key)
                self._findings.add(1, _finding_dimensions(base, attributes, batch.agent_name(span)))
        if not seen and root is not None:
            # No finding events: the root's list of kinds is all the analysis left.
            kinds = (root.attributes or {}).get(semconv.TRACE_FINDING_KINDS)
            for kind in kinds if isinstance(kinds, (list, tuple)) else ():
                if isinstance(kind, str):
                    self._findings.add(1, {**base, semconv.FINDING_KIND: kind})


def _first(values: Iterable[Any]) -> Any:
    """The first value that is not None (None when all are)."""
    return next((value for value in values if value is not None), None)


def _workflow_dimensions(root: ReadableSpan | None) -> dict[str, AttributeValue]:
    workflow = (root.attributes or {}).get(semconv.GEN_AI_WORKFLOW_NAME) if root else None
    return (
        {semconv.GEN_AI_WORKFLOW_NAME: workflow} if isinstance(workflow, str) and workflow else {}
    )


def _finding_events(span: ReadableSpan) -> Iterable[Mapping[str, Any]]:
    """The attributes of the span's finding events that name a kind."""
    for event in events_of(span):  # not ``span.events``: a locked copy per span
        attributes = event.attributes or {}
        if (
            event.name == semconv.FINDING_EVENT
            and isinstance(attributes.get(semconv.FINDING_EVENT_KIND), str)
            and not attributes.get(semconv.FINDING_EVENT_ROOT_COPY)  # counted on its own spans
        ):
            yield attributes


def _finding_key(attributes: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        attributes.get(semconv.FINDING_EVENT_KIND),
        attributes.get(semconv.FINDING_EVENT_MESSAGE),
        *_span_ids_key(attributes.get(semconv.FINDING_EVENT_SPAN_IDS)),
    )


def _finding_dimensions(
    base: Mapping[str, AttributeValue], attributes: Mapping[str, Any], agent: str | None
) -> dict[str, AttributeValue]:
    dimensions = {**base, semconv.FINDING_KIND: attributes[semconv.FINDING_EVENT_KIND]}
    severity = attributes.get(semconv.FINDING_EVENT_SEVERITY)
    if isinstance(severity, str):
        dimensions[semconv.FINDING_EVENT_SEVERITY] = severity
    if agent is not None:
        dimensions[semconv.GEN_AI_AGENT_NAME] = agent
    return dimensions


class _OperationDurations:
    """``gen_ai.invoke_agent.duration`` (agent and, as in semantic-conventions-genai v0.1.0,
    workflow spans) and ``gen_ai.execute_tool.duration``, from finished spans."""

    _AGENT_OPERATIONS = (semconv.OP_INVOKE_AGENT, semconv.OP_INVOKE_WORKFLOW)

    def __init__(self, meter: Meter) -> None:
        self._agent = meter.create_histogram(
            semconv.METRIC_INVOKE_AGENT_DURATION,
            unit=_UNIT_SECONDS,
            description="Duration of agent and workflow invocations",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._tool = meter.create_histogram(
            semconv.METRIC_EXECUTE_TOOL_DURATION,
            unit=_UNIT_SECONDS,
            description="Duration of tool executions",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )

    def record(self, span: ReadableSpan) -> None:
        attributes = span.attributes or {}
        operation = attributes.get(semconv.GEN_AI_OPERATION_NAME)
        if operation == semconv.OP_EXECUTE_TOOL:
            histogram, names = self._tool, _TOOL_DIMENSIONS
        elif operation in self._AGENT_OPERATIONS:
            histogram, names = self._agent, _AGENT_DIMENSIONS
        else:
            return
        if span.start_time is None or span.end_time is None:
            return
        dimensions: dict[str, AttributeValue] = {
            name: value for name in names if (value := attributes.get(name)) is not None
        }
        if semconv.ERROR_TYPE not in dimensions and span.status.status_code is StatusCode.ERROR:
            dimensions[semconv.ERROR_TYPE] = _OTHER_ERROR
        histogram.record(max(span.end_time - span.start_time, 0) / 1e9, dimensions)


_AGENT_DIMENSIONS = (
    semconv.GEN_AI_OPERATION_NAME,
    semconv.GEN_AI_AGENT_NAME,
    semconv.GEN_AI_REQUEST_MODEL,
    semconv.ERROR_TYPE,
)
_TOOL_DIMENSIONS = (
    semconv.GEN_AI_TOOL_NAME,
    semconv.GEN_AI_TOOL_TYPE,
    semconv.GEN_AI_AGENT_NAME,
    semconv.ERROR_TYPE,
)


def _span_ids_key(ids: Any) -> tuple[Any, ...]:
    """A finding's span ids in O(1): a long sequential run can list thousands of them."""
    if isinstance(ids, (list, tuple)) and ids:
        return len(ids), ids[0], ids[-1]
    return (ids,)


def _gpu_attributes(index: int, name: str | None) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {
        semconv.HW_ID: f"gpu{index}",
        semconv.HW_VENDOR: _GPU_VENDOR,
    }
    if name:
        attributes[semconv.HW_NAME] = name
    return attributes


def _gpu_gauge(value_of: Callable[[GpuReading], float | None]) -> Any:
    """A gauge callback observing ``value_of`` each device in the sampler's latest sample."""

    def observe(options: CallbackOptions) -> Iterable[Observation]:
        sampler = _gauge_sampler
        for gpu in sampler.latest_gpu() if sampler is not None else ():
            value = value_of(gpu)
            if value is not None:
                yield Observation(value, _gpu_attributes(gpu.index, gpu.name))

    return observe


# (instrument, what it reads from a device's latest sample, unit, description)
_GPU_GAUGES: tuple[tuple[str, Callable[[GpuReading], float | None], str, str], ...] = (
    (
        semconv.METRIC_GPU_MEMORY_USAGE,
        lambda gpu: gpu.used_bytes,
        "By",
        "GPU memory in use, per device",
    ),
    (
        semconv.METRIC_GPU_MEMORY_LIMIT,
        lambda gpu: gpu.total_bytes or None,
        "By",
        "GPU memory size, per device",
    ),
    (
        semconv.METRIC_GPU_UTILIZATION,
        lambda gpu: gpu.utilization,
        "1",
        "GPU utilization (0 to 1), per device",
    ),
)


# --- which MeterProvider, and its lifecycle ---------------------------------------------------


def _app_meter_provider() -> MeterProvider | None:
    """The global MeterProvider when the app set one (not the API's placeholder proxy)."""
    provider = metrics.get_meter_provider()
    try:
        from opentelemetry.metrics._internal import _ProxyMeterProvider
    except ImportError:  # pragma: no cover - a future API without the private proxy class
        return None if type(provider).__name__ == "_ProxyMeterProvider" else provider
    return None if isinstance(provider, _ProxyMeterProvider) else provider


def _metrics_endpoint(config: Config) -> str | None:
    """The OTLP endpoint for metrics, derived from the traces one the options gave."""
    endpoint = config.otlp_endpoint
    if endpoint is None or (config.otlp_protocol or "grpc") == "grpc":
        return endpoint  # None: the exporter reads OTEL_EXPORTER_OTLP_(METRICS_)ENDPOINT itself
    if endpoint.rstrip("/").endswith("/v1/traces"):
        return endpoint.rstrip("/")[: -len("/v1/traces")] + "/v1/metrics"
    scheme_and_host = endpoint.split("://", 1)[-1]
    return endpoint.rstrip("/") + "/v1/metrics" if "/" not in scheme_and_host else endpoint


def delta_temporality() -> dict[type, Any] | None:
    """Delta for counters and histograms, unless the user chose with the standard variable.

    A process that lives a second exports its counts once. Sent as deltas, the Collector
    (collector/config.yaml: resource identity dropped, then ``deltatocumulative``) adds every
    process's counts onto one cumulative series per dimension set, which Prometheus queries see
    grow; cumulative series from each process would each appear once with their final value, and
    ``increase()``/``rate()`` never count a series' first sample (docs/stack.md).
    """
    if os.environ.get(_TEMPORALITY_VARIABLE, "").strip():
        return None  # the exporter reads the variable itself
    from opentelemetry.sdk.metrics import Counter, Histogram, ObservableCounter
    from opentelemetry.sdk.metrics.export import AggregationTemporality

    delta = AggregationTemporality.DELTA
    return {Counter: delta, Histogram: delta, ObservableCounter: delta}


def _otlp_metric_exporter(config: Config) -> Any:
    timeout = config.export_timeout_s
    temporality = delta_temporality()
    if (config.otlp_protocol or "grpc") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
            OTLPMetricExporter as GrpcMetricExporter,
        )

        return GrpcMetricExporter(
            endpoint=_metrics_endpoint(config),
            timeout=timeout,
            preferred_temporality=temporality,
        )
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpMetricExporter,
    )

    return HttpMetricExporter(
        endpoint=_metrics_endpoint(config), timeout=timeout, preferred_temporality=temporality
    )


def _readers(config: Config) -> list[Any]:
    from opentelemetry.sdk.metrics.export import (
        ConsoleMetricExporter,
        PeriodicExportingMetricReader,
    )

    readers: list[Any] = []
    for name in config.exporters:
        if name == "otlp":
            readers.append(PeriodicExportingMetricReader(_otlp_metric_exporter(config)))
        elif name == "console":
            readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter()))
        # "file" holds traces only and "none" sends nothing: no metric reader for them.
    return readers


@dataclass
class MetricsInstallation:
    """What ``instrument()`` set up for metrics, so ``uninstrument()`` can take it down."""

    recorder: SpanMetrics
    provider: Any
    owned: bool
    shutdown_timeout_s: float
    # Hands the spans still held for analysis to the recorder (the trace processor's flush).
    flush_spans: Callable[[], Any] | None = None
    _stopped: bool = False

    def shutdown(self) -> None:
        """Stop the GPU gauges; flush and shut down the provider if agentspans created it.

        Also the interpreter-exit hook of a provider agentspans created: a script that just
        exits still delivers its metrics. atexit runs hooks last-registered first, so this one
        runs before the tracer provider's; the spans it still holds are recorded first.
        """
        global _gauge_sampler
        if self._stopped:
            return
        self._stopped = True
        if not self.owned:
            _gauge_sampler = None  # the app's provider goes on collecting: no more GPU readings
            return
        from agentspans._setup import _SilenceExporterRetries

        atexit.unregister(self.shutdown)
        if self.flush_spans is not None:
            try:
                self.flush_spans()
            except Exception:
                logger.debug("agentspans: span flush before metrics shutdown failed", exc_info=True)
        # The exporter's retry warnings stay quiet until its last retry has given up.
        silencer = _SilenceExporterRetries()
        silencer.install()
        wait_s = min(self.shutdown_timeout_s, _FINAL_EXPORT_WAIT_S)
        _bounded(self.provider.shutdown, wait_s, then=silencer.remove)
        _gauge_sampler = None  # only now: the final collection reads the GPUs once more


def _bounded(call: Callable[[], Any], timeout_s: float, then: Callable[[], None]) -> None:
    """Run ``call`` (then ``then``) on a daemon thread, waiting for it at most ``timeout_s``."""
    done = threading.Event()

    def run() -> None:
        try:
            call()
        except Exception:
            logger.debug("agentspans: meter provider shutdown failed", exc_info=True)
        finally:
            then()
            done.set()

    threading.Thread(target=run, name="agentspans-metrics-shutdown", daemon=True).start()
    if not done.wait(timeout_s):
        logger.debug("agentspans: metrics shutdown still running after %.1fs; left", timeout_s)


def install_metrics(
    config: Config,
    resource: Resource | None,
    sampler: ResourceSampler | None,
    add_exporters: bool = True,
) -> MetricsInstallation | None:
    """The recorder on the right MeterProvider (see docs/cost.md), or None for no metrics.

    ``add_exporters`` is False when agentspans joined the app's tracer provider and no option
    asked for exporters: as with traces, the app already exports where it wants.
    """
    global _gauge_sampler
    if not config.metrics:
        return None
    provider = config.meter_provider or _app_meter_provider()
    owned = False
    if provider is None:
        readers = _readers(config) if add_exporters else []
        if not readers:
            return None
        from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider

        provider = SdkMeterProvider(
            metric_readers=readers, resource=resource or Resource.create(), shutdown_on_exit=False
        )
        owned = True
    from agentspans._version import __version__

    recorder = SpanMetrics(provider.get_meter(semconv.INSTRUMENTATION_SCOPE, __version__))
    _gauge_sampler = sampler if sampler is not None and sampler.has_gpu else None
    installation = MetricsInstallation(recorder, provider, owned, config.shutdown_timeout_s)
    if owned:
        atexit.register(installation.shutdown)
    return installation
