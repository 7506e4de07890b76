"""openai integration (being built)."""

from __future__ import annotations

from agentspans._patching import Patches


def instrument(patches: Patches) -> None:
    """Register the openai patches (none yet)."""
