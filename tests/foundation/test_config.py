"""Options: arguments, then environment, then defaults; wrong ones say what to change."""

from __future__ import annotations

import logging

import pytest

import agentspans
from agentspans._config import DEFAULT_FILE_PATH, ConfigError, resolve
from agentspans.wrappers import INTEGRATIONS


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (
            {"exporter": "otpl"},
            "exporter='otpl'): unknown value 'otpl'; accepted: otlp, file, console, none",
        ),
        ({"exporter": ["file", "none"]}, "'none' cannot be combined"),
        (
            {"otlp_protocol": "http/json"},
            "otlp_protocol='http/json'): accepted: grpc, http/protobuf",
        ),
        ({"capture_content": "yes"}, "capture_content='yes'): expected True or False"),
        (
            {"libraries": ["openai", "cohere"]},
            "unknown value 'cohere'; accepted: openai, anthropic, litellm",
        ),
        (
            {"tools": ["myapp.tools.search"]},
            "is not an import path; write 'package.module:function'",
        ),
        ({"delegates": {"a.b:C.d": ""}}, "names the argument that holds the agent's name"),
        ({"analysis_hold_s": -1}, "analysis_hold_s=-1): expected a positive number"),
        ({"max_spans_per_trace": 1.5}, "max_spans_per_trace=1.5): expected a positive integer"),
        ({"service_name": ""}, "service_name=''): expected a non-empty string"),
        ({"prices": {"m": {"input": 1}}}, "needs both 'input' and 'output'"),
        ({"prices": {"m": {"input": 1, "output": 2, "outptu": 3}}}, "unknown field(s) ['outptu']"),
    ],
)
def test_wrong_argument_raises_with_the_option_and_accepted_values(
    options: dict, fragment: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        agentspans.instrument(**options)
    assert fragment in str(caught.value)
    assert agentspans.instrumentation() is None


def test_wrong_prices_file_names_the_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "prices.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match=r"prices\.json: cannot read prices"):
        agentspans.instrument(prices_file=bad)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AGENTSPANS_EXPORTER",
        "OTEL_TRACES_EXPORTER",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
        "AGENTSPANS_FILE_PATH",
        "OTEL_SERVICE_NAME",
    ):
        monkeypatch.delenv(name, raising=False)
    config = resolve()
    assert config.exporters == ("otlp",)
    assert config.exporters_explicit is False
    assert config.capture_content is False
    assert config.file_path == DEFAULT_FILE_PATH
    assert config.otlp_protocol is None
    assert config.service_name is None
    # Every integration, the LLM clients first (frameworks: docs/frameworks.md).
    assert config.libraries[:3] == ("openai", "anthropic", "litellm")
    assert config.libraries == tuple(INTEGRATIONS)
    assert {"openai_agents", "mcp", "langchain", "crewai"} <= set(config.libraries)


def test_environment_then_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTSPANS_EXPORTER", "file")
    monkeypatch.setenv("AGENTSPANS_FILE_PATH", "/tmp/x.jsonl")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "svc-from-env")
    config = resolve()
    assert config.exporters == ("file",)
    assert config.exporters_explicit
    assert config.file_path == "/tmp/x.jsonl"
    assert config.otlp_protocol == "http/protobuf"
    assert config.capture_content is True
    assert config.service_name == "svc-from-env"
    overridden = resolve(
        exporter="console", file_path="a.jsonl", capture_content=False, service_name="arg"
    )
    assert overridden.exporters == ("console",)
    assert overridden.file_path == "a.jsonl"
    assert overridden.capture_content is False
    assert overridden.service_name == "arg"


def test_otel_traces_exporter_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTSPANS_EXPORTER", raising=False)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    assert resolve().exporters == ("console",)


def test_traces_protocol_variable_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")
    assert resolve().otlp_protocol == "grpc"


def test_bad_environment_is_logged_and_defaulted(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("AGENTSPANS_EXPORTER", "kafka")
    monkeypatch.setenv("AGENTSPANS_ANALYSIS_HOLD_S", "soon")
    with caplog.at_level(logging.WARNING, logger="agentspans"):
        config = resolve()
    assert config.exporters == ("otlp",)
    assert config.analysis_hold_s == 300.0
    text = caplog.text
    assert "AGENTSPANS_EXPORTER='kafka'" in text and "accepted: otlp, file, console, none" in text
    assert "AGENTSPANS_ANALYSIS_HOLD_S='soon'" in text


def test_capture_content_agentspans_variable_overrides_otel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    monkeypatch.setenv("AGENTSPANS_CAPTURE_CONTENT", "false")
    assert resolve().capture_content is False


def test_delegates_and_tools_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTSPANS_DELEGATES", "app.coord:Coordinator.delegate")
    monkeypatch.setenv("AGENTSPANS_TOOLS", "app.tools:*, app.more:fn")
    config = resolve()
    assert dict(config.delegates) == {"app.coord:Coordinator.delegate": None}
    assert config.tools == ("app.tools:*", "app.more:fn")
