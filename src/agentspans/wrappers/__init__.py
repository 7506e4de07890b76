"""Wrappers: the generic agent/tool/delegate operations, one module per LLM client library and
one module per agent framework.

Every integration module, client or framework, has the same small interface: it exposes
``instrument(patches)`` (register its patches with :meth:`Patches.patch_path`, or its hook into
the library's own extension point with :meth:`Patches.on_import`; the library is instrumented
when it is imported, never imported by us) and may expose ``START_HOOKS``: span-start hooks that
recognise and enrich spans a library emits natively (anthropic does).

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

# Agent frameworks (docs/frameworks.md): same interface, named after the framework.
FRAMEWORK_INTEGRATIONS: dict[str, str] = {
    "openai_agents": "agentspans.wrappers.openai_agents",
    "mcp": "agentspans.wrappers.mcp",
    "langchain": "agentspans.wrappers.langchain",
    "crewai": "agentspans.wrappers.crewai",
}

# Every name ``libraries=`` / ``AGENTSPANS_LIBRARIES`` accepts, in the order they are installed.
INTEGRATIONS: dict[str, str] = {**LLM_INTEGRATIONS, **FRAMEWORK_INTEGRATIONS}
