"""The in-process annotator: a local trace's spans in, the analysis written onto them out.

:class:`~agentspans.processors.pipeline.TraceProcessor` calls it on its worker thread when a
local root ends, with each span and the attributes enrichment added to it. What it returns is
merged into the rebuilt spans (docs/analysis.md, "What the annotator writes"):

- every span on the critical path: its own time on the path, and ``on_path``;
- the root: duration, the path's composition, coordination overhead, totals, findings;
- the root and every agent span: the rollups of their subtree;
- every span a finding concerns: the finding as an event and its kind as an attribute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.util.types import AttributeValue

from agentspans import semconv
from agentspans.analysis import Finding, Rollup, Thresholds, TraceAnalysis, analyze
from agentspans.llm_span import LlmCall
from agentspans.processors.lone import lone_annotations, lone_annotations_of
from agentspans.processors.pipeline import EventSpec, Extra
from agentspans.processors.readable import readable_root
from agentspans.readable import composition_entry
from agentspans.sources.live import records_from_spans

# Jaeger and most backends cap attribute sizes; the longest stretches tell the story.
_COMPOSITION_ENTRIES = 50
_PROBLEM_LINES = 20

Annotations = dict[int, tuple[Extra, list[EventSpec]]]


class TraceAnnotator:
    """The annotator of :func:`make_annotator`: a local trace's spans in, annotations out."""

    __slots__ = ("thresholds",)

    def __init__(self, thresholds: Thresholds) -> None:
        self.thresholds = thresholds

    def __call__(
        self, spans: Sequence[tuple[ReadableSpan, Extra]], root_id: int
    ) -> Mapping[int, tuple[Extra, Sequence[EventSpec]]]:
        if len(spans) == 1:  # a trace of one span (a standalone call): see lone.py
            span, attributes = spans[0]
            alone = lone_annotations(span, attributes, self.thresholds)
            if alone is not None:
                return {root_id: (alone, [])}
        return self.general(spans)

    def lone(self, span: ReadableSpan, attributes: Extra, call: LlmCall | None) -> Extra | None:
        """A one-span trace's annotations by the shortcut, with its LLM call already read;
        None when the general path must answer (:meth:`__call__` with the one span)."""
        return lone_annotations_of(span, attributes, call, self.thresholds)

    def general(
        self, spans: Sequence[tuple[ReadableSpan, Extra]]
    ) -> Mapping[int, tuple[Extra, Sequence[EventSpec]]]:
        records = records_from_spans(spans)
        out: Annotations = {}
        for analysis in analyze(records, self.thresholds):
            write_analysis(analysis, out)
        return out


def make_annotator(thresholds_mapping: Mapping[str, Any] | None) -> TraceAnnotator:
    """An annotator with these thresholds (checked here, so a bad one fails at setup)."""
    return TraceAnnotator(Thresholds.from_mapping(thresholds_mapping or {}))


# The most span ids one finding event lists; ``agentspans.finding.span_count`` gives the total.
MAX_EVENT_SPAN_IDS = 32


def write_analysis(analysis: TraceAnalysis, out: Annotations) -> None:
    """Add the attributes and events for one analysis to ``out`` (keyed by int span id)."""

    def entry(span_id: str) -> tuple[Extra, list[EventSpec]]:
        key = int(span_id, 16)
        found = out.get(key)
        if found is None:
            found = out[key] = ({}, [])
        return found

    for span_id, self_ms in analysis.path_self_ms.items():
        attrs = entry(span_id)[0]
        attrs[semconv.CRITICAL_PATH_SELF_MS] = round(self_ms, 6)
        attrs[semconv.CRITICAL_PATH_ON_PATH] = True
    for span_id, rollup in analysis.rollups.items():
        entry(span_id)[0].update(rollup_attributes(rollup))
    entry(analysis.root_span_id)[0].update(root_attributes(analysis))
    kinds: dict[str, list[str]] = {}
    finding_events: list[tuple[Finding, dict[str, AttributeValue]]] = []
    for finding in analysis.findings:
        event: dict[str, AttributeValue] = {
            semconv.FINDING_EVENT_KIND: finding.kind,
            semconv.FINDING_EVENT_SEVERITY: finding.severity,
            semconv.FINDING_EVENT_SAVINGS_MS: round(finding.estimated_savings_ms, 6),
            semconv.FINDING_EVENT_MESSAGE: finding.message,
            # Every span a finding concerns carries its event, so a full id list on each would
            # grow with the square of the spans (10,000 sequential calls: 10^8 ids to encode).
            semconv.FINDING_EVENT_SPAN_IDS: list(finding.span_ids[:MAX_EVENT_SPAN_IDS]),
            semconv.FINDING_EVENT_SPAN_COUNT: len(finding.span_ids),
        }
        evidence = finding.details.get("evidence")
        if isinstance(evidence, str):
            event[semconv.FINDING_EVENT_EVIDENCE] = evidence
        finding_events.append((finding, event))
        for span_id in dict.fromkeys(finding.span_ids):
            entry(span_id)[1].append((semconv.FINDING_EVENT, event))
            span_kinds = kinds.setdefault(span_id, [])
            if finding.kind not in span_kinds:
                span_kinds.append(finding.kind)
    # A string, not a list: Jaeger's tag search matches whole string values, so a span with
    # one kind of finding is found by `agentspans.finding.kind=<kind>`.
    for span_id, span_kinds in kinds.items():
        entry(span_id)[0][semconv.FINDING_KIND] = ",".join(span_kinds)
    # What a person reads in Jaeger: a summary line, the path in order, every finding on the root.
    readable_attrs, root_events = readable_root(analysis, finding_events)
    root_attrs, root_event_list = entry(analysis.root_span_id)
    root_attrs.update(readable_attrs)
    root_event_list.extend(root_events)


def rollup_attributes(rollup: Rollup) -> Extra:
    attrs: Extra = {
        semconv.ROLLUP_INPUT_TOKENS: rollup.input_tokens,
        semconv.ROLLUP_OUTPUT_TOKENS: rollup.output_tokens,
        semconv.ROLLUP_LLM_CALLS: rollup.llm_calls,
        semconv.ROLLUP_TOOL_CALLS: rollup.tool_calls,
    }
    # A cost or a VRAM peak nobody measured is absent, not zero.
    if rollup.priced_calls:
        attrs[semconv.ROLLUP_COST_USD] = round(rollup.cost_usd, 10)
        attrs[semconv.ROLLUP_PRICED_CALLS] = rollup.priced_calls
    if rollup.vram_peak_bytes is not None:
        attrs[semconv.ROLLUP_VRAM_PEAK_BYTES] = rollup.vram_peak_bytes
    return attrs


def composition(analysis: TraceAnalysis) -> str:
    """The path's make-up as JSON: ``[{"span_id", "name", "ms", "share"}]``, largest first.

    Written entry by entry (``readable.composition_entry``): the same text as ``json.dumps`` of
    the list of dicts with compact separators (tests/analysis hold it equal), without building
    the dicts and the encoder per trace."""
    names = {segment.span_id: segment.name for segment in analysis.critical_path}
    ranked = sorted(analysis.path_self_ms.items(), key=lambda item: (-item[1], item[0]))
    duration = analysis.duration_ms
    entries = [
        composition_entry(span_id, names.get(span_id, ""), ms, duration)
        for span_id, ms in ranked[:_COMPOSITION_ENTRIES]
    ]
    return f"[{','.join(entries)}]"


def root_attributes(analysis: TraceAnalysis) -> Extra:
    totals = analysis.totals
    duration = analysis.duration_ms
    attrs: Extra = {
        semconv.TRACE_DURATION_MS: round(duration, 6),
        semconv.CRITICAL_PATH_COMPOSITION: composition(analysis),
        semconv.COORDINATION_OVERHEAD_MS: round(analysis.coordination_overhead_ms, 6),
        semconv.TRACE_TOTAL_INPUT_TOKENS: totals.input_tokens,
        semconv.TRACE_TOTAL_OUTPUT_TOKENS: totals.output_tokens,
        semconv.TRACE_TOTAL_LLM_CALLS: totals.llm_calls,
        semconv.TRACE_TOTAL_TOOL_CALLS: totals.tool_calls,
        semconv.TRACE_FINDINGS_COUNT: len(analysis.findings),
        semconv.TRACE_ESTIMATED_SAVINGS_MS: round(
            sum(f.estimated_savings_ms for f in analysis.findings), 6
        ),
    }
    if duration > 0:
        attrs[semconv.COORDINATION_OVERHEAD_SHARE] = round(
            analysis.coordination_overhead_ms / duration, 6
        )
    if totals.priced_calls:
        attrs[semconv.TRACE_TOTAL_COST_USD] = round(totals.cost_usd, 10)
    if analysis.findings:
        attrs[semconv.TRACE_FINDING_KINDS] = list(dict.fromkeys(f.kind for f in analysis.findings))
    if analysis.problems:
        attrs[semconv.ANALYSIS_PROBLEMS] = list(analysis.problems[:_PROBLEM_LINES])
    return attrs
