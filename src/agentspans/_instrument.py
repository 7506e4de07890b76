"""``instrument()`` and ``uninstrument()``: wire everything, and unwire it exactly."""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan

from agentspans import semconv
from agentspans._config import Config, ConfigError, resolve
from agentspans._errors import logger, reset_reported
from agentspans._patching import Patches
from agentspans._runtime import RUNTIME, Runtime
from agentspans._setup import Installation, install
from agentspans._threads import patch_threads
from agentspans.metrics import MetricsInstallation, install_metrics
from agentspans.pricing import build_table
from agentspans.processors.enrich import Enricher
from agentspans.processors.pipeline import Annotator, EventSpec, Extra, StartHook, TraceProcessor
from agentspans.resources import ResourceSampler, resource_attributes
from agentspans.wrappers import INTEGRATIONS
from agentspans.wrappers.operations import (
    agent_wrapper_factory,
    delegate_wrapper_factory,
    tool_wrapper_factory,
)

_lock = threading.Lock()


@dataclass
class Instrumentation:
    """What ``instrument()`` set up; returned to the caller for flushing and inspection."""

    config: Config
    provider: Any
    processor: TraceProcessor | None
    sampler: ResourceSampler | None
    _patches: Patches
    _installation: Installation
    metrics: MetricsInstallation | None = None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Analyse and export every span that has ended so far."""
        flush = getattr(self.provider, "force_flush", None)
        return bool(flush(timeout_millis)) if flush is not None else True


_current: Instrumentation | None = None


def _annotator(config: Config) -> Annotator | None:
    """The trace analysis, imported on the worker thread when the first trace is analysed:
    importing it (and building its dataclasses) was a third of ``instrument()``. Thresholds
    given to ``instrument()`` are still checked at once (``_check_thresholds``)."""
    if not config.analysis:
        return None
    thresholds = config.thresholds
    made: list[Annotator] = []

    def annotate(
        spans: Sequence[tuple[ReadableSpan, Extra]], root_id: int
    ) -> Mapping[int, tuple[Extra, Sequence[EventSpec]]]:
        if not made:
            from agentspans.processors.analysis import make_annotator

            made.append(make_annotator(thresholds))
        return made[0](spans, root_id)

    return annotate


def _check_thresholds(config: Config) -> None:
    if not config.thresholds:
        return
    from agentspans.analysis import Thresholds

    try:
        Thresholds.from_mapping(config.thresholds)
    except ValueError as exc:
        raise ConfigError(f"agentspans.instrument(thresholds=...): {exc}") from None


def _install_metrics(
    config: Config, installation: Installation, sampler: ResourceSampler | None
) -> MetricsInstallation | None:
    """Metrics on the trace processor's worker thread, with the tracer provider's resource."""
    processor = installation.processor
    if processor is None:  # a provider that is not the SDK's: no finished spans reach us
        return None
    resource = getattr(installation.provider, "resource", None)
    if isinstance(resource, Resource) and not installation.owned:
        resource = resource.merge(Resource(dict(resource_attributes(sampler))))
    span_metrics = install_metrics(
        config,
        resource if isinstance(resource, Resource) else None,
        sampler,
        add_exporters=installation.owned or config.exporters_explicit,
    )
    if span_metrics is not None:
        processor.observers = (*processor.observers, span_metrics.recorder.record)
    return span_metrics


def _start_hooks(libraries: Iterable[str]) -> list[StartHook]:
    hooks: list[StartHook] = []
    for name in libraries:
        module = importlib.import_module(INTEGRATIONS[name])
        hooks.extend(getattr(module, "START_HOOKS", ()))
    return hooks


def instrument(
    *,
    service_name: str | None = None,
    exporter: str | Sequence[str] | None = None,
    otlp_protocol: str | None = None,
    otlp_endpoint: str | None = None,
    file_path: str | os.PathLike[str] | None = None,
    capture_content: bool | None = None,
    delegates: Mapping[str, str | None] | Iterable[str] | str | None = None,
    agents: Iterable[str] | str | None = None,
    tools: Iterable[str] | str | None = None,
    libraries: str | Sequence[str] | None = None,
    analysis: bool | None = None,
    thresholds: Mapping[str, float] | None = None,
    analysis_hold_s: float | None = None,
    max_spans_per_trace: int | None = None,
    max_traces_held: int | None = None,
    resources: bool | None = None,
    resource_interval_s: float | None = None,
    prices: Mapping[str, Mapping[str, float]] | None = None,
    prices_file: str | os.PathLike[str] | None = None,
    export_timeout_s: float | None = None,
    shutdown_timeout_s: float | None = None,
    tracer_provider: Any = None,
    metrics: bool | None = None,
    meter_provider: Any = None,
) -> Instrumentation:
    """Turn agent delegations, LLM calls and tool calls into nested OpenTelemetry spans.

    Call once at start-up. A second call while instrumented changes nothing and returns the
    current :class:`Instrumentation`; call :func:`uninstrument` first to change options. Every
    option is documented in ``docs/configuration.md``; a wrong one raises :class:`ConfigError`.
    """
    global _current
    config = resolve(
        service_name=service_name,
        exporter=exporter,
        otlp_protocol=otlp_protocol,
        otlp_endpoint=otlp_endpoint,
        file_path=file_path,
        capture_content=capture_content,
        delegates=delegates,
        agents=agents,
        tools=tools,
        libraries=libraries,
        analysis=analysis,
        thresholds=thresholds,
        analysis_hold_s=analysis_hold_s,
        max_spans_per_trace=max_spans_per_trace,
        max_traces_held=max_traces_held,
        resources=resources,
        resource_interval_s=resource_interval_s,
        prices=prices,
        prices_file=prices_file,
        export_timeout_s=export_timeout_s,
        shutdown_timeout_s=shutdown_timeout_s,
        tracer_provider=tracer_provider,
        metrics=metrics,
        meter_provider=meter_provider,
    )
    _check_thresholds(config)
    try:
        prices_table = build_table(config.prices, config.prices_file)
    except ValueError as exc:
        raise ConfigError(f"agentspans.instrument(prices_file=...): {exc}") from None
    annotator = _annotator(config)
    start_hooks = _start_hooks(config.libraries)

    with _lock:
        if _current is not None:
            logger.debug("agentspans: already instrumented; call uninstrument() to change options")
            return _current
        sampler = (
            ResourceSampler.with_gpu_probe(config.resource_interval_s) if config.resources else None
        )
        installation = install(config, annotator, Enricher(prices_table, sampler), start_hooks)
        span_metrics = _install_metrics(config, installation, sampler)
        tracer = trace.get_tracer(
            semconv.INSTRUMENTATION_SCOPE, _version(), tracer_provider=installation.provider
        )
        patches = Patches()
        RUNTIME.current = Runtime(tracer, config)
        patch_threads(patches)
        for path, expression in config.delegates.items():
            patches.patch_path(path, delegate_wrapper_factory(expression))
        for path in config.agents:
            patches.patch_path(path, agent_wrapper_factory)
        for path in config.tools:
            patches.patch_path(path, tool_wrapper_factory)
        for name in config.libraries:
            importlib.import_module(INTEGRATIONS[name]).instrument(patches)
        if sampler is not None:
            sampler.start()
        _current = Instrumentation(
            config,
            installation.provider,
            installation.processor,
            sampler,
            patches,
            installation,
            span_metrics,
        )
        return _current


def uninstrument() -> None:
    """Undo :func:`instrument`: every patched function is restored to the very object it was,
    the provider's processors are put back, and the spans held for analysis are flushed."""
    global _current
    with _lock:
        current, _current = _current, None
        if current is None:
            return
        RUNTIME.current = None
        current._patches.restore_all()
        current._installation.remove()  # flushes held spans, so their metrics are recorded
        if current.metrics is not None:
            current.metrics.shutdown()
        if current.sampler is not None:
            current.sampler.stop()
        reset_reported()


def instrumentation() -> Instrumentation | None:
    """The active :class:`Instrumentation`, or None."""
    return _current


def _version() -> str:
    from agentspans import __version__

    return __version__
