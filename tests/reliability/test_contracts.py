"""Small contracts: suppressed instrumentation, nested capture, environment typos, model names."""

from __future__ import annotations

import logging
import tracemalloc

import pytest
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agentspans
from agentspans import _errors
from agentspans.testing import CapturedSpans, capture_spans


@agentspans.tool
def lookup(query: str) -> str:
    return query.upper()


def test_no_spans_while_instrumentation_is_suppressed(spans: CapturedSpans) -> None:
    token = otel_context.attach(
        otel_context.set_value(otel_context._SUPPRESS_INSTRUMENTATION_KEY, True)
    )
    try:
        with agentspans.agent_span("inside-an-exporter"):
            assert lookup("x") == "X"  # the call itself runs as ever
    finally:
        otel_context.detach(token)
    token = otel_context.attach(otel_context.set_value("suppress_instrumentation", True))
    try:
        assert lookup("y") == "Y"
    finally:
        otel_context.detach(token)
    assert spans.finished() == []
    assert lookup("z") == "Z"
    assert [span.name for span in spans.finished()] == ["execute_tool lookup"]


def test_capture_spans_inside_an_instrumented_app_leaves_it_instrumented() -> None:
    provider = TracerProvider()
    app_exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(app_exporter))
    before = agentspans.instrument(tracer_provider=provider, resources=False, metrics=False)
    try:
        with capture_spans() as captured:
            lookup("a")
        assert [span.name for span in captured.finished()] == ["execute_tool lookup"]
        assert agentspans.instrumentation() is before  # still instrumented, the same way
        lookup("b")
        before.force_flush()
        assert len(app_exporter.get_finished_spans()) == 2  # the app's exporter saw both
        assert len(captured.exporter.get_finished_spans()) == 1  # the tap is gone
        with (
            pytest.raises(RuntimeError, match="instrumented already"),
            capture_spans(capture_content=True),
        ):
            pass
    finally:
        agentspans.uninstrument()


@pytest.mark.parametrize(
    "variable", ["AGENTSPANS_TOOLS", "AGENTSPANS_AGENTS", "AGENTSPANS_DELEGATES"]
)
def test_a_typo_in_an_import_path_variable_warns_and_is_skipped(
    variable: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(
        variable, "tests.reliability.test_contracts.lookup, tests.reliability.test_contracts:lookup"
    )
    with caplog.at_level(logging.WARNING, logger="agentspans"), capture_spans() as captured:
        assert captured is not None
    assert any(
        variable in r.getMessage() and "test_contracts.lookup" in r.getMessage()
        for r in caplog.records
    )
    with pytest.raises(agentspans.ConfigError):  # an argument still raises
        agentspans.instrument(tools=["tests.reliability.test_contracts.lookup"])


def test_unknown_model_names_are_remembered_up_to_a_cap(caplog: pytest.LogCaptureFixture) -> None:
    _errors.reset_reported()
    tracemalloc.start()
    try:
        with caplog.at_level(logging.WARNING, logger="agentspans"):
            for index in range(20_000):
                _errors.warn_once_per("price-unknown", f"model-{index}", "no price for %s", index)
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        _errors.reset_reported()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == _errors.MAX_KEYS_PER_FAMILY + 1
    assert "further ones are not logged" in lines[-1]
    assert peak < 2_000_000


def test_unknown_models_through_real_spans_warn_boundedly(
    spans: CapturedSpans, caplog: pytest.LogCaptureFixture
) -> None:
    from agentspans import semconv

    tracer = spans.provider.get_tracer("t")
    with caplog.at_level(logging.WARNING, logger="agentspans"):
        for index in range(400):
            with tracer.start_as_current_span("chat") as span:
                span.set_attribute(semconv.GEN_AI_OPERATION_NAME, "chat")
                span.set_attribute(semconv.GEN_AI_REQUEST_MODEL, f"private-model-{index}")
                span.set_attribute(semconv.GEN_AI_USAGE_INPUT_TOKENS, 10)
                span.set_attribute(semconv.GEN_AI_USAGE_OUTPUT_TOKENS, 2)
        assert len(spans.finished()) == 400
    price_lines = [
        r for r in caplog.records if "price" in r.getMessage() or "distinct" in r.getMessage()
    ]
    assert len(price_lines) == _errors.MAX_KEYS_PER_FAMILY + 1
