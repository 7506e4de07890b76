"""The state ``instrument()`` installs and every wrapper reads: one object, swapped atomically.

Wrappers read ``RUNTIME.current`` once per call; ``None`` means agentspans is not instrumented and
the wrapped function runs untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry import context as otel_context
from opentelemetry.trace import Tracer

if TYPE_CHECKING:
    from agentspans._config import Config

# The enclosing agent's name travels in the OpenTelemetry context beside the span, so that it
# follows the span into threads and tasks and child LLM/tool spans can carry it.
AGENT_NAME_KEY = otel_context.create_key("agentspans.agent_name")
# Set while an LLM call's span is open, so a client that calls another instrumented client
# (litellm calling openai) does not produce a second span for the same call.
LLM_CALL_KEY = otel_context.create_key("agentspans.llm_call")
# Set by a framework integration on the context of the agent or tool span it opened for the
# framework's own run: ``(operation, name, span id)``. A decorated function called directly
# inside it (``@agentspans.tool`` on an Agents SDK function tool) is the same operation, so it
# makes no second span.
FRAMEWORK_SPAN_KEY = otel_context.create_key("agentspans.framework_span")


@dataclass(frozen=True)
class Runtime:
    tracer: Tracer
    config: Config

    @property
    def capture_content(self) -> bool:
        return self.config.capture_content


class _Holder:
    __slots__ = ("current",)

    def __init__(self) -> None:
        self.current: Runtime | None = None


RUNTIME = _Holder()


def inside_llm_call() -> bool:
    return otel_context.get_value(LLM_CALL_KEY) is not None
