"""Build or join the TracerProvider and put our processor in front of the exporters.

Two cases:

* No provider configured: we create an SDK ``TracerProvider`` (resource from ``OTEL_*``,
  sampler from ``OTEL_TRACES_SAMPLER``), set it as the global one, and export through the
  exporters the options name.
* The app configured an SDK ``TracerProvider`` already: we join it. Its existing span processors
  are moved behind our :class:`TraceProcessor`, so the app's own exporters receive the enriched,
  analysed spans; we add exporters of our own only when ``exporter=`` / ``AGENTSPANS_EXPORTER`` /
  ``OTEL_TRACES_EXPORTER`` asks for them. ``uninstrument()`` puts the processors back as they were.

Nothing here touches the network: exporters connect lazily, on their first export.
"""

from __future__ import annotations

import os
import re
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.util.types import AttributeValue

from agentspans import semconv
from agentspans._config import Config
from agentspans._errors import logger, warn_once
from agentspans.exporters.otlp_json import OtlpJsonFileExporter, clean_text
from agentspans.processors.enrich import Enricher
from agentspans.processors.pipeline import Annotator, StartHook, TraceProcessor
from agentspans.resources import resource_attributes

# The provider an earlier instrument() created and made global: the SDK allows setting the
# global provider only once per process, so a later instrument() reuses it as its own.
_created_provider: TracerProvider | None = None
# While a backend is known to be down, batches are dropped at once for this long before the next
# attempt: each attempt costs the OTLP exporter's full retry schedule (seconds), and a flush of a
# large held trace would otherwise wait that long for every batch.
_DOWN_RETRY_AFTER_S = 5.0
_SDK_DEFAULT_QUEUE_SIZE = 2048


# What an OTLP exporter logged during the export running on this thread: the backend's own words
# ("401 Unauthorized", "UNAVAILABLE") for our one warning, and whether the batch failed to encode.
_exporter_said = threading.local()
_REFUSED = re.compile(r"\b40[13]\b|UNAUTHENTICATED|PERMISSION_DENIED|Unauthorized|Forbidden", re.I)
_ENCODING = re.compile(r"encode|surrogate|codec", re.I)


def _said() -> list[str]:
    said: list[str] | None = getattr(_exporter_said, "messages", None)
    if said is None:
        said = _exporter_said.messages = []
    return said


def _clean_value(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, tuple | list):
        return tuple(_clean_value(item) for item in value)
    return value


def _clean_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    return {clean_text(key): _clean_value(value) for key, value in (attributes or {}).items()}


def sanitised(span: ReadableSpan) -> ReadableSpan:
    """``span`` with every lone surrogate in its strings replaced by U+FFFD (which OTLP's
    protobuf and JSON encoders cannot carry), its dropped counts kept."""
    from opentelemetry.sdk.trace import Event
    from opentelemetry.trace import Link, Status

    from agentspans.processors.pipeline import copy_span

    status = span.status
    return copy_span(
        span,
        name=clean_text(span.name),
        attributes=_clean_attributes(span.attributes),
        events=[
            Event(clean_text(event.name), _clean_attributes(event.attributes), event.timestamp)
            for event in span.events
        ],
        links=[Link(link.context, _clean_attributes(link.attributes)) for link in span.links],
        status=Status(status.status_code, clean_text(status.description))
        if status.description
        else status,
    )


_SDK_RETRY = re.compile(
    r"Transient error (?:StatusCode\.)?(?P<status>\w+) encountered while exporting [^,]*, "
    r"retrying in [\d.]+s\.(?: Error details: )?"
)


def _plain_words(said: str) -> str:
    """What the backend said, without the SDK's retry boilerplate around it."""
    match = _SDK_RETRY.search(said)
    if match is None:
        return said
    rest = said[match.end() :].strip()
    return f"{match.group('status')}: {rest}" if rest else match.group("status")


class GuardedExporter(SpanExporter):
    """An exporter that never holds the application up.

    It logs one clear warning the first time its backend cannot be reached or refuses the spans
    (saying what the backend said; the OTLP exporters would log every retry), retries a batch
    that could not be encoded with its strings cleaned (a bad string is not a dead backend), and
    at shutdown it gives up at once on a backend that is known to be down, and after
    ``shutdown_timeout_s`` on one that is slow, logging what was lost.
    """

    def __init__(self, inner: SpanExporter, description: str, shutdown_timeout_s: float) -> None:
        self.inner = inner
        self.description = description
        self._shutdown_timeout_s = shutdown_timeout_s
        self._failing = False
        self._failed_at = 0.0
        self._export_started: float | None = None
        self._in_flight = 0
        self._abandoned = False
        self._shutting_down = False
        self._shut = False
        self._lock = threading.Lock()
        self.lost = 0  # spans given up on at shutdown
        if hasattr(os, "register_at_fork"):
            ref = weakref.ref(self)

            def after_fork_in_child() -> None:
                me = ref()
                if me is not None:
                    me._lock = threading.Lock()

            os.register_at_fork(after_in_child=after_fork_in_child)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._abandoned or (self._shutting_down and self._failing):
            return SpanExportResult.FAILURE
        if self._failing and time.monotonic() - self._failed_at < _DOWN_RETRY_AFTER_S:
            return SpanExportResult.FAILURE  # still down a moment ago: drop, do not wait
        said = _said()
        said.clear()
        result = self._export(spans)
        if result is SpanExportResult.FAILURE and any(_ENCODING.search(m) for m in said):
            # A string the encoder cannot carry (a lone surrogate from the wire), not a backend
            # that is down: send the batch again with its strings cleaned.
            said.clear()
            result = self._export([sanitised(span) for span in spans])
        if result is SpanExportResult.FAILURE:
            self._failed_at = time.monotonic()
            if not self._failing:
                self._failing = True
                self._warn_failure(said)
        elif self._failing:
            self._failing = False
            logger.info("agentspans: exporting to %s again", self.description)
        return result

    @property
    def failing(self) -> bool:
        """The last export failed (the backend did not answer or refused the spans)."""
        return self._failing

    def _export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self._in_flight = len(spans)
        self._export_started = time.monotonic()
        try:
            return self.inner.export(spans)
        except (UnicodeError, ValueError, TypeError) as exc:  # the encoder: see export()
            _said().append(f"encode failed: {exc}")
            return SpanExportResult.FAILURE
        except Exception as exc:  # an exporter bug must not kill the export thread
            logger.debug("agentspans: exporter raised", exc_info=exc)
            return SpanExportResult.FAILURE
        finally:
            self._export_started = None
            self._in_flight = 0

    def _warn_failure(self, said: Sequence[str]) -> None:
        from agentspans._redact import scrub

        words = _plain_words(scrub(said[-1]))[:300] if said else ""
        if words and _REFUSED.search(words):
            logger.warning(
                "agentspans: %s refused the spans (%s); the application continues and spans are "
                "dropped until it accepts them (check the credentials in "
                "OTEL_EXPORTER_OTLP_HEADERS)",
                self.description,
                words,
            )
            return
        logger.warning(
            "agentspans: cannot export spans to %s%s; the application continues and spans are "
            "dropped until it answers (check OTEL_EXPORTER_OTLP_ENDPOINT, or use "
            "AGENTSPANS_EXPORTER=file|console|none)",
            self.description,
            f" ({words})" if words else "",
        )

    def abandon(self) -> None:
        """Stop exporting now: interrupt retries and drop what is left."""
        with self._lock:
            self._abandoned = True
            if self._shut:
                return
            self._shut = True
        try:
            self.inner.shutdown()
        except Exception:
            logger.debug("agentspans: exporter shutdown failed", exc_info=True)

    def begin_shutdown(self) -> None:
        """Watch the final exports: one known to be down is abandoned at once; otherwise the
        exports may run until ``shutdown_timeout_s``, and what is then still in flight is
        abandoned and logged."""
        self._shutting_down = True
        if self._failing:
            self.abandon()
            return
        deadline = time.monotonic() + self._shutdown_timeout_s

        def watch() -> None:
            while not self._shut and not self._abandoned:
                if time.monotonic() >= deadline:
                    in_flight = self._in_flight if self._export_started is not None else 0
                    self.lost += in_flight
                    self.abandon()
                    if in_flight:
                        logger.warning(
                            "agentspans: the final export to %s was still running after "
                            "shutdown_timeout_s=%gs; gave up on it (%d spans, and any still "
                            "queued, were not delivered)",
                            self.description,
                            self._shutdown_timeout_s,
                            in_flight,
                        )
                    return
                time.sleep(0.05)

        threading.Thread(target=watch, name="agentspans-export-watchdog", daemon=True).start()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis) if not self._abandoned else True

    def shutdown(self) -> None:
        with self._lock:
            if self._shut:
                return
            self._shut = True
        self.inner.shutdown()


class _SilenceExporterRetries:
    """Keeps the OTLP exporters' per-retry warnings out of the app's log while ours run, and
    notes what they said so our one warning can say it."""

    LOGGERS = (
        "opentelemetry.exporter.otlp.proto.grpc.exporter",
        "opentelemetry.exporter.otlp.proto.http.trace_exporter",
        "opentelemetry.exporter.otlp.proto.http.metric_exporter",
        "opentelemetry.exporter.otlp.proto.http",
        "opentelemetry.exporter.http.transport",
    )

    def __init__(self) -> None:
        import logging

        self._loggers = [logging.getLogger(name) for name in self.LOGGERS]

    def filter(self, record: Any) -> bool:
        if record.levelno < 30:
            return True  # keep DEBUG/INFO; our GuardedExporter says the rest once
        try:
            said = _said()
            said.append(record.getMessage())
            del said[:-4]
        except Exception:
            pass
        return False

    def install(self) -> None:
        for target in self._loggers:
            target.addFilter(self)

    def remove(self) -> None:
        for target in self._loggers:
            target.removeFilter(self)


def _otlp_exporter(config: Config) -> tuple[SpanExporter, str]:
    protocol = config.otlp_protocol or "grpc"
    timeout = config.export_timeout_s
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter_class: type[OTLPSpanExporter] = OTLPSpanExporter
        try:
            from agentspans.exporters.otlp_grpc import GrpcSpanExporter

            exporter_class = GrpcSpanExporter
        except ImportError:  # an exporter release without the encoding helpers ours reuses
            logger.debug("agentspans: the SDK's OTLP encoder is used", exc_info=True)
        grpc_exporter = exporter_class(endpoint=config.otlp_endpoint, timeout=timeout)
        return (
            grpc_exporter,
            f"{getattr(grpc_exporter, '_endpoint', config.otlp_endpoint)} (OTLP/gRPC)",
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    http_exporter = HttpExporter(endpoint=config.otlp_endpoint, timeout=timeout)
    return http_exporter, f"{getattr(http_exporter, '_endpoint', config.otlp_endpoint)} (OTLP/HTTP)"


def _queue_size(config: Config) -> int | None:
    """Room for a whole held trace: the analysis forwards a trace's spans in one burst."""
    if os.environ.get("OTEL_BSP_MAX_QUEUE_SIZE"):
        return None  # the SDK reads the user's setting itself
    return max(_SDK_DEFAULT_QUEUE_SIZE, 2 * config.max_spans_per_trace)


def export_processors(config: Config) -> tuple[list[SpanProcessor], list[GuardedExporter]]:
    processors: list[SpanProcessor] = []
    guarded: list[GuardedExporter] = []
    for name in config.exporters:
        if name == "none":
            continue
        if name == "console":
            processors.append(SimpleSpanProcessor(ConsoleSpanExporter()))
            continue
        if name == "file":
            inner: SpanExporter = OtlpJsonFileExporter(config.file_path)
            description = config.file_path
        else:
            inner, description = _otlp_exporter(config)
        exporter = GuardedExporter(inner, description, config.shutdown_timeout_s)
        guarded.append(exporter)
        processors.append(BatchSpanProcessor(exporter, max_queue_size=_queue_size(config)))
    return processors, guarded


@dataclass
class Installation:
    """What one instrument() changed in the tracing pipeline, so uninstrument() can undo it."""

    provider: Any
    processor: TraceProcessor | None
    owned: bool
    replaced: tuple[SpanProcessor, ...] = ()
    exporters: list[GuardedExporter] = field(default_factory=list)
    silencer: _SilenceExporterRetries | None = None

    def remove(self) -> None:
        """Put the provider's processors back as they were, and flush and stop ours."""
        processor = self.processor
        if processor is None:
            return
        multi = self.provider._active_span_processor
        with multi._lock:
            kept = tuple(p for p in multi._span_processors if p is not processor)
            multi._span_processors = self.replaced + kept
        # Spans still held for analysis go out to every processor, the app's included; then
        # only what we added is shut down and the app's own processors stay alive.
        processor.force_flush()
        processor.downstream = tuple(p for p in processor.downstream if p not in self.replaced)
        processor.shutdown()
        if self.silencer is not None:
            self.silencer.remove()


def _provider_for(
    config: Config, extra_resource: Mapping[str, AttributeValue] | None = None
) -> tuple[Any, bool]:
    """The provider to use, and whether it is ours (created by agentspans).

    ``extra_resource`` (why there is no GPU data) goes on the resource of a provider we create;
    a provider the app made keeps its own resource untouched.
    """
    global _created_provider
    provider = config.tracer_provider or trace.get_tracer_provider()
    if provider is _created_provider or isinstance(provider, TracerProvider):
        return provider, provider is _created_provider
    if config.tracer_provider is not None or not isinstance(provider, trace.ProxyTracerProvider):
        return provider, False  # an API implementation other than the SDK's
    attributes: dict[str, AttributeValue] = dict(extra_resource or {})
    if config.service_name:
        attributes[SERVICE_NAME] = config.service_name
    resource = Resource.create(attributes)
    created = TracerProvider(resource=resource)
    trace.set_tracer_provider(created)
    provider = trace.get_tracer_provider()
    if provider is created:
        _created_provider = created
        return created, True
    return provider, False


def install(
    config: Config,
    annotator: Annotator | None,
    enricher: Enricher,
    start_hooks: Sequence[StartHook],
) -> Installation:
    gpu_resource = resource_attributes(enricher.sampler)
    provider, owned = _provider_for(config, gpu_resource)
    if gpu_resource and not owned:
        logger.info(
            "agentspans: no GPU memory on spans (%s); the app's provider keeps its resource",
            gpu_resource[semconv.GPU_UNAVAILABLE_REASON],
        )
    if not isinstance(provider, TracerProvider):
        warn_once(
            "foreign-provider",
            "agentspans: the tracer provider %s is not the OpenTelemetry SDK's; spans are created "
            "through it, but cost, resource and trace-analysis attributes cannot be added",
            type(provider).__name__,
        )
        return Installation(provider, None, owned=False)

    # Our exporters go in when we own the pipeline, or when the options ask for them explicitly;
    # an app that configured its own provider already exports where it wants.
    add_exporters = owned or config.exporters_explicit
    ours, guarded = export_processors(config) if add_exporters else ([], [])
    multi = provider._active_span_processor
    with multi._lock:
        replaced = tuple(multi._span_processors)
        processor = TraceProcessor(
            [*replaced, *ours],
            enricher,
            annotator,
            hold_s=config.analysis_hold_s,
            max_spans_per_trace=config.max_spans_per_trace,
            max_traces_held=config.max_traces_held,
            max_spans_held=config.max_spans_held,
            start_hooks=start_hooks,
            before_shutdown=[exporter.begin_shutdown for exporter in guarded],
        )
        multi._span_processors = (processor,)
    silencer = None
    if guarded:
        silencer = _SilenceExporterRetries()
        silencer.install()
    return Installation(provider, processor, owned, replaced, guarded, silencer)
