"""Patching by import path: delegates, agents and tools the app does not touch."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import agentspans
from agentspans import semconv
from agentspans.testing import capture_spans
from foundation.sample_app import coordinator as coordinator_module
from foundation.sample_app import tools as tools_module
from foundation.sample_app.coordinator import Agent, Coordinator

TOOLS = "foundation.sample_app.tools"
COORDINATOR = "foundation.sample_app.coordinator"


def _originals() -> dict[str, object]:
    return {
        "search": vars(tools_module)["search"],
        "lookup": vars(tools_module)["lookup"],
        "fetch": vars(tools_module)["fetch"],
        "add": vars(tools_module.Calculator)["add"],
        "double": vars(tools_module.Calculator)["double"],
        "name": vars(tools_module.Calculator)["name"],
        "delegate": vars(Coordinator)["delegate"],
        "delegate_by_name": vars(Coordinator)["delegate_by_name"],
        "run": vars(Agent)["run"],
    }


def test_delegate_span_named_after_target_agent_with_tools_nested() -> None:
    with capture_spans(
        delegates=[f"{COORDINATOR}:Coordinator.delegate"], tools=[f"{TOOLS}:*"]
    ) as spans:
        boss = Coordinator()
        assert boss.delegate(Agent("research"), "llamas") == "results for research:llamas"
        assert boss.calls == 1

    delegate = spans.one("invoke_agent research")
    assert delegate.attributes[semconv.GEN_AI_AGENT_NAME] == "research"
    assert delegate.attributes[semconv.DELEGATE_ACTION] == "delegate"
    assert delegate.attributes[semconv.GEN_AI_OPERATION_NAME] == "invoke_agent"
    search = spans.one("execute_tool search")
    assert spans.parent_of(search) == delegate


def test_delegate_name_from_configured_argument() -> None:
    with capture_spans(
        delegates={f"{COORDINATOR}:Coordinator.delegate_by_name": "target"}
    ) as spans:
        Coordinator().delegate_by_name("task", target="writer")
        Coordinator().delegate_by_name("task", "data")
    assert len(spans.named("invoke_agent writer")) == 1
    assert len(spans.named("invoke_agent data")) == 1


def test_delegate_name_from_attribute_path() -> None:
    with capture_spans(delegates={f"{COORDINATOR}:Coordinator.delegate": "agent.name"}) as spans:
        Coordinator().delegate(agent=Agent("critic"), task="t")
    assert spans.one("invoke_agent critic")


def test_wildcards_cover_module_functions_and_class_methods_only() -> None:
    with capture_spans(tools=[f"{TOOLS}:*", f"{TOOLS}:Calculator.*"]) as spans:
        tools_module.search("q")
        tools_module.lookup("a", default="z")
        assert tools_module.Calculator().add(2, 3) == 5
        assert tools_module.Calculator.double(4) == 8
        assert tools_module.Calculator.name() == "Calculator"
        assert tools_module._private_helper() == "not a tool"
        assert tools_module.imported_helper("a", "b") == "a/b"
    names = sorted(s.name for s in spans.finished())
    assert names == [
        "execute_tool add",
        "execute_tool double",
        "execute_tool lookup",
        "execute_tool name",
        "execute_tool search",
    ]


async def test_patched_async_function() -> None:
    with capture_spans(tools=[f"{TOOLS}:fetch"]) as spans:
        assert await tools_module.fetch("u") == "page u"
    assert spans.one("execute_tool fetch")


def test_patched_exception_passes_through_and_runs_once() -> None:
    with capture_spans(delegates=[f"{COORDINATOR}:Coordinator.fail"]) as spans:
        with pytest.raises(KeyError, match="ghost"):
            Coordinator().fail(Agent("ghost"))
    span = spans.one("invoke_agent ghost")
    assert span.attributes[semconv.ERROR_TYPE] == "KeyError"


def test_uninstrument_restores_the_very_objects() -> None:
    before = _originals()
    with capture_spans(
        delegates=[
            f"{COORDINATOR}:Coordinator.delegate",
            f"{COORDINATOR}:Coordinator.delegate_by_name",
        ],
        agents=[f"{COORDINATOR}:Agent.run"],
        tools=[f"{TOOLS}:*", f"{TOOLS}:Calculator.*"],
    ):
        during = _originals()
        assert all(during[key] is not before[key] for key in before)
    after = _originals()
    assert all(after[key] is before[key] for key in before)
    import concurrent.futures
    import threading

    assert not hasattr(threading.Thread.start, "__wrapped__")
    assert not hasattr(concurrent.futures.ThreadPoolExecutor.submit, "__wrapped__")


def test_inherited_method_restored_by_deletion() -> None:
    class Base:
        def work(self) -> int:
            return 1

    class Child(Base):
        pass

    module = type(sys)("inherit_target")
    module.Child = Child  # type: ignore[attr-defined]
    sys.modules["inherit_target"] = module
    try:
        with capture_spans(tools=["inherit_target:Child.work"]) as spans:
            assert Child().work() == 1
        assert "work" not in vars(Child)
        assert spans.one("execute_tool work")
    finally:
        del sys.modules["inherit_target"]


def test_second_instrument_adds_no_second_span() -> None:
    with capture_spans(tools=[f"{TOOLS}:search"]) as spans:
        handle = agentspans.instrumentation()
        again = agentspans.instrument(tools=[f"{TOOLS}:search"])
        assert again is handle
        tools_module.search("once")
    assert len(spans.named("execute_tool search")) == 1


@pytest.fixture
def late_module(tmp_path: Path) -> Iterator[str]:
    package = tmp_path / "late_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "workers.py").write_text(
        textwrap.dedent(
            """
            def crunch(n):
                return n * n

            class Team:
                def hand_off(self, agent_name, job):
                    return crunch(job)
            """
        )
    )
    sys.path.insert(0, str(tmp_path))
    try:
        yield "late_pkg.workers"
    finally:
        sys.path.remove(str(tmp_path))
        for name in ("late_pkg.workers", "late_pkg"):
            sys.modules.pop(name, None)


def test_modules_imported_after_instrument_are_patched(late_module: str) -> None:
    assert late_module not in sys.modules
    with capture_spans(
        delegates=[f"{late_module}:Team.hand_off"], tools=[f"{late_module}:crunch"]
    ) as spans:
        import importlib

        workers = importlib.import_module(late_module)
        assert workers.Team().hand_off("cruncher", 7) == 49
    delegate = spans.one("invoke_agent cruncher")
    assert spans.parent_of(spans.one("execute_tool crunch")) == delegate


def test_hook_registered_then_uninstrumented_does_nothing(late_module: str) -> None:
    with capture_spans(tools=[f"{late_module}:crunch"]):
        pass
    import importlib

    workers = importlib.import_module(late_module)
    assert not hasattr(workers.crunch, "__wrapped__")


def test_missing_attribute_warns_and_continues(caplog: pytest.LogCaptureFixture) -> None:
    with capture_spans(tools=[f"{TOOLS}:no_such_function"]) as spans:
        assert tools_module.search("still works") == "results for still works"
    assert spans.finished() == []
    assert any("no_such_function" in r.getMessage() for r in caplog.records)


def test_coordinator_module_untouched_after() -> None:
    assert coordinator_module.Coordinator is Coordinator
