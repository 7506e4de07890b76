"""agentspans: where a multi-agent LLM application spends its time, tokens, money and GPU memory.

``import agentspans; agentspans.instrument()`` at start-up turns agent delegations, LLM calls and
tool calls into nested OpenTelemetry spans, with cost, resource usage and each trace's critical
path and bottlenecks written onto them.
"""

from __future__ import annotations

from agentspans._config import ConfigError
from agentspans._instrument import Instrumentation, instrument, instrumentation, uninstrument
from agentspans._version import __version__
from agentspans.wrappers.operations import agent, agent_span, tool, tool_span, workflow_span

__all__ = [
    "ConfigError",
    "Instrumentation",
    "__version__",
    "agent",
    "agent_span",
    "instrument",
    "instrumentation",
    "tool",
    "tool_span",
    "uninstrument",
    "workflow_span",
]
