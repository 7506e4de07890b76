"""The library versions agentspans supports: declared here, and only here.

``scripts/test-oldest.sh`` installs :data:`OLDEST` into a second virtual environment and runs
``tests/llm`` there, and :data:`OLDEST_FRAMEWORKS` into a third one for ``tests/frameworks``
(the oldest openai-agents needs a newer openai than the oldest client release tested); the main
environment tests the newest. A library older than its oldest supported version is still
instrumented (most of the surface is stable), with one warning.
"""

from __future__ import annotations

import re
from importlib import metadata

from agentspans._errors import warn_once

# The oldest release of each client that the test suite runs against.
OLDEST: dict[str, str] = {
    "openai": "1.55.3",  # the oldest that the oldest litellm accepts; Responses API from 1.66
    "anthropic": "0.40.0",  # messages and the stream helper; native spans from 2.x
    "litellm": "1.55.0",  # the oldest release the index still serves after 1.14
}

# What the oldest clients need beside them to install and run (their own loose pins allow
# newer releases that broke them).
OLDEST_COMPANIONS: tuple[str, ...] = ("httpx<0.28",)

# The oldest release of each agent framework integration (docs/frameworks.md), by distribution
# name; installed together, with the newest openai their own pins allow.
OLDEST_FRAMEWORKS: dict[str, str] = {
    "openai-agents": "0.1.0",  # TracingProcessor, span data types and Runner.run_streamed
    "mcp": "1.9.4",  # the oldest that openai-agents 0.1.0 accepts; ClientSession.call_tool
    "langchain-core": "0.3.51",  # register_configure_hook; older ones break on pydantic 2.11
    "langgraph": "0.3.5",  # Command(goto=), Send, graph:step tags (0.3.0 is yanked)
    "langchain-openai": "0.3.0",  # not patched; the client the LangGraph tests drive
}

# What they need beside them: the oldest openai that openai-agents 0.1.0 accepts, and the
# pydantic / httpx of their day (mcp 1.9.4 imports a pydantic internal that 2.12 removed).
OLDEST_FRAMEWORK_COMPANIONS: tuple[str, ...] = ("openai==1.87.0", "pydantic<2.12", "httpx<0.29")

# Frameworks whose own pins clash with the main test environment (crewai pins openai, pydantic,
# httpx): each is tested in a venv of its own (``scripts/test-crewai.sh``), at this release.
OLDEST_OWN_VENV: dict[str, str] = {
    "crewai": "1.15.30",  # crewai.hooks interception points (EXECUTION_START, PRE_STEP, ...)
}


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def oldest(library: str) -> str:
    for table in (OLDEST, OLDEST_FRAMEWORKS, OLDEST_OWN_VENV):
        if library in table:
            return table[library]
    raise KeyError(library)


def supported(library: str, version: str) -> bool:
    return _release(version) >= _release(oldest(library))


def warn_if_unsupported(library: str) -> None:
    """Warn once when the installed ``library`` is older than its oldest supported release."""
    try:
        installed = metadata.version(library)
    except metadata.PackageNotFoundError:
        return
    if not supported(library, installed):
        warn_once(
            f"version:{library}",
            "agentspans: %s %s is older than the oldest supported release %s; "
            "its calls are traced on a best-effort basis",
            library,
            installed,
            oldest(library),
        )
