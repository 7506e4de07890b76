"""Wrappers: the generic agent/tool/delegate operations and one module per LLM client library.

Each LLM integration module exposes ``instrument(patches)`` (register its patches; the library is
patched when it is imported, never imported by us) and may expose ``START_HOOKS``: span-start
hooks that recognise and enrich spans a client library emits natively (anthropic does).

Shared by the integrations: ``_llm`` (the LLM span: request, response summary, errors),
``_streams`` (stream and stream-helper proxies), ``_native`` (enriching a client's own span),
``_providers`` (provider names from base URLs), ``_content`` (GenAI-format content, capture on),
``_tokens`` (tokenizer estimates) and ``_versions`` (the supported versions, declared once).
"""

from __future__ import annotations

LLM_INTEGRATIONS: dict[str, str] = {
    "openai": "agentspans.wrappers.openai",
    "anthropic": "agentspans.wrappers.anthropic",
    "litellm": "agentspans.wrappers.litellm",
}
