"""A coordinator that hands work to agents: patched with ``delegates=[...]``."""

from __future__ import annotations

from dataclasses import dataclass

from foundation.sample_app import tools


@dataclass
class Agent:
    name: str

    def run(self, task: str) -> str:
        return tools.search(f"{self.name}:{task}")


class Coordinator:
    def __init__(self) -> None:
        self.calls = 0

    def delegate(self, agent: Agent, task: str) -> str:
        self.calls += 1
        return agent.run(task)

    def delegate_by_name(self, task: str, target: str) -> str:
        return tools.search(f"{target}:{task}")

    def fail(self, agent: Agent) -> None:
        raise KeyError(agent.name)
