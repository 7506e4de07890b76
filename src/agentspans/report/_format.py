"""Numbers as a person reads them in a narrow column."""

from __future__ import annotations

import math

__all__ = ["bytes_text", "cost_text", "count_text", "ms_text"]


def ms_text(ms: float) -> str:
    """``0.42 ms``, ``12.3 ms``, ``1,234 ms``, ``12.3 s``, ``4.5 min``: at most 9 characters."""
    if not math.isfinite(ms):
        return "?"
    if ms < 1:
        return f"{ms:.2f} ms"
    if ms < 100:
        return f"{ms:.1f} ms"
    if ms < 10_000:
        return f"{ms:,.0f} ms"
    if ms < 600_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms / 60_000:,.1f} min"


def cost_text(usd: float) -> str:
    if usd == 0:
        return "$0"
    if usd < 0.0001:
        return "<$0.0001"
    if usd < 1:
        return f"${usd:.4f}"
    return f"${usd:,.2f}"


def count_text(value: int) -> str:
    return f"{value:,}"


def bytes_text(value: int | None) -> str:
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover - the loop always returns
