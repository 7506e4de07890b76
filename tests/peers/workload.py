"""One workload, traced by one instrumentation, written as OTLP/JSON: ``python -m
tests.peers.workload NAME OUT.json`` with NAME one of ``agentspans``, ``openinference``,
``openllmetry``, ``openlit``.

Run in the side venv of ``scripts/build-peers-venv.sh`` (the peers patch the openai client as
agentspans does, so each runs in a process of its own). The calls go to the fake provider of
``tests/llm/servers.py``: a chat completion, a streamed one with usage, and an embedding.
"""

from __future__ import annotations

import sys
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from tests.llm.servers import FakeProvider

from agentspans.exporters.otlp_json import OtlpJsonFileExporter

MESSAGES = [{"role": "user", "content": "Say hello"}]


def _instrument(name: str, provider: TracerProvider) -> None:
    if name == "agentspans":
        import agentspans

        agentspans.instrument(tracer_provider=provider, resources=False, metrics=False)
    elif name == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=provider)
    elif name == "openllmetry":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor as Instrumentor

        Instrumentor().instrument(tracer_provider=provider)
    elif name == "openlit":
        import openlit
        from opentelemetry import trace

        trace.set_tracer_provider(provider)  # openlit traces into the global provider it finds
        openlit.init(disable_metrics=True, collect_gpu_stats=False, capture_message_content=False)
    else:
        raise SystemExit(f"unknown instrumentation {name!r}")


def run(client: Any) -> None:
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    for _ in stream:
        pass
    client.embeddings.create(model="text-embedding-3-small", input=["hello"])


def main(name: str, out: str) -> None:
    import openai

    server = FakeProvider().start()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(OtlpJsonFileExporter(out)))
    _instrument(name, provider)
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-peers-test", max_retries=0)
    run(client)
    client.close()
    provider.shutdown()
    server.stop()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
