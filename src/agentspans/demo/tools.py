"""The demo app's tools: plain functions, as an app would write them.

agentspans instruments them by import path (``tools=["agentspans.demo.tools:*"]``); nothing here
imports agentspans. Latencies are drawn from a seeded generator so every run tells the same story.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time

_rng = random.Random(7)
_rng_lock = threading.Lock()
_speed = 1.0  # benchmarks/workflow.py runs the same story faster


def _latency(low_ms: float, high_ms: float) -> float:
    with _rng_lock:
        return _rng.uniform(low_ms, high_ms) / 1000 / _speed


def reseed(seed: int) -> None:
    with _rng_lock:
        _rng.seed(seed)


def set_speed(factor: float) -> None:
    """Divide every latency by ``factor`` (1: as in the demo)."""
    global _speed
    if factor <= 0:
        raise ValueError("set_speed(factor): must be > 0")
    _speed = factor


def search_web(query: str) -> list[str]:
    """A web search: the slowest tool, called for each independent sub-question."""
    time.sleep(_latency(180, 260))
    return [f"{query} — source {i}" for i in range(3)]


def gather_sources(questions: list[str]) -> list[str]:
    """Search the web for each question — one after another, though none needs another's
    answer (the demo's planted sequential searches)."""
    sources: list[str] = []
    for question in questions:
        sources.extend(search_web(question))
    return sources


def fetch_dataset(name: str) -> list[dict[str, float]]:
    time.sleep(_latency(120, 180))
    return [{"quarter": q, "revenue": 10.0 + q * 1.5} for q in range(1, 5)]


async def query_warehouse(sql: str) -> list[tuple[int, float]]:
    await asyncio.sleep(_latency(150, 220))
    return [(q, 10.0 + q * 1.5) for q in range(1, 5)]


def compute_stats(rows: list[dict[str, float]]) -> dict[str, float]:
    time.sleep(_latency(20, 40))
    revenue = [row["revenue"] for row in rows]
    return {"total": sum(revenue), "growth": revenue[-1] / revenue[0] - 1}


def spell_check(text: str) -> str:
    time.sleep(_latency(30, 50))
    return text
