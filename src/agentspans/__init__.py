"""agentspans: where a multi-agent LLM application spends its time, tokens, money and GPU memory."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
