"""What can only be known once a span has ended: cost, context-window share, output speed and
resource peaks.

Pure computation over a finished span's attributes and times; runs on the processor's worker
thread, never on the application's. It reads LLM spans through :mod:`agentspans.llm_span`, the
reader the analysis, metrics and report use too, so spans from other instrumentations are priced
exactly when they are counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from opentelemetry.util.types import AttributeValue

from agentspans import semconv
from agentspans._errors import warn_once, warn_once_per
from agentspans.llm_span import LlmCall, count, read_llm_call
from agentspans.pricing import SOURCE_UNKNOWN, PriceTable, Quote, default_table, quote_found
from agentspans.resources import Peaks, ResourceSampler

if TYPE_CHECKING:  # the analysis package is imported by the worker, when it first analyses
    from agentspans.analysis.model import SpanRecord

# Below this the CPU clock's granularity and other threads' work make a share meaningless.
_MIN_UTILIZATION_WINDOW_S = 0.01


class Enricher:
    __slots__ = ("_last_resources", "_prices", "_sampler")

    def __init__(self, prices: PriceTable, sampler: ResourceSampler | None) -> None:
        self._prices = prices
        self._sampler = sampler
        # The resource attributes of the last window: spans that end between the same two
        # samples (the sampler reuses its Peaks for them) share one computation.
        self._last_resources: tuple[Peaks | None, dict[str, AttributeValue]] = (None, {})

    @property
    def sampler(self) -> ResourceSampler | None:
        return self._sampler

    def attributes_for(
        self, attributes: Mapping[str, Any], start_ns: int, end_ns: int, cpu_s: float | None
    ) -> dict[str, AttributeValue]:
        out: dict[str, AttributeValue] = {}
        self.enrich(attributes, out, start_ns, end_ns, cpu_s)
        return out

    def enrich(
        self,
        attributes: Mapping[str, Any],
        out: dict[str, AttributeValue],
        start_ns: int,
        end_ns: int,
        cpu_s: float | None,
    ) -> LlmCall | None:
        """Add to ``out`` what enrichment knows of a span with these ``attributes``; returns the
        span's LLM call as :func:`read_llm_call` reads it with ``out`` merged in (None when it
        is no LLM call), so a caller need not read the span a second time."""
        duration_s = (end_ns - start_ns) / 1e9
        if cpu_s is not None and cpu_s >= 0:
            out[semconv.CPU_TIME_S] = round(cpu_s, 6)
            if duration_s >= _MIN_UTILIZATION_WINDOW_S:
                out[semconv.CPU_UTILIZATION] = round(cpu_s / duration_s, 4)
        call = read_llm_call(attributes)
        if call is not None:
            self._llm(call, attributes, duration_s, out)
            # Enrichment writes no name the reader takes, but the cost.
            cost = out.get(semconv.COST_USD)
            if type(cost) is float:
                call = call.with_cost(cost)
        sampler = self._sampler
        if sampler is not None:
            peaks = sampler.peaks(start_ns, end_ns)
            if peaks is not None:
                last, resources = self._last_resources
                if peaks is not last:
                    resources = {}
                    _resources(peaks, resources)
                    self._last_resources = (peaks, resources)
                out.update(resources)
        return call

    def _llm(
        self,
        call: LlmCall,
        attributes: Mapping[str, Any],
        duration_s: float,
        out: dict[str, AttributeValue],
    ) -> None:
        model = call.model
        if model is not None:
            window = attributes.get(semconv.REQUEST_CONTEXT_WINDOW)
            if window is not None:
                window = count(window)
            priced = semconv.COST_USD in attributes or not call.has_usage
            # One look-up serves the context window and the price.
            found = (
                self._prices.lookup(model, call.provider) if window is None or not priced else None
            )
            if window is None and found is not None:
                window = found[1].context_window
                if window is not None:
                    out[semconv.REQUEST_CONTEXT_WINDOW] = window
            if window and call.input_tokens is not None:
                out[semconv.CONTEXT_WINDOW_SHARE] = round(call.input_tokens / window, 4)
            if not priced:
                self._cost(quote_found(found, call.usage(), call.provider), call, attributes, out)
        elif semconv.COST_USD not in attributes and call.has_usage:
            # Tokens but no model name: the price cannot be known either.
            out[semconv.PRICE_SOURCE] = SOURCE_UNKNOWN
            out[semconv.COST_UNKNOWN] = True
            warn_once(
                "price-unknown:no-model",
                "agentspans: an LLM span with token counts but no gen_ai.request.model or "
                "gen_ai.response.model gets no cost (span %r)",
                attributes.get(semconv.GEN_AI_OPERATION_NAME),
            )
        ttft = attributes.get(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
        if (
            ttft is not None
            and call.output_tokens
            and semconv.OUTPUT_TOKENS_PER_SECOND not in attributes
            and isinstance(ttft, (int, float))
            and duration_s - ttft > 0
        ):
            out[semconv.OUTPUT_TOKENS_PER_SECOND] = round(
                call.output_tokens / (duration_s - ttft), 2
            )

    @staticmethod
    def _cost(
        quote: Quote, call: LlmCall, attributes: Mapping[str, Any], out: dict[str, AttributeValue]
    ) -> None:
        out[semconv.PRICE_SOURCE] = quote.source
        if quote.usd is None:
            if quote.source == SOURCE_UNKNOWN:
                out[semconv.COST_UNKNOWN] = True
                warn_once_per(
                    "price-unknown",
                    str(call.model).lower(),
                    "agentspans: no price for model %r; its calls get no cost "
                    "(add it with instrument(prices={%r: {'input': ..., 'output': ...}}) "
                    "or AGENTSPANS_PRICES_FILE, in USD per million tokens)",
                    call.model,
                    call.model,
                )
            return
        out[semconv.COST_USD] = round(quote.usd, 10)
        if quote.matched is not None:
            out[semconv.PRICE_MODEL] = quote.matched
        if attributes.get(semconv.USAGE_ESTIMATED) is True:
            out[semconv.COST_ESTIMATED] = True


def _resources(peaks: Peaks, out: dict[str, AttributeValue]) -> None:
    """The resource attributes of one span's window; a value nobody measured is left out."""
    if peaks.rss_peak_bytes is not None:
        out[semconv.MEMORY_RSS_PEAK_BYTES] = peaks.rss_peak_bytes
    if peaks.rss_delta_bytes is not None:
        out[semconv.MEMORY_RSS_DELTA_BYTES] = peaks.rss_delta_bytes
    values: dict[str, AttributeValue | None] = {}
    gpu = peaks.gpu
    if gpu is not None:
        values |= {
            semconv.GPU_DEVICE: gpu.device,
            semconv.VRAM_PEAK_BYTES: gpu.peak_bytes,
            semconv.VRAM_DELTA_BYTES: gpu.delta_bytes,
            semconv.VRAM_TOTAL_BYTES: gpu.total_bytes or None,
            semconv.VRAM_UTILIZATION_PEAK: round(gpu.peak_bytes / gpu.total_bytes, 4)
            if gpu.total_bytes
            else None,
            # Per device only where there is more than one: otherwise it repeats the peak.
            semconv.VRAM_PEAK_BYTES_PER_DEVICE: list(gpu.peak_bytes_per_device)
            if len(gpu.peak_bytes_per_device) > 1
            else None,
            semconv.VRAM_PROCESS_PEAK_BYTES: gpu.process_peak_bytes,
            semconv.VRAM_PROCESS_DELTA_BYTES: gpu.process_delta_bytes,
            semconv.GPU_UTILIZATION_PEAK: gpu.utilization_peak,
            semconv.GPU_UTILIZATION_MEAN: gpu.utilization_mean,
        }
    torch = peaks.torch
    if torch is not None:
        values |= {
            semconv.TORCH_ALLOCATED_PEAK_BYTES: torch.peak_bytes,
            semconv.TORCH_ALLOCATED_DELTA_BYTES: torch.delta_bytes,
        }
    if values:
        out.update({name: value for name, value in values.items() if value is not None})


def price_records(records: list[SpanRecord], prices: PriceTable | None = None) -> list[SpanRecord]:
    """``records`` with the cost enrichment would have added to each LLM span that has usage and
    no cost yet: spans read from a file written by another instrumentation (or by agentspans
    without its processor) are priced as live ones are. Other records are returned as they are.
    """
    enricher: Enricher | None = None
    out: list[SpanRecord] = []
    for record in records:
        attributes = record.attributes
        call = read_llm_call(attributes)
        if call is None or not call.has_usage or semconv.COST_USD in attributes:
            out.append(record)
            continue
        if enricher is None:
            enricher = Enricher(prices if prices is not None else default_table(), None)
        added = enricher.attributes_for(attributes, record.start_ns, record.end_ns, None)
        out.append(replace(record, attributes={**attributes, **added}) if added else record)
    return out
