"""OpenTelemetry's suppress-instrumentation switch: no spans of ours while it is set.

Exporters (the SDK's batch processor sets it around every export) and other instrumentations
set ``opentelemetry.context._SUPPRESS_INSTRUMENTATION_KEY`` around their own internal calls;
``opentelemetry.instrumentation.utils.is_instrumentation_enabled`` reads that key and the older
plain-string ``"suppress_instrumentation"`` one. We read the same keys from
``opentelemetry.context`` (no dependency on opentelemetry-instrumentation for that).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context

_KEY: Any = getattr(otel_context, "_SUPPRESS_INSTRUMENTATION_KEY", "suppress_instrumentation")
_LEGACY_KEY = "suppress_instrumentation"


def suppressed(context: Context | None = None) -> bool:
    """Whether instrumentation is suppressed in ``context`` (default: the current one)."""
    return _suppressed_in(otel_context.get_current() if context is None else context)


def _suppressed_in(context: Context) -> bool:
    # ``Context`` is a dict: reading it directly spares ``get_value``'s call per key.
    return bool(context.get(_KEY) or context.get(_LEGACY_KEY))


def suppressed_here(context: Context | None) -> bool:
    """Whether suppressed in ``context`` or in the current context (each checked once)."""
    current = otel_context.get_current()
    if _suppressed_in(current):
        return True
    return context is not None and context is not current and _suppressed_in(context)


class SuppressibleTracer(trace.Tracer):
    """A tracer whose spans are non-recording while instrumentation is suppressed."""

    def __init__(self, inner: trace.Tracer) -> None:
        self.inner = inner

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> trace.Span:
        if suppressed_here(context):
            return trace.INVALID_SPAN
        return self.inner.start_span(name, context, *args, **kwargs)

    @contextmanager
    def start_as_current_span(  # type: ignore[override]
        self, name: str, context: Context | None = None, *args: Any, **kwargs: Any
    ) -> Iterator[trace.Span]:
        if suppressed_here(context):
            yield trace.INVALID_SPAN
            return
        with self.inner.start_as_current_span(name, context, *args, **kwargs) as span:
            yield span


__all__: Sequence[str] = ("SuppressibleTracer", "suppressed", "suppressed_here")
