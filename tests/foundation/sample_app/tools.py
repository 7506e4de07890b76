"""Tools defined as plain functions: patched with ``tools=["...sample_app.tools:*"]``."""

from __future__ import annotations

import asyncio
from os.path import join as imported_helper  # noqa: F401  (imported names must not be patched)


def search(query: str) -> str:
    return f"results for {query}"


def lookup(key: str, *, default: str = "") -> str:
    return {"a": "alpha"}.get(key, default)


async def fetch(url: str) -> str:
    await asyncio.sleep(0)
    return f"page {url}"


def _private_helper() -> str:
    return "not a tool"


class Calculator:
    def add(self, a: int, b: int) -> int:
        return a + b

    @staticmethod
    def double(x: int) -> int:
        return 2 * x

    @classmethod
    def name(cls) -> str:
        return cls.__name__
