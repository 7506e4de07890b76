"""Wrappers: the generic agent/tool/delegate operations and one module per LLM client library.

Each LLM integration module exposes ``instrument(patches)`` (register its patches; the library is
patched when it is imported, never imported by us) and may expose ``START_HOOKS``: span-start
hooks that recognise and enrich spans a client library emits natively.
"""

from __future__ import annotations

LLM_INTEGRATIONS: dict[str, str] = {
    "openai": "agentspans.wrappers.openai",
    "anthropic": "agentspans.wrappers.anthropic",
    "litellm": "agentspans.wrappers.litellm",
}
