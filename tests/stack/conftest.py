"""Fixtures for the stack tests: the real Collector, Jaeger and Prometheus binaries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.stack.services import Binaries, stack_binaries


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/stack/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.stack)


@pytest.fixture(scope="session")
def binaries() -> Iterator[Binaries]:
    """Fails (never skips) with the reason when the binaries cannot be had on this machine."""
    try:
        found = stack_binaries()
    except RuntimeError as exc:
        problem = str(exc)
    else:
        yield found
        return
    pytest.fail(problem, pytrace=False)
