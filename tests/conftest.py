"""Shared fixtures. Internal errors raise under the test suite (see agentspans._errors)."""

from __future__ import annotations

import os

os.environ.setdefault("AGENTSPANS_STRICT", "1")

from collections.abc import Iterator

import pytest

from agentspans.testing import CapturedSpans, capture_spans

# Property tests explore at random locally (a new seed each run, failures kept in .hypothesis/
# and replayed first); under CI (the CI env var present, whatever its value, as Hypothesis
# itself reads it) they are derandomized: the same examples every run, so a CI failure is
# reproducible and never a fresh draw's luck. Explicit @example cases run in both. Loaded here,
# before the test modules create their @settings, which inherit from the loaded profile;
# HYPOTHESIS_PROFILE names another registered profile to load instead.


def _load_hypothesis_profile() -> None:
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:  # the side venvs (oldest clients, frameworks) run no property test
        return
    settings.register_profile(
        "agentspans-ci",
        derandomize=True,
        database=None,
        print_blob=True,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    profile = os.environ.get("HYPOTHESIS_PROFILE") or (
        "agentspans-ci" if "CI" in os.environ else None
    )
    if profile is not None:
        settings.load_profile(profile)


_load_hypothesis_profile()


@pytest.fixture
def spans() -> Iterator[CapturedSpans]:
    """agentspans instrumented into an in-memory exporter; uninstrumented afterwards."""
    with capture_spans() as captured:
        yield captured
