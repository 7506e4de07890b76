"""Shared fixtures. Internal errors raise under the test suite (see agentspans._errors)."""

from __future__ import annotations

import os

os.environ.setdefault("AGENTSPANS_STRICT", "1")

from collections.abc import Iterator

import pytest

from agentspans.testing import CapturedSpans, capture_spans


@pytest.fixture
def spans() -> Iterator[CapturedSpans]:
    """agentspans instrumented into an in-memory exporter; uninstrumented afterwards."""
    with capture_spans() as captured:
        yield captured
