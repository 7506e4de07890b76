"""The trace processor's overflow counts as metrics: spans exported unanalysed, spans dropped.

Module-level because an SDK meter hands back the instrument registered first when the same name
is created again (a second ``instrument()`` on the app's global meter provider), so the callbacks
read whichever processor is current instead of capturing one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from agentspans import semconv
from agentspans.processors.pipeline import TraceProcessor

_UNANALYSED = ("hold_window", "spans_per_trace", "traces_held", "spans_held")
_DROPPED = ("queue_full", "export_queue")
_current: TraceProcessor | None = None
_registered: set[int] = set()


def _observe(reasons: tuple[str, ...]) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def observe(options: CallbackOptions) -> Iterable[Observation]:
        processor = _current
        if processor is None:
            return []
        overflow = processor.overflow
        return [
            Observation(getattr(overflow, reason), {semconv.OVERFLOW_REASON: reason})
            for reason in reasons
        ]

    return observe


def observe_overflow(meter: Meter, processor: TraceProcessor) -> None:
    """Report ``processor.overflow`` through ``meter`` from now on."""
    global _current
    _current = processor
    if id(meter) in _registered:
        return
    _registered.add(id(meter))
    meter.create_observable_counter(
        semconv.METRIC_SPANS_UNANALYSED,
        callbacks=[_observe(_UNANALYSED)],
        unit="{span}",
        description="Spans exported without trace analysis because a hold limit was reached",
    )
    meter.create_observable_counter(
        semconv.METRIC_SPANS_DROPPED,
        callbacks=[_observe(_DROPPED)],
        unit="{span}",
        description="Spans dropped because a queue was full",
    )
