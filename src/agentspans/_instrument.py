"""``instrument()`` and ``uninstrument()``: wire everything, and unwire it exactly."""

from __future__ import annotations

import dataclasses
import importlib
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from typing_extensions import Unpack

from agentspans import semconv
from agentspans._config import Config, ConfigError, Options, resolve
from agentspans._errors import logger, reset_reported, warn_once
from agentspans._patching import Patches
from agentspans._runtime import RUNTIME, Runtime
from agentspans._setup import Installation, install
from agentspans._suppress import SuppressibleTracer
from agentspans._threads import patch_threads
from agentspans._version import __version__
from agentspans.llm_span import LlmCall
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

if TYPE_CHECKING:  # imported on first use (see _LazyAnnotator)
    from agentspans.processors.analysis import TraceAnnotator

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

    @property
    def export_failing(self) -> bool:
        """One of agentspans' own span exporters failed its last export (nothing listening)."""
        return any(exporter.failing for exporter in self._installation.exporters)


_current: Instrumentation | None = None


class _LazyAnnotator:
    """The trace analysis, imported on the worker thread when the first trace is analysed:
    importing it (and building its dataclasses) was a third of ``instrument()``."""

    __slots__ = ("_made", "_thresholds")

    def __init__(self, thresholds: Mapping[str, Any] | None) -> None:
        self._thresholds = thresholds
        self._made: TraceAnnotator | None = None

    def _annotator(self) -> TraceAnnotator:
        made = self._made
        if made is None:
            from agentspans.processors.analysis import make_annotator

            made = self._made = make_annotator(self._thresholds)
        return made

    def __call__(
        self, spans: Sequence[tuple[ReadableSpan, Extra]], root_id: int
    ) -> Mapping[int, tuple[Extra, Sequence[EventSpec]]]:
        return self._annotator()(spans, root_id)

    def lone(self, span: ReadableSpan, attributes: Extra, call: LlmCall | None) -> Extra | None:
        return self._annotator().lone(span, attributes, call)


def _annotator(config: Config) -> Annotator | None:
    """The trace analysis, built on its first use. Thresholds given to ``instrument()`` are
    still checked at once (``_check_thresholds``)."""
    if not config.analysis:
        return None
    return _LazyAnnotator(config.thresholds)


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
        span_metrics.flush_spans = processor.flush_held
        from agentspans._overflow_metrics import observe_overflow

        observe_overflow(
            span_metrics.provider.get_meter(semconv.INSTRUMENTATION_SCOPE, __version__), processor
        )
    return span_metrics


def _start_hooks(libraries: Iterable[str]) -> list[StartHook]:
    hooks: list[StartHook] = []
    for name in libraries:
        module = importlib.import_module(INTEGRATIONS[name])
        hooks.extend(getattr(module, "START_HOOKS", ()))
    return hooks


def instrument(**options: Unpack[Options]) -> Instrumentation:
    """Turn agent delegations, LLM calls and tool calls into nested OpenTelemetry spans.

    Call once at start-up. A second call while instrumented changes nothing and returns the
    current :class:`Instrumentation`; call :func:`uninstrument` first to change options. Every
    option is documented in ``docs/configuration.md``; a wrong one raises :class:`ConfigError`.
    """
    global _current
    config = resolve(**options)
    passed = sorted(name for name, value in options.items() if value is not None)
    _check_thresholds(config)
    prices_table = _prices_table(config, from_argument=options.get("prices_file") is not None)
    annotator = _annotator(config)
    start_hooks = _start_hooks(config.libraries)

    with _lock:
        if _current is not None:
            _warn_if_ignored(_current.config, config, passed)
            return _current
        sampler = (
            ResourceSampler.with_gpu_probe(config.resource_interval_s) if config.resources else None
        )
        installation = install(config, annotator, Enricher(prices_table, sampler), start_hooks)
        span_metrics = _install_metrics(config, installation, sampler)
        tracer = trace.get_tracer(
            semconv.INSTRUMENTATION_SCOPE, __version__, tracer_provider=installation.provider
        )
        patches = Patches()
        RUNTIME.current = Runtime(SuppressibleTracer(tracer), config)
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


def _prices_table(config: Config, *, from_argument: bool) -> Any:
    """The price table. A bad ``prices_file=`` fails here; a bad AGENTSPANS_PRICES_FILE warns,
    as every bad environment value does, and the bundled table is used (the app still runs)."""
    try:
        return build_table(config.prices, config.prices_file)
    except ValueError as exc:
        if from_argument:
            raise ConfigError(f"agentspans.instrument(prices_file=...): {exc}") from None
        warn_once(
            "env:AGENTSPANS_PRICES_FILE",
            "agentspans: ignoring AGENTSPANS_PRICES_FILE=%r (%s); using the bundled price table",
            config.prices_file,
            exc,
        )
        return build_table(config.prices, None)


def _warn_if_ignored(current: Config, wanted: Config, passed: list[str]) -> None:
    """Say once that a second instrument() with other options changed nothing, and what to do.

    A bare second call (a library making sure the app is instrumented) asks for nothing new.
    """
    changed = [
        f.name
        for f in dataclasses.fields(Config)
        if getattr(current, f.name) != getattr(wanted, f.name)
    ]
    if not passed or not changed:
        logger.debug("agentspans: already instrumented; instrument() again changes nothing")
        return
    warn_once(
        "instrument-again",
        "agentspans: instrument() was already called; this call's options are ignored "
        "(different: %s). Pass every option in the one instrument() call at start-up, or call "
        "agentspans.uninstrument() first to change them",
        ", ".join(changed),
    )


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
