"""CrewAI: its event bus (placeholder until the listener lands)."""

from __future__ import annotations

from agentspans._patching import Patches


def instrument(patches: Patches) -> None:
    """Register the event listener when ``crewai`` is (or gets) imported."""
