"""The span processor ``instrument()`` installs: enrich, analyse, then forward to export.

A span is read-only once it ends, so what can only be known afterwards (cost, resource peaks,
the trace's critical path and findings) is added by rebuilding the ``ReadableSpan`` and handing
the rebuilt span to the export processors this one wraps.

The application's thread does almost nothing here: ``on_end`` reads the process CPU clock and
appends to a deque. A worker thread groups spans by trace, holds each local trace until its
local root ends, analyses it, rebuilds its spans and forwards them. Holding is bounded: spans
older than the hold window are forwarded unannotated, as are traces over the span cap and the
oldest traces when too many are held; :attr:`TraceProcessor.overflow` counts each case.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.util.types import AttributeValue

from agentspans._errors import logger, report_internal_error
from agentspans._spans import events_of, links_of, plain_attributes
from agentspans.processors.enrich import Enricher

Extra = dict[str, AttributeValue]
EventSpec = tuple[str, Mapping[str, AttributeValue]]
# Given a local trace's spans (each with the attributes enrichment adds) and the id of its
# local root, the attributes and events the analysis writes, by span id.
Annotator = Callable[
    [Sequence[tuple[ReadableSpan, Extra]], int], Mapping[int, tuple[Extra, Sequence[EventSpec]]]
]
StartHook = Callable[[Span, "Context | None"], None]
# Called on the worker thread with each batch of finished spans as they go to export (a whole
# local trace when it was held for analysis): the metrics are recorded from these.
SpanObserver = Callable[[Sequence[ReadableSpan]], None]

# The worker's period: how long a finished trace may wait before it is analysed and exported
# (the export processors then batch it further, by default for up to 5 s).
_TICK_S = 0.1
# ...unless this many spans are waiting: then it is woken at once, so the queue stays short.
_WAKE_AT_QUEUED = 2048
_DONE_TRACES_REMEMBERED = 4096


def is_local_root(span: ReadableSpan) -> bool:
    parent = span.parent
    return parent is None or parent.is_remote


def rebuild(
    span: ReadableSpan, extra: Mapping[str, AttributeValue], events: Sequence[EventSpec] = ()
) -> ReadableSpan:
    """A copy of ``span`` with ``extra`` attributes and ``events`` added."""
    if not extra and not events:
        return span
    attributes = plain_attributes(span)
    attributes.update(extra)
    all_events: Sequence[Event] = events_of(span)
    if events:
        timestamp = span.end_time
        all_events = (
            *all_events,
            *(Event(name, dict(attrs), timestamp) for name, attrs in events),
        )
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=all_events,
        links=links_of(span),
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


@dataclass
class _HeldTrace:
    first_seen: float
    spans: list[tuple[ReadableSpan, float | None]] = field(default_factory=list)


@dataclass
class Overflow:
    """How many spans were forwarded without analysis, and why."""

    hold_window: int = 0
    spans_per_trace: int = 0
    traces_held: int = 0
    late: int = 0

    def total(self) -> int:
        return self.hold_window + self.spans_per_trace + self.traces_held


class TraceProcessor(SpanProcessor):
    """Enriches and analyses spans, then forwards them to ``downstream`` processors."""

    def __init__(
        self,
        downstream: Sequence[SpanProcessor],
        enricher: Enricher,
        annotator: Annotator | None,
        *,
        hold_s: float = 300.0,
        max_spans_per_trace: int = 20_000,
        max_traces_held: int = 2_000,
        start_hooks: Sequence[StartHook] = (),
        before_shutdown: Sequence[Callable[[], None]] = (),
    ) -> None:
        self.downstream: tuple[SpanProcessor, ...] = tuple(downstream)
        self._enricher = enricher
        self._annotator = annotator
        self._hold_s = hold_s
        self._max_spans = max_spans_per_trace
        self._max_traces = max_traces_held
        self._start_hooks = tuple(start_hooks)
        self._before_shutdown = tuple(before_shutdown)
        self.observers: tuple[SpanObserver, ...] = ()
        self._cpu_at_start: dict[int, float] = {}
        self._queue: deque[tuple[ReadableSpan, float | None]] = deque()
        self._held: OrderedDict[int, _HeldTrace] = OrderedDict()
        self._done: OrderedDict[int, None] = OrderedDict()
        self._skip: OrderedDict[int, None] = OrderedDict()
        self._process_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = False
        self.overflow = Overflow()
        self._worker: threading.Thread | None = None
        self._start_worker()
        if hasattr(os, "register_at_fork"):
            ref = weakref.WeakMethod(self._start_worker)
            os.register_at_fork(after_in_child=lambda: (m := ref()) and m())

    # -- the application's thread ----------------------------------------------------------------
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        context = span.context
        if context is not None:
            self._cpu_at_start[context.span_id] = time.process_time()
        for hook in self._start_hooks:
            try:
                hook(span, parent_context)
            except Exception as exc:
                report_internal_error("span start hook", exc)
        for processor in self.downstream:
            processor.on_start(span, parent_context=parent_context)

    def _on_ending(self, span: Span) -> None:
        for processor in self.downstream:
            on_ending = getattr(processor, "_on_ending", None)
            if on_ending is not None:
                on_ending(span)

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        started = self._cpu_at_start.pop(context.span_id, None) if context is not None else None
        cpu = time.process_time() - started if started is not None else None
        queue = self._queue
        queue.append((span, cpu))
        # The worker runs on its tick and takes whatever ended meanwhile; waking it at every
        # trace root made it contend with the app for the GIL once per trace.
        if len(queue) >= _WAKE_AT_QUEUED or self._stopped:
            self._wake.set()

    # -- the worker thread -----------------------------------------------------------------------
    def _start_worker(self) -> None:
        self._process_lock = threading.Lock()
        self._wake = threading.Event()
        self._worker = threading.Thread(target=self._run, name="agentspans-analysis", daemon=True)
        self._worker.start()

    def _run(self) -> None:
        tick = min(_TICK_S, self._hold_s / 4)
        while not self._stopped:
            self._wake.wait(tick)
            self._wake.clear()
            try:
                self._process(expire=True)
            except Exception as exc:
                report_internal_error("trace processor worker", exc)

    def _process(self, *, expire: bool = False, flush_all: bool = False) -> None:
        with self._process_lock:
            queue = self._queue
            while queue:
                span, cpu = queue.popleft()
                self._accept(span, cpu)
            if expire:
                self._expire(time.monotonic() - self._hold_s)
            if flush_all:
                for trace_id in list(self._held):
                    self._release(trace_id)
            if (
                len(self._cpu_at_start) > 100_000
            ):  # spans started and never ended: don't grow forever
                self._cpu_at_start.clear()

    def _accept(self, span: ReadableSpan, cpu: float | None) -> None:
        context = span.context
        if self._annotator is None or context is None:
            self._forward(span, cpu)
            return
        trace_id = context.trace_id
        if trace_id in self._done or trace_id in self._skip:
            if trace_id in self._done:
                self.overflow.late += 1
            self._forward(span, cpu)
            return
        held = self._held.get(trace_id)
        if held is None:
            if is_local_root(span):
                # The whole local trace is this one span (a standalone LLM call): nothing to
                # hold, group or split.
                self._analyse([(span, cpu)], context.span_id)
                self._remember(self._done, trace_id)
                return
            held = self._held[trace_id] = _HeldTrace(time.monotonic())
            if len(self._held) > self._max_traces:
                oldest = next(iter(self._held))
                self.overflow.traces_held += len(self._held[oldest].spans)
                self._release(oldest, skip=True)
        held.spans.append((span, cpu))
        if len(held.spans) > self._max_spans:
            self.overflow.spans_per_trace += len(held.spans)
            self._warn_overflow("spans_per_trace")
            self._release(trace_id, skip=True)
            return
        if is_local_root(span):
            self._complete(trace_id, span)

    def _complete(self, trace_id: int, root: ReadableSpan) -> None:
        held = self._held.get(trace_id)
        assert held is not None
        assert root.context is not None
        subtree, rest = _split_subtree(held.spans, root.context.span_id)
        self._analyse(subtree, root.context.span_id)
        if rest:
            held.spans = rest
        else:
            del self._held[trace_id]
            self._remember(self._done, trace_id)

    def _analyse(self, subtree: list[tuple[ReadableSpan, float | None]], root_id: int) -> None:
        """Enrich, analyse, rebuild and forward one local trace."""
        enriched = [(span, self._enrich(span, cpu)) for span, cpu in subtree]
        annotations: Mapping[int, tuple[Extra, Sequence[EventSpec]]] = {}
        try:
            assert self._annotator is not None
            annotations = self._annotator(enriched, root_id)
        except Exception as exc:
            report_internal_error("trace analysis", exc)
        finished = []
        for span, extra in enriched:
            context = span.context
            found = annotations.get(context.span_id) if context is not None else None
            if found:
                extra = {**extra, **found[0]}
                finished.append(rebuild(span, extra, found[1]))
            else:
                finished.append(rebuild(span, extra))
        for span in finished:
            self._send(span)
        self._observe(finished)

    def _expire(self, cutoff: float) -> None:
        for trace_id in list(self._held):
            held = self._held[trace_id]
            if held.first_seen > cutoff:
                break  # ordered by arrival: the rest are younger
            self.overflow.hold_window += len(held.spans)
            self._warn_overflow("hold_window")
            self._release(trace_id)

    def _release(self, trace_id: int, *, skip: bool = False) -> None:
        held = self._held.pop(trace_id, None)
        if skip:
            self._remember(self._skip, trace_id)
        if held is not None:
            for span, cpu in held.spans:
                self._forward(span, cpu)

    @staticmethod
    def _remember(seen: OrderedDict[int, None], trace_id: int) -> None:
        seen[trace_id] = None
        if len(seen) > _DONE_TRACES_REMEMBERED:
            seen.popitem(last=False)

    def _enrich(self, span: ReadableSpan, cpu: float | None) -> Extra:
        try:
            return self._enricher.attributes_for(
                plain_attributes(span), span.start_time or 0, span.end_time or 0, cpu
            )
        except Exception as exc:
            report_internal_error("span enrichment", exc)
            return {}

    def _forward(self, span: ReadableSpan, cpu: float | None) -> None:
        finished = rebuild(span, self._enrich(span, cpu))
        self._send(finished)
        self._observe([finished])

    def _observe(self, spans: Sequence[ReadableSpan]) -> None:
        for observer in self.observers:
            try:
                observer(spans)
            except Exception as exc:
                report_internal_error("span observer (metrics)", exc)

    def _send(self, span: ReadableSpan) -> None:
        for processor in self.downstream:
            try:
                processor.on_end(span)
            except Exception as exc:
                report_internal_error(f"{type(processor).__name__}.on_end", exc)

    def _warn_overflow(self, reason: str) -> None:
        from agentspans._errors import warn_once

        warn_once(
            f"overflow:{reason}",
            "agentspans: some spans were exported without trace analysis (%s limit reached); "
            "see TraceProcessor.overflow and the analysis_hold_s / max_spans_per_trace / "
            "max_traces_held options",
            reason,
        )

    # -- lifecycle -------------------------------------------------------------------------------
    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        deadline = time.monotonic() + timeout_millis / 1000
        try:
            self._process(flush_all=True)
        except Exception as exc:
            report_internal_error("trace processor flush", exc)
        ok = True
        for processor in self.downstream:
            remaining = max(int((deadline - time.monotonic()) * 1000), 1)
            ok = processor.force_flush(remaining) and ok
        return ok

    def shutdown(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._wake.set()
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout=2.0)
        try:
            self._process(flush_all=True)
        except Exception as exc:
            report_internal_error("trace processor shutdown", exc)
        for callback in self._before_shutdown:
            try:
                callback()
            except Exception as exc:
                report_internal_error("trace processor shutdown hook", exc)
        for processor in self.downstream:
            try:
                processor.shutdown()
            except Exception:
                logger.debug("agentspans: downstream processor shutdown failed", exc_info=True)


def _split_subtree(
    spans: list[tuple[ReadableSpan, float | None]], root_id: int
) -> tuple[list[tuple[ReadableSpan, float | None]], list[tuple[ReadableSpan, float | None]]]:
    """The spans under ``root_id`` (by parent links) and the others, each in arrival order."""
    children: dict[int, list[int]] = {}
    for span, _ in spans:
        parent = span.parent
        if parent is not None and span.context is not None:
            children.setdefault(parent.span_id, []).append(span.context.span_id)
    inside = {root_id}
    stack = [root_id]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in inside:
                inside.add(child)
                stack.append(child)
    if len(inside) >= len(spans):
        return spans, []
    subtree = [
        item for item in spans if item[0].context is not None and item[0].context.span_id in inside
    ]
    rest = [
        item for item in spans if item[0].context is None or item[0].context.span_id not in inside
    ]
    return subtree, rest
