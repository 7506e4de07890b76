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

import dis
import inspect
import logging
import os
import threading
import time
import types
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import Link, Status
from opentelemetry.util.types import AttributeValue

from agentspans._errors import logger, report_internal_error
from agentspans._spans import events_of, links_of, plain_attributes
from agentspans.llm_span import LlmCall
from agentspans.processors.enrich import Enricher

Extra = dict[str, AttributeValue]
EventSpec = tuple[str, Mapping[str, AttributeValue]]
# Given a local trace's spans (each with its attributes as they will be exported: its own and
# those enrichment added) and the id of its local root, the attributes and events the analysis
# writes, by span id.
Annotator = Callable[
    [Sequence[tuple[ReadableSpan, Extra]], int], Mapping[int, tuple[Extra, Sequence[EventSpec]]]
]
# An annotator's shortcut for a local trace of one span: its annotations given the span, its
# enriched attributes and its LLM call as enrichment read it, or None for the general way.
LoneAnnotator = Callable[[ReadableSpan, Extra, "LlmCall | None"], "Extra | None"]
# A start hook may carry ``context_keys``: a tuple of the context keys without which, in the
# span's parent context, it returns at once without looking at the span.
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
# Span ids of the local trees already analysed and exported, so that a span ending after its
# tree's root (a background task's) is known as late and forwarded at once. A bounded memory:
# a late span whose parent was forgotten is held like a new local tree, and goes out unannotated
# when its hold window ends.
_FINISHED_SPANS_REMEMBERED = 16_384
# Ended spans waiting for the worker: past this the app's thread drops (and counts) new ones
# rather than grow without bound when the worker is stuck behind a slow export.
MAX_QUEUED = 200_000
# How long the worker waits for a downstream batch processor's full queue to move before it
# takes the backend for stuck and lets that processor drop (counted).
_PACE_WAIT_S = 2.0


def _does_nothing(processor: SpanProcessor, name: str) -> bool:
    """Whether ``processor.name`` is a method whose body is empty (``pass``, a docstring), as
    the SDK's ``SpanProcessor``, ``BatchSpanProcessor`` and ``SimpleSpanProcessor`` define
    ``on_start`` and ``_on_ending``: calling it can be skipped. Anything not plainly a function
    of the class (set on the instance, a callable object, a custom ``__getattribute__``) is
    taken to do something, as is anything that cannot be inspected."""
    try:
        cls = type(processor)
        if cls.__getattribute__ is not object.__getattribute__:
            return False
        if name in getattr(processor, "__dict__", {}):
            return False
        function = inspect.getattr_static(cls, name, None)
        if not isinstance(function, types.FunctionType):
            return False
        instructions = list(dis.get_instructions(function))
    except Exception:
        return False
    for instruction in instructions:
        if instruction.opname in _NO_OPS:
            continue
        if instruction.opname in _NONE_OPS and instruction.argval is None:
            continue
        return False  # anything else: it may do something
    return True


# Bytecode of an empty body across CPython versions: ``return None`` and padding.
_NO_OPS = frozenset({"RESUME", "NOP", "CACHE", "RETURN_VALUE"})
_NONE_OPS = frozenset({"LOAD_CONST", "RETURN_CONST"})


def is_local_root(span: ReadableSpan) -> bool:
    parent = span.parent
    return parent is None or parent.is_remote


class _RebuiltSpan(ReadableSpan):
    """A rebuilt span that keeps the counts of what the SDK's limits dropped from the original
    (a plain ``ReadableSpan`` built from copies reports 0)."""

    _dropped: tuple[int, int, int] = (0, 0, 0)

    @property
    def dropped_attributes(self) -> int:
        return self._dropped[0]

    @property
    def dropped_events(self) -> int:
        return self._dropped[1]

    @property
    def dropped_links(self) -> int:
        return self._dropped[2]


def rebuild(
    span: ReadableSpan, attributes: dict[str, AttributeValue], events: Sequence[EventSpec] = ()
) -> ReadableSpan:
    """A copy of ``span`` with ``attributes`` (its own and what was added, a dict the copy takes
    over) and with ``events`` added."""
    all_events: Sequence[Event] | None = None
    if events:
        timestamp = span.end_time
        all_events = (
            *events_of(span),
            *(Event(name, dict(attrs), timestamp) for name, attrs in events),
        )
    return copy_span(span, attributes=attributes, events=all_events)


def copy_span(
    span: ReadableSpan,
    *,
    name: str | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
    events: Sequence[Event] | None = None,
    links: Sequence[Link] | None = None,
    status: Status | None = None,
) -> ReadableSpan:
    """A copy of ``span`` with the given fields replaced, keeping the SDK's dropped counts."""
    fields = getattr(span, "__dict__", None)
    if type(span) is ReadableSpan and fields is not None:
        # What the SDK's dropped_* properties read, without three property calls.
        dropped = (
            _dropped(fields.get("_attributes"), BoundedAttributes),
            _dropped(fields.get("_events"), BoundedList),
            _dropped(fields.get("_links"), BoundedList),
        )
    else:
        dropped = (span.dropped_attributes, span.dropped_events, span.dropped_links)
    cls = _RebuiltSpan if dropped[0] or dropped[1] or dropped[2] else ReadableSpan
    if fields is not None and "_attributes" in fields and "_events" in fields:
        # The SDK's ReadableSpan keeps its fields in __dict__: copied at C speed, a third of the
        # keyword-argument constructor's cost. An ended span's events and links do not change,
        # so the copy may share them.
        rebuilt = cls.__new__(cls)
        copied = rebuilt.__dict__
        copied.update(fields)
        if name is not None:
            copied["_name"] = name
        if attributes is not None:
            copied["_attributes"] = attributes
        if events is not None:
            copied["_events"] = events
        if links is not None:
            copied["_links"] = links
        if status is not None:
            copied["_status"] = status
    else:
        rebuilt = cls(
            name=span.name if name is None else name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=span.attributes if attributes is None else attributes,
            events=events_of(span) if events is None else events,
            links=links_of(span) if links is None else links,
            kind=span.kind,
            status=span.status if status is None else status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )
    if cls is _RebuiltSpan:
        rebuilt._dropped = dropped  # type: ignore[attr-defined]
    return rebuilt


def _dropped(container: object, bounded: type) -> int:
    return container.dropped if isinstance(container, bounded) else 0  # type: ignore[attr-defined]


@dataclass
class _HeldTrace:
    first_seen: float
    spans: list[tuple[ReadableSpan, float | None]] = field(default_factory=list)


@dataclass
class Overflow:
    """How many spans were forwarded without analysis, or dropped, and why.

    ``hold_window``, ``spans_per_trace``, ``traces_held`` and ``spans_held`` count spans
    exported *unanalysed* (their trace was released early); ``queue_full`` counts spans dropped
    because the worker could not keep up (:data:`MAX_QUEUED` ended spans waiting) and
    ``export_queue`` spans a downstream batch processor's full queue had to drop.
    """

    hold_window: int = 0
    spans_per_trace: int = 0
    traces_held: int = 0
    spans_held: int = 0
    late: int = 0
    queue_full: int = 0
    export_queue: int = 0

    def total(self) -> int:
        return self.hold_window + self.spans_per_trace + self.traces_held + self.spans_held

    def dropped(self) -> int:
        return self.queue_full + self.export_queue


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
        max_spans_held: int = 100_000,
        start_hooks: Sequence[StartHook] = (),
        before_shutdown: Sequence[Callable[[], None]] = (),
    ) -> None:
        self._enricher = enricher
        self._annotator = annotator
        # The annotator's one-span shortcut, given the LLM call enrichment read (see
        # processors/analysis.py, TraceAnnotator.lone); None: every trace goes the general way.
        self._lone: LoneAnnotator | None = getattr(annotator, "lone", None)
        self._hold_s = hold_s
        self._max_spans = max_spans_per_trace
        self._max_traces = max_traces_held
        self._max_held = max_spans_held
        self._held_count = 0  # spans in self._held, all traces together
        self._stalled = False
        _QueueFullCounter.install(self)
        self._start_hooks = tuple(start_hooks)
        self.downstream = tuple(downstream)
        self._before_shutdown = tuple(before_shutdown)
        self.observers: tuple[SpanObserver, ...] = ()
        self._cpu_at_start: dict[int, float] = {}
        self._queue: deque[tuple[ReadableSpan, float | None]] = deque()
        # One-span traces analysed in the current pass of the worker, sent together at its end.
        self._outbox: list[ReadableSpan] = []
        self._held: OrderedDict[int, _HeldTrace] = OrderedDict()
        self._finished: set[int] = set()
        self._finished_order: deque[int] = deque()
        self._skip: OrderedDict[int, None] = OrderedDict()
        self._process_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = False
        self.overflow = Overflow()
        self._worker: threading.Thread | None = None
        self._start_worker()
        if hasattr(os, "register_at_fork"):
            ref = weakref.WeakMethod(self._after_fork_in_child)

            def after_fork_in_child() -> None:
                method = ref()
                if method is not None:
                    method()

            os.register_at_fork(after_in_child=after_fork_in_child)
        self._exit_hook_armed = _flush_at_multiprocessing_exit(self)

    @property
    def downstream(self) -> tuple[SpanProcessor, ...]:
        """The processors finished spans go to, in order (the app's and our exporters)."""
        return self._downstream

    @downstream.setter
    def downstream(self, processors: Sequence[SpanProcessor]) -> None:
        processors = tuple(processors)
        # Which of them do something at a span's start and end, decided here once rather than
        # per span: the SDK's batch and simple processors' ``on_start`` / ``_on_ending`` do
        # nothing, and calling them cost a Python call each per span on the app's thread.
        self._starting = tuple(p for p in processors if not _does_nothing(p, "on_start"))
        self._ending = tuple(
            p
            for p in processors
            if getattr(p, "_on_ending", None) is not None and not _does_nothing(p, "_on_ending")
        )
        self._downstream = processors
        # Whether anything at a span's start may read its attributes (see ``wrappers._start``):
        # one of these processors' on_start, or a start hook, unless the hook says which
        # context keys it needs (``context_keys``: it returns at once without them) and the
        # parent context holds none of those (``start_context_keys``, checked per span).
        keys: list[object] = []
        for hook in self._start_hooks:
            needs = getattr(hook, "context_keys", None)
            if type(needs) is not tuple:
                keys = [None]  # a hook that may always look
                break
            keys.extend(needs)
        self.sees_start_attributes = bool(self._starting) or None in keys
        self.start_context_keys = tuple(keys)

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
        for processor in self._starting:
            processor.on_start(span, parent_context=parent_context)

    def _on_ending(self, span: Span) -> None:
        for processor in self._ending:
            on_ending = getattr(processor, "_on_ending", None)
            if on_ending is not None:
                on_ending(span)

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        started = self._cpu_at_start.pop(context.span_id, None) if context is not None else None
        cpu = time.process_time() - started if started is not None else None
        queue = self._queue
        if self._stopped:
            return  # shut down: as the SDK's batch processor, take no more
        if len(queue) >= MAX_QUEUED:
            self.overflow.queue_full += 1  # the worker is stuck: drop, counted, never block
            return
        queue.append((span, cpu))
        # The worker runs on its tick and takes whatever ended meanwhile; waking it at every
        # trace root made it contend with the app for the GIL once per trace.
        if len(queue) >= _WAKE_AT_QUEUED:
            self._wake.set()

    # -- fork ------------------------------------------------------------------------------------
    def _after_fork_in_child(self) -> None:
        """A forked child starts empty: the parent's held and queued spans are the parent's to
        export (it still will), and a lock held mid-operation at the fork is never released."""
        self._queue = deque()
        self._outbox = []
        self._held = OrderedDict()
        self._held_count = 0
        self._finished = set()
        self._finished_order = deque()
        self._skip = OrderedDict()
        self._cpu_at_start = {}
        if not self._stopped:
            self._start_worker()
        if self._exit_hook_armed:
            _rearm_after_fork(self)  # a plain os.fork child, which keeps its finalizers
        else:
            self._exit_hook_armed = _flush_at_multiprocessing_exit(self)

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
            # What is there now, not until empty: threads that keep ending spans must not keep
            # the worker (or a shutdown) in this loop forever.
            try:
                for _ in range(len(queue)):
                    span, cpu = queue.popleft()
                    self._accept(span, cpu)
            finally:
                self._send_outbox()
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
        if trace_id in self._skip:
            self._forward(span, cpu)
            return
        parent = span.parent
        if parent is not None and not parent.is_remote and parent.span_id in self._finished:
            self._forward_late(trace_id, span, cpu)
            return
        held = self._held.get(trace_id)
        if held is None:
            if is_local_root(span):
                # The whole local trace is this one span (a standalone LLM call): nothing to
                # hold, group or split.
                self._analyse_lone(span, cpu, context.span_id)
                return
            held = self._held[trace_id] = _HeldTrace(time.monotonic())
            if len(self._held) > self._max_traces:
                oldest = next(iter(self._held))
                self.overflow.traces_held += len(self._held[oldest].spans)
                self._warn_overflow("traces_held")
                self._release(oldest, skip=True)
        held.spans.append((span, cpu))
        self._held_count += 1
        if self._held_count > self._max_held:
            self._release_oldest_over_cap(trace_id)
            if trace_id not in self._held:
                return
        if len(held.spans) > self._max_spans:
            self.overflow.spans_per_trace += len(held.spans)
            self._warn_overflow("spans_per_trace")
            self._release(trace_id, skip=True)
            return
        if is_local_root(span):
            self._complete(trace_id, span)

    def _release_oldest_over_cap(self, newest: int) -> None:
        """Over ``max_spans_held`` (all traces together): release the oldest traces, unanalysed,
        until the held spans are back under the cap; the newest goes last."""
        while self._held_count > self._max_held and self._held:
            oldest = next(iter(self._held))
            if oldest == newest and len(self._held) > 1:
                self._held.move_to_end(oldest)
                continue
            self.overflow.spans_held += len(self._held[oldest].spans)
            self._warn_overflow("spans_held")
            self._release(oldest, skip=True)

    def _complete(self, trace_id: int, root: ReadableSpan) -> None:
        held = self._held.get(trace_id)
        assert held is not None
        assert root.context is not None
        subtree, rest = _split_subtree(held.spans, root.context.span_id)
        self._held_count -= len(subtree)
        self._analyse(subtree, root.context.span_id)
        # Another local root of the same trace (a second request of one distributed trace in
        # this process) is analysed on its own when it ends.
        if rest:
            held.spans = rest
        else:
            del self._held[trace_id]

    def _analyse(self, subtree: list[tuple[ReadableSpan, float | None]], root_id: int) -> None:
        """Enrich, analyse, rebuild and forward one local trace, and remember its spans."""
        enriched = [self._enriched_attributes(span, cpu) for span, cpu in subtree]
        self._annotate(enriched, root_id)

    def _annotate(self, enriched: list[tuple[ReadableSpan, Extra, bool]], root_id: int) -> None:
        annotations: Mapping[int, tuple[Extra, Sequence[EventSpec]]] = {}
        try:
            assert self._annotator is not None
            annotations = self._annotator([(span, attrs) for span, attrs, _ in enriched], root_id)
        except Exception as exc:
            report_internal_error("trace analysis", exc)
        finished = []
        for span, attributes, added in enriched:
            context = span.context
            found = annotations.get(context.span_id) if context is not None else None
            if found:
                attributes.update(found[0])
                finished.append(rebuild(span, attributes, found[1]))
            else:
                finished.append(rebuild(span, attributes) if added else span)
        self._deliver(finished)
        self._remember_finished([span.context.span_id for span, _, _ in enriched if span.context])

    def _analyse_lone(self, span: ReadableSpan, cpu: float | None, span_id: int) -> None:
        """:meth:`_analyse` for a local trace of one span (a standalone call): the annotator's
        shortcut answers from the LLM call enrichment read, so the span is read once."""
        lone = self._lone
        if lone is None:
            self._analyse([(span, cpu)], span_id)
            return
        attributes = plain_attributes(span)
        added: Extra = {}
        try:
            call = self._enricher.enrich(
                attributes, added, span.start_time or 0, span.end_time or 0, cpu
            )
        except Exception as exc:
            report_internal_error("span enrichment", exc)
            # As _enriched_attributes: the span's own attributes, analysed the general way.
            self._annotate([(span, attributes, False)], span_id)
            return
        attributes.update(added)
        try:
            found = lone(span, attributes, call)
        except Exception as exc:
            report_internal_error("trace analysis", exc)
            found = None
        if found is None:  # the shortcut steps aside: the general path answers
            self._annotate([(span, attributes, bool(added))], span_id)
            return
        attributes.update(found)
        # Sent with the pass's other one-span traces (see _send_outbox); remembered at once, so
        # a child ending after it is known as late.
        self._outbox.append(rebuild(span, attributes))
        self._remember_one(span_id)

    def _send_outbox(self) -> None:
        """Hand on the one-span traces finished in this pass: in one batch, as a trace's spans
        go, instead of one hand-off (and one pacing check) each."""
        outbox = self._outbox
        if outbox:
            self._outbox = []
            self._deliver(outbox)

    def _forward_late(self, trace_id: int, span: ReadableSpan, cpu: float | None) -> None:
        """A span whose tree was analysed already, with whatever of its own subtree was held
        meanwhile (its children end before it): forwarded unannotated, counted ``late``."""
        assert span.context is not None
        late = [(span, cpu)]
        held = self._held.get(trace_id)
        if held is not None:
            inside, rest = _split_subtree(held.spans, span.context.span_id, partial=True)
            if inside:
                late.extend(inside)
                self._held_count -= len(inside)
                if rest:
                    held.spans = rest
                else:
                    del self._held[trace_id]
        self.overflow.late += len(late)
        self._remember_finished([item.context.span_id for item, _ in late if item.context])
        for item, item_cpu in late:
            self._forward(item, item_cpu)

    def _remember_one(self, span_id: int) -> None:
        finished, order = self._finished, self._finished_order
        if span_id not in finished:
            finished.add(span_id)
            order.append(span_id)
            if len(order) > _FINISHED_SPANS_REMEMBERED:
                finished.discard(order.popleft())

    def _remember_finished(self, span_ids: list[int]) -> None:
        finished, order = self._finished, self._finished_order
        if finished.isdisjoint(span_ids):
            # The usual case, a trace's spans seen for the first time: set and deque updated at
            # C speed, each id once in its first place.
            known = len(finished)
            finished.update(span_ids)
            order.extend(
                span_ids if len(finished) - known == len(span_ids) else dict.fromkeys(span_ids)
            )
        else:
            for span_id in span_ids:
                self._remember_one(span_id)
        while len(order) > _FINISHED_SPANS_REMEMBERED:
            finished.discard(order.popleft())

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
            self._held_count -= len(held.spans)
            for span, cpu in held.spans:
                self._forward(span, cpu)

    @staticmethod
    def _remember(seen: OrderedDict[int, None], trace_id: int) -> None:
        seen[trace_id] = None
        if len(seen) > _DONE_TRACES_REMEMBERED:
            seen.popitem(last=False)

    def _enriched_attributes(
        self, span: ReadableSpan, cpu: float | None
    ) -> tuple[ReadableSpan, Extra, bool]:
        """The span, a copy of its attributes with enrichment's added, and whether any were
        (one copy per span, read by the analysis and then handed to the rebuilt span)."""
        attributes = plain_attributes(span)
        try:
            added = self._enricher.attributes_for(
                attributes, span.start_time or 0, span.end_time or 0, cpu
            )
        except Exception as exc:
            report_internal_error("span enrichment", exc)
            return span, attributes, False
        attributes.update(added)
        return span, attributes, bool(added)

    def _forward(self, span: ReadableSpan, cpu: float | None) -> None:
        _, attributes, added = self._enriched_attributes(span, cpu)
        finished = [rebuild(span, attributes) if added else span]
        self._deliver(finished)

    def _deliver(self, spans: Sequence[ReadableSpan]) -> None:
        """Hand finished spans to export, then to the observers (the metrics)."""
        self._send(spans)
        self._observe(spans)

    def _observe(self, spans: Sequence[ReadableSpan]) -> None:
        for observer in self.observers:
            try:
                observer(spans)
            except Exception as exc:
                report_internal_error("span observer (metrics)", exc)

    def _send(self, spans: Sequence[ReadableSpan]) -> None:
        for processor in self.downstream:
            batch = getattr(processor, "_batch_processor", None)
            rest = spans
            # In bulk for a trace; one span (a standalone call) costs less through on_end.
            if batch is not None and len(spans) > 1 and type(processor) is BatchSpanProcessor:
                rest = self._enqueue(batch, spans)
            for span in rest:
                if batch is not None:
                    self._pace(batch)
                try:
                    processor.on_end(span)
                except Exception as exc:
                    report_internal_error(f"{type(processor).__name__}.on_end", exc)

    def _enqueue(self, batch: Any, spans: Sequence[ReadableSpan]) -> Sequence[ReadableSpan]:
        """Put ``spans`` on the SDK batch processor's queue in bulk, as its ``on_end`` would
        one by one (sampled spans only, newest on the left, its worker woken at a full batch),
        paced as :meth:`_pace` paces: while the queue is full, wait for it to drain. Returns
        what is left for the processor's own ``on_end``: everything when the processor is not
        in the state this expects, the rest once the backend is taken for stuck (then its
        ``on_end`` drops them, counted)."""
        queue = getattr(batch, "_queue", None)
        limit = getattr(batch, "_max_queue_size", None)
        threshold = getattr(batch, "_max_export_batch_size", None)
        awaken = getattr(batch, "_worker_awaken", None)
        if (
            type(queue) is not deque
            or not isinstance(limit, int)
            or not isinstance(threshold, int)
            or awaken is None
            or getattr(batch, "_shutdown", True)
            or getattr(batch, "_pid", None) != os.getpid()
        ):
            return spans
        sampled = [span for span in spans if span.context and span.context.trace_flags.sampled]
        done = 0
        while done < len(sampled):
            room = limit - len(queue)
            if room <= 0:
                self._pace(batch)
                if self._stalled:
                    return sampled[done:]
                continue
            self._stalled = False
            # One C call: the queue's worker only takes from the other end meanwhile.
            queue.extendleft(sampled[done : done + room])
            done += room
            if len(queue) >= threshold and not awaken.is_set():
                awaken.set()
        return ()

    def _pace(self, batch: object) -> None:
        """Feed an SDK batch processor no faster than it exports: while its queue is full, wake
        its worker and wait (this is the worker thread, never the app's) as long as the queue
        keeps draining. A queue that has not moved for :data:`_PACE_WAIT_S` is a stuck backend:
        then, until it moves again, spans go to it at once and the ones it drops are counted
        (:class:`_QueueFullCounter`)."""
        queue = getattr(batch, "_queue", None)
        limit = getattr(batch, "_max_queue_size", None)
        if queue is None or not isinstance(limit, int) or len(queue) < limit:
            self._stalled = False
            return
        if self._stalled:
            return
        awaken = getattr(batch, "_worker_awaken", None)
        last_length, last_progress = len(queue), time.monotonic()
        while len(queue) >= limit:
            if awaken is not None:
                awaken.set()
            time.sleep(0.001)
            length = len(queue)
            now = time.monotonic()
            if length < last_length:
                last_length, last_progress = length, now
            elif now - last_progress > _PACE_WAIT_S:
                self._stalled = True
                return

    def _warn_overflow(self, reason: str) -> None:
        from agentspans._errors import warn_once

        warn_once(
            f"overflow:{reason}",
            "agentspans: some spans were exported without trace analysis (%s limit reached); "
            "they are counted in TraceProcessor.overflow and the agentspans.spans.unanalysed "
            "metric; see the analysis_hold_s / max_spans_per_trace / max_traces_held / "
            "max_spans_held options",
            reason,
        )

    # -- lifecycle -------------------------------------------------------------------------------
    def flush_held(self) -> None:
        """Analyse and hand on every span held so far (observers included), without waiting for
        the exporters: at interpreter exit the metrics need the spans, and the exporters' own
        shutdown, which gives up at once on a backend known to be down, sends them."""
        try:
            self._process(flush_all=True)
        except Exception as exc:
            report_internal_error("trace processor flush", exc)

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
        _QueueFullCounter.remove(self)
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


class _QueueFullCounter(logging.Filter):
    """Counts the spans the SDK's batch processors drop on a full queue (each drop logs one
    "Queue full" warning on the SDK's logger) into the current processor's overflow, and keeps
    those per-span warnings out of the app's log: our one warning says it instead."""

    LOGGER = "opentelemetry.sdk._shared_internal"
    _installed: _QueueFullCounter | None = None

    def __init__(self, processor: TraceProcessor) -> None:
        super().__init__()
        self.processor = weakref.ref(processor)

    def filter(self, record: logging.LogRecord) -> bool:
        if (
            not str(record.msg).startswith("Queue full")
            or "span" not in record.getMessage().lower()
        ):
            return True
        processor = self.processor()
        if processor is None:
            return True
        processor.overflow.export_queue += 1
        from agentspans._errors import warn_once

        warn_once(
            "overflow:export_queue",
            "agentspans: the export queue is full (the backend is slower than spans arrive, or "
            "stuck); spans are dropped and counted in TraceProcessor.overflow and the "
            "agentspans.spans.dropped metric (OTEL_BSP_MAX_QUEUE_SIZE sets the queue's size)",
        )
        return False

    @classmethod
    def install(cls, processor: TraceProcessor) -> None:
        target = logging.getLogger(cls.LOGGER)
        if cls._installed is not None:
            target.removeFilter(cls._installed)
        cls._installed = cls(processor)
        # First in line: the SDK's own DuplicateFilter would hide all but the first drop.
        target.filters.insert(0, cls._installed)

    @classmethod
    def remove(cls, processor: TraceProcessor) -> None:
        installed = cls._installed
        if installed is not None and installed.processor() is processor:
            logging.getLogger(cls.LOGGER).removeFilter(installed)
            cls._installed = None


def _split_subtree(
    spans: list[tuple[ReadableSpan, float | None]], root_id: int, *, partial: bool = False
) -> tuple[list[tuple[ReadableSpan, float | None]], list[tuple[ReadableSpan, float | None]]]:
    """The spans under ``root_id`` (by parent links) and the others, each in arrival order.
    ``partial``: ``root_id`` itself is not among ``spans``."""
    if not partial and _all_under_one_root(spans, root_id):
        return spans, []
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
    if not partial and len(inside) >= len(spans):
        return spans, []
    subtree = [
        item for item in spans if item[0].context is not None and item[0].context.span_id in inside
    ]
    rest = [
        item for item in spans if item[0].context is None or item[0].context.span_id not in inside
    ]
    return subtree, rest


def _all_under_one_root(spans: list[tuple[ReadableSpan, float | None]], root_id: int) -> bool:
    """Whether every span is under ``root_id``, checked without walking the tree: when each
    span but the root has its (local) parent among them, each one's parent chain stays among
    them and can only end at the root (the one whose parent is not), so they are all its
    subtree. The usual case: a trace whose spans all ended by the time its root did."""
    ids = {span.context.span_id for span, _ in spans if span.context is not None}
    if len(ids) != len(spans) or root_id not in ids:
        return False
    for span, _ in spans:
        parent = span.parent
        # Local parent links only: a local parent started before its child, so with unique ids
        # they cannot loop (a remote parent's id could name a span here, even the span itself).
        top = parent is None or parent.is_remote or parent.span_id not in ids
        if top != (span.context.span_id == root_id):
            return False  # another span at the top of a tree, or a root with a parent here
    return True


def _flush_at_multiprocessing_exit(processor: TraceProcessor) -> bool:
    """Export a multiprocessing child's spans when it ends.

    A multiprocessing child (fork or spawn) leaves through ``os._exit`` after running
    ``multiprocessing.util``'s finalizers, so the SDK's ``atexit`` shutdown never runs there.
    A finalizer registered now covers a child that instruments itself (spawn); one registered
    after the child's bootstrap (``register_after_fork``) covers a forked child, whose
    finalizers the bootstrap clears first.
    """
    import sys

    util = sys.modules.get("multiprocessing.util")
    if util is None:
        return False
    try:
        util.Finalize(processor, _exit_flush, args=(weakref.ref(processor),), exitpriority=10)
        util.register_after_fork(processor, _rearm_after_fork)
    except Exception as exc:
        report_internal_error("multiprocessing exit hook", exc)
        return False
    return True


def _rearm_after_fork(processor: TraceProcessor) -> None:
    import sys

    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        util.Finalize(processor, _exit_flush, args=(weakref.ref(processor),), exitpriority=10)


def _exit_flush(ref: weakref.ReferenceType[TraceProcessor]) -> None:
    processor = ref()
    if processor is not None and not processor._stopped:
        processor.shutdown()
