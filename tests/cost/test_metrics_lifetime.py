"""Metrics of a process of any lifetime: deltas by default, and delivered at interpreter exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import Counter, Histogram, UpDownCounter
from opentelemetry.sdk.metrics.export import AggregationTemporality
from tests.llm.servers import FakeProvider

from agentspans._config import resolve
from agentspans.metrics import _otlp_metric_exporter

SRC = str(Path(__file__).resolve().parents[2] / "src")
VARIABLE = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_counters_and_histograms_go_out_as_deltas(
    protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    exporter = _otlp_metric_exporter(resolve(otlp_protocol=protocol))
    temporality = exporter._preferred_temporality
    assert temporality[Counter] is AggregationTemporality.DELTA
    assert temporality[Histogram] is AggregationTemporality.DELTA
    assert temporality[UpDownCounter] is AggregationTemporality.CUMULATIVE  # a level, not a count


def test_the_users_temporality_preference_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VARIABLE, "cumulative")
    exporter = _otlp_metric_exporter(resolve())
    assert exporter._preferred_temporality[Counter] is AggregationTemporality.CUMULATIVE
    assert exporter._preferred_temporality[Histogram] is AggregationTemporality.CUMULATIVE


# main is looked up when it is called, so instrument() can patch it after its definition.
SCRIPT = """
import openai, agentspans
def main():
    client = openai.OpenAI(base_url=BASE_URL, api_key="k", max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
agentspans.instrument(exporter="console", resources=False, agents=["__main__:main"])
main()
# and the interpreter just exits: no flush, no uninstrument(), no sleep
"""


def test_a_script_that_just_exits_prints_its_metrics() -> None:
    """The console exporter's last collection, at exit, holds the call's tokens and cost."""
    provider = FakeProvider().start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTSPANS_"))}
        env["PYTHONPATH"] = SRC
        script = SCRIPT.replace("BASE_URL", repr(provider.base_url))
        result = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
        )
    finally:
        provider.stop()
    assert result.returncode == 0, result.stderr
    documents = _json_documents(result.stdout)
    metrics = {
        metric["name"]: metric
        for document in documents
        for resource in document.get("resource_metrics", [])
        for scope in resource["scope_metrics"]
        for metric in scope["metrics"]
    }
    assert "gen_ai.client.token.usage" in metrics, result.stdout[-2000:]
    points = metrics["gen_ai.client.token.usage"]["data"]["data_points"]
    assert sorted(p["sum"] for p in points) == [5, 21]  # the server's completion and prompt tokens
    assert {p["attributes"]["gen_ai.agent.name"] for p in points} == {"main"}
    cost = metrics["agentspans.cost.usd"]["data"]["data_points"]
    assert sum(p["value"] for p in cost) > 0


def _json_documents(text: str) -> list[dict[str, object]]:
    """The JSON objects the console exporters printed one after another."""
    decoder = json.JSONDecoder()
    documents, index = [], 0
    while (start := text.find("{", index)) >= 0:
        try:
            value, index = decoder.raw_decode(text, start)
        except ValueError:
            index = start + 1
            continue
        if isinstance(value, dict):
            documents.append(value)
    return documents
