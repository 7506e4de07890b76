"""What can only be known once a span has ended: cost, output speed and resource peaks.

Pure computation over a finished span's attributes and times; runs on the processor's worker
thread, never on the application's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.util.types import AttributeValue

from agentspans import semconv
from agentspans.pricing import PriceTable
from agentspans.resources import ResourceSampler

# Below this the CPU clock's granularity and other threads' work make a share meaningless.
_MIN_UTILIZATION_WINDOW_S = 0.01


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


class Enricher:
    __slots__ = ("_prices", "_sampler")

    def __init__(self, prices: PriceTable, sampler: ResourceSampler | None) -> None:
        self._prices = prices
        self._sampler = sampler

    def attributes_for(
        self, attributes: Mapping[str, Any], start_ns: int, end_ns: int, cpu_s: float | None
    ) -> dict[str, AttributeValue]:
        out: dict[str, AttributeValue] = {}
        duration_s = (end_ns - start_ns) / 1e9
        if cpu_s is not None and cpu_s >= 0:
            out[semconv.CPU_TIME_S] = round(cpu_s, 6)
            if duration_s >= _MIN_UTILIZATION_WINDOW_S:
                out[semconv.CPU_UTILIZATION] = round(cpu_s / duration_s, 4)
        if attributes.get(semconv.GEN_AI_OPERATION_NAME) in semconv.LLM_OPERATIONS:
            self._llm(attributes, duration_s, out)
        if self._sampler is not None:
            self._resources(start_ns, end_ns, out)
        return out

    def _llm(
        self, attributes: Mapping[str, Any], duration_s: float, out: dict[str, AttributeValue]
    ) -> None:
        model = attributes.get(semconv.GEN_AI_RESPONSE_MODEL) or attributes.get(
            semconv.GEN_AI_REQUEST_MODEL
        )
        input_tokens = _int(attributes.get(semconv.GEN_AI_USAGE_INPUT_TOKENS))
        output_tokens = _int(attributes.get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS))
        if isinstance(model, str) and model:
            if semconv.REQUEST_CONTEXT_WINDOW not in attributes:
                window = self._prices.context_window(model)
                if window is not None:
                    out[semconv.REQUEST_CONTEXT_WINDOW] = window
            if semconv.COST_USD not in attributes and (
                input_tokens is not None or output_tokens is not None
            ):
                cost = self._prices.cost(
                    model,
                    input_tokens or 0,
                    output_tokens or 0,
                    _int(attributes.get(semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)) or 0,
                    _int(attributes.get(semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS)) or 0,
                    provider=attributes.get(semconv.GEN_AI_PROVIDER_NAME),
                )
                if cost is not None:
                    out[semconv.COST_USD] = round(cost, 10)
                    if attributes.get(semconv.USAGE_ESTIMATED) is True:
                        out[semconv.COST_ESTIMATED] = True
        ttft = attributes.get(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
        if (
            output_tokens
            and semconv.OUTPUT_TOKENS_PER_SECOND not in attributes
            and isinstance(ttft, (int, float))
            and duration_s - ttft > 0
        ):
            out[semconv.OUTPUT_TOKENS_PER_SECOND] = round(output_tokens / (duration_s - ttft), 2)

    def _resources(self, start_ns: int, end_ns: int, out: dict[str, AttributeValue]) -> None:
        assert self._sampler is not None
        peaks = self._sampler.peaks(start_ns, end_ns)
        if peaks is None:
            return
        if peaks.rss_peak_bytes is not None:
            out[semconv.MEMORY_RSS_PEAK_BYTES] = peaks.rss_peak_bytes
        if peaks.rss_delta_bytes is not None:
            out[semconv.MEMORY_RSS_DELTA_BYTES] = peaks.rss_delta_bytes
        if peaks.vram_peak_bytes is not None and peaks.gpu_device is not None:
            out[semconv.GPU_DEVICE] = peaks.gpu_device
            out[semconv.VRAM_PEAK_BYTES] = peaks.vram_peak_bytes
            if peaks.vram_total_bytes:
                out[semconv.VRAM_TOTAL_BYTES] = peaks.vram_total_bytes
                out[semconv.VRAM_UTILIZATION_PEAK] = round(
                    peaks.vram_peak_bytes / peaks.vram_total_bytes, 4
                )
            if peaks.vram_process_peak_bytes is not None:
                out[semconv.VRAM_PROCESS_PEAK_BYTES] = peaks.vram_process_peak_bytes
