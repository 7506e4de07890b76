"""The demo's multi-agent application, written the way such apps are written.

A coordinator plans a market report, hands research and data gathering to two agents running
side by side in a thread pool, and has a writer stream the answer. It knows nothing of tracing:
``agentspans.instrument()`` patches :meth:`Coordinator.run`, :meth:`Coordinator.delegate` and the
tools by import path (see ``agentspans.demo.cli``), and the openai client is traced as it is.

Planted on purpose, as they appear in real apps, for the report to find:

* the research agent's source gathering runs four independent web searches one after another;
* the data agent and the writer both ask for the same company profile (the same prompt twice);
* the coordinator deliberates between delegations instead of delegating and waiting.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from openai import AsyncOpenAI, OpenAI

from agentspans.demo import tools

PLANNER_MODEL = "gpt-4o"
WORKER_MODEL = "gpt-4o-mini"
WRITER_MODEL = "gpt-4o"
EMBEDDING_MODEL = "text-embedding-3-small"

_PROFILE_REQUEST: dict[str, Any] = {
    "model": WORKER_MODEL,
    "messages": [
        {"role": "system", "content": "You are a financial analyst. Be factual and brief."},
        {
            "role": "user",
            "content": "Give a two-sentence profile of Acme Robotics: what it sells and to whom.",
        },
    ],
    "max_tokens": 48,
    "temperature": 0.0,
}


def _ask(client: OpenAI, model: str, prompt: str, max_tokens: int) -> str:
    response = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": prompt}],
        max_tokens=max_tokens,
        temperature=0.2,
    )
    return response.choices[0].message.content or ""


def company_profile(client: OpenAI) -> str:
    """The company's profile. The writer asks for it, and so does the data agent (through the
    async client); nothing caches it, so the same request goes out twice."""
    response = client.chat.completions.create(**_PROFILE_REQUEST)
    return response.choices[0].message.content or ""


async def company_profile_async(client: AsyncOpenAI) -> str:
    response = await client.chat.completions.create(**_PROFILE_REQUEST)
    return response.choices[0].message.content or ""


@dataclass
class Findings:
    sources: list[str] = field(default_factory=list)
    summary: str = ""
    stats: dict[str, float] = field(default_factory=dict)
    profile: str = ""


class Agent(Protocol):
    name: str

    def handle(self, task: str) -> Any: ...


class ResearchAgent:
    name = "research"

    def __init__(self, client: OpenAI) -> None:
        self.client = client

    def handle(self, task: str) -> Findings:
        questions = [
            "Acme Robotics revenue 2025",
            "Acme Robotics competitors",
            "warehouse robotics market size",
            "Acme Robotics customer reviews",
        ]
        sources = tools.gather_sources(questions)
        summary = _ask(
            self.client, WORKER_MODEL, f"Summarise for '{task}': {sources[:6]}", max_tokens=56
        )
        return Findings(sources=sources, summary=summary)


class DataAgent:
    name = "data"

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url
        self.api_key = api_key

    def handle(self, task: str) -> Findings:
        rows, profile = asyncio.run(self._collect(task))
        return Findings(stats=tools.compute_stats(rows), profile=profile)

    async def _collect(self, task: str) -> tuple[list[dict[str, float]], str]:
        """Warehouse queries, the dataset, the schema question, the embeddings of the metric
        names and the company profile, all at once on one event loop."""
        async with AsyncOpenAI(base_url=self.base_url, api_key=self.api_key) as client:
            _, _, rows, _, _, profile = await asyncio.gather(
                tools.query_warehouse("SELECT quarter, revenue FROM acme"),
                tools.query_warehouse("SELECT quarter, cost FROM acme"),
                asyncio.to_thread(tools.fetch_dataset, "acme_quarterly"),
                client.chat.completions.create(
                    model=WORKER_MODEL,
                    messages=[{"role": "user", "content": f"Which tables answer: {task}?"}],
                    max_tokens=24,
                ),
                client.embeddings.create(model=EMBEDDING_MODEL, input=["revenue", "cost"]),
                company_profile_async(client),
            )
        return rows, profile


class WriterAgent:
    name = "writer"

    def __init__(self, client: OpenAI) -> None:
        self.client = client

    def handle(self, task: str) -> str:
        profile = company_profile(self.client)
        stream = self.client.chat.completions.create(
            model=WRITER_MODEL,
            messages=[
                {"role": "system", "content": "Write a crisp market report."},
                {"role": "user", "content": f"{task}\n\nProfile: {profile}"},
            ],
            max_tokens=80,
            stream=True,
            stream_options={"include_usage": True},
        )
        parts = [
            chunk.choices[0].delta.content or ""
            for chunk in stream
            if chunk.choices and chunk.choices[0].delta
        ]
        return "".join(parts)


class Coordinator:
    name = "coordinator"

    def __init__(self, base_url: str, api_key: str, *, deliberation_s: float = 0.6) -> None:
        self.client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0)
        self.research = ResearchAgent(self.client)
        self.data = DataAgent(base_url, api_key)
        self.writer = WriterAgent(self.client)
        self.deliberation_s = deliberation_s

    def delegate(self, agent: Agent, task: str) -> Any:
        return agent.handle(task)

    def run(self, question: str) -> str:
        _ask(self.client, PLANNER_MODEL, f"Plan the work for: {question}", max_tokens=40)
        self._deliberate()
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="agent") as pool:
            research = pool.submit(self.delegate, self.research, question)
            data = pool.submit(self.delegate, self.data, question)
            findings = [research.result(), data.result()]
        self._deliberate()
        notes = "\n".join(f.summary or str(f.stats) for f in findings)
        draft: str = self.delegate(self.writer, f"{question}\n\nNotes:\n{notes}")
        self._deliberate()
        return tools.spell_check(draft)

    def _deliberate(self) -> None:
        """Re-reading the state between steps: time the coordinator spends not delegating."""
        time.sleep(self.deliberation_s)

    def close(self) -> None:
        self.client.close()
