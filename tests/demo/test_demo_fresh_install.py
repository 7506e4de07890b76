"""``agentspans demo`` on a fresh install: the wheel, built from this tree and installed alone
into a new virtual environment, runs the demo as a user would, from an empty directory.

The checks recompute what the report must say from the raw spans in the OTLP/JSON file the demo
wrote, using the definitions in ARCHITECTURE.md, rather than trusting the analysis under test.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
API_KEY = "sim-key-not-a-secret"  # what the demo app passes to its openai client
PROMPT_TEXT = "what it sells and to whom"  # from the demo's repeated profile prompt

_PIP = (sys.executable, "-m", "pip")

pytestmark = pytest.mark.slow


@dataclass
class Run:
    venv: Path
    workdir: Path
    trace_file: Path
    output: str
    seconds: float
    spans: list[dict[str, Any]]
    raw: str


def _fresh_venv(tmp: Path) -> Path:
    """A new venv holding only the wheel; the dependencies come from the project's venv through a
    path entry, so its editable install of agentspans (a .pth hook there) is not seen."""
    wheels = tmp / "wheels"
    subprocess.run(
        [
            *_PIP,
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(REPO),
        ],
        check=True,
        timeout=180,
    )
    (wheel,) = wheels.glob("agentspans-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    subprocess.run(
        [*_PIP, "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)],
        check=True,
        timeout=180,
    )
    Path(site, "project-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def _clean_env(trace_file: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PYTHON"))}
    env.update({"AGENTSPANS_FILE_PATH": str(trace_file), "COLUMNS": "100", "NO_COLOR": "1"})
    env.pop("AGENTSPANS_EXPORTER", None)
    return env


def _spans(raw: str) -> list[dict[str, Any]]:
    spans = []
    for line in raw.splitlines():
        request = json.loads(line)
        for resource_spans in request["resourceSpans"]:
            for scope_spans in resource_spans["scopeSpans"]:
                spans.extend(scope_spans["spans"])
    return spans


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("fresh")
    venv = _fresh_venv(tmp)
    workdir = tmp / "work"
    workdir.mkdir()
    trace_file = workdir / "demo-traces.jsonl"
    started = time.monotonic()
    done = subprocess.run(
        [str(venv / "bin" / "agentspans"), "demo"],
        cwd=workdir,
        env=_clean_env(trace_file),
        capture_output=True,
        text=True,
        timeout=120,
    )
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    raw = trace_file.read_text()
    return Run(venv, workdir, trace_file, done.stdout, seconds, _spans(raw), raw)


def _attributes(span: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in span.get("attributes", []):
        (kind, value), *_ = item["value"].items()
        values[item["key"]] = int(value) if kind == "intValue" else value
    return values


def _ms(span: dict[str, Any]) -> float:
    return (int(span["endTimeUnixNano"]) - int(span["startTimeUnixNano"])) / 1e6


def _findings(output: str) -> dict[str, list[float]]:
    """Finding kind -> the savings the terminal report states for it."""
    found: dict[str, list[float]] = defaultdict(list)
    for kind, saving in re.findall(r"(?:HIGH|MEDIUM|LOW)\s+(\w+)\s+saves ~([\d,.]+) ms", output):
        found[kind].append(float(saving.replace(",", "")))
    return found


class Tree:
    def __init__(self, spans: list[dict[str, Any]]) -> None:
        self.by_id = {s["spanId"]: s for s in spans}
        self.children: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for span in spans:
            if span.get("parentSpanId"):
                self.children[span["parentSpanId"]].append(span)

    def named(self, name: str) -> list[dict[str, Any]]:
        return [s for s in self.by_id.values() if s["name"] == name]

    def parent(self, span: dict[str, Any]) -> dict[str, Any]:
        return self.by_id[span["parentSpanId"]]

    def own_ms(self, span: dict[str, Any]) -> float:
        """Duration minus the union of the children, clipped to the span."""
        start, end = int(span["startTimeUnixNano"]), int(span["endTimeUnixNano"])
        intervals = sorted(
            (max(start, int(c["startTimeUnixNano"])), min(end, int(c["endTimeUnixNano"])))
            for c in self.children[span["spanId"]]
        )
        covered, reach = 0, start
        for low, high in intervals:
            low = max(low, reach)
            if high > low:
                covered += high - low
                reach = high
        return (end - start - covered) / 1e6


def test_demo_is_quick_and_says_it_is_simulated(run: Run) -> None:
    assert run.seconds < 60
    assert "SIMULATOR" in run.output
    assert "no real model is called" in run.output


def test_the_demo_ran_from_the_fresh_install(run: Run) -> None:
    where = subprocess.run(
        [str(run.venv / "bin" / "python"), "-c", "import agentspans; print(agentspans.__file__)"],
        cwd=run.workdir,
        env=_clean_env(run.trace_file),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(run.venv), where


def test_otlp_json_file_is_one_well_formed_trace(run: Run) -> None:
    spans = run.spans
    trace_ids = {s["traceId"] for s in spans}
    assert len(trace_ids) == 1
    assert all(re.fullmatch(r"[0-9a-f]{32}", t) for t in trace_ids)
    assert all(re.fullmatch(r"[0-9a-f]{16}", s["spanId"]) for s in spans)
    assert all(int(s["startTimeUnixNano"]) <= int(s["endTimeUnixNano"]) for s in spans)
    tree = Tree(spans)
    roots = [s for s in spans if not s.get("parentSpanId")]
    assert [r["name"] for r in roots] == ["invoke_agent coordinator"]
    assert all(s["parentSpanId"] in tree.by_id for s in spans if s.get("parentSpanId"))
    # Nesting survives the thread pool (research, data) and asyncio (the data agent's calls).
    for agent in ("research", "data", "writer"):
        (span,) = tree.named(f"invoke_agent {agent}")
        assert tree.parent(span) is roots[0]
    (data,) = tree.named("invoke_agent data")
    data_children = {c["name"] for c in tree.children[data["spanId"]]}
    assert {"execute_tool query_warehouse", "execute_tool fetch_dataset"} <= data_children
    assert "chat gpt-4o-mini" in data_children and any(
        n.startswith("embeddings ") for n in data_children
    )


def test_llm_spans_carry_tokens_cost_and_streaming_timing(run: Run) -> None:
    tree = Tree(run.spans)
    llm = [s for s in run.spans if s["name"].startswith(("chat ", "embeddings "))]
    assert len(llm) == 7
    for span in llm:
        attributes = _attributes(span)
        assert attributes["gen_ai.usage.input_tokens"] > 0
        assert attributes["agentspans.cost.usd"] > 0
    (writer,) = tree.named("invoke_agent writer")
    streamed = [
        _attributes(c) for c in tree.children[writer["spanId"]] if c["name"] == "chat gpt-4o"
    ]
    assert len(streamed) == 1
    assert streamed[0]["gen_ai.usage.output_tokens"] > 0
    assert (
        0
        < float(streamed[0]["gen_ai.response.time_to_first_chunk"])
        < _ms(tree.named("chat gpt-4o")[0])
    )


def test_nothing_secret_or_private_is_exported(run: Run) -> None:
    assert API_KEY not in run.raw
    assert PROMPT_TEXT not in run.raw


def test_report_names_the_sequential_searches_with_their_saving(run: Run) -> None:
    tree = Tree(run.spans)
    searches = tree.named("execute_tool search_web")
    assert len(searches) == 4
    assert {tree.parent(s)["name"] for s in searches} == {"execute_tool gather_sources"}
    durations = [_ms(s) for s in searches]
    expected = sum(durations) - max(durations)
    savings = _findings(run.output)["parallelizable_sequence"]
    assert any(abs(saving - expected) <= 1 for saving in savings), (savings, expected)
    assert "4 calls under 'execute_tool gather_sources'" in " ".join(run.output.split())


def test_report_names_the_repeated_prompt_with_its_saving(run: Run) -> None:
    by_fingerprint: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for span in run.spans:
        fingerprint = _attributes(span).get("agentspans.request.fingerprint")
        if fingerprint and span["name"].startswith("chat "):
            by_fingerprint[fingerprint].append(span)
    repeated = [group for group in by_fingerprint.values() if len(group) > 1]
    assert len(repeated) == 1 and len(repeated[0]) == 2  # the company profile, asked twice
    durations = sorted(_ms(s) for s in repeated[0])
    (saving,) = _findings(run.output)["repeated_call"]
    assert durations[0] - 1 <= saving <= durations[1] + 1
    assert "identical request" in run.output


def test_report_names_the_idle_coordinator_with_its_overhead(run: Run) -> None:
    tree = Tree(run.spans)
    (root,) = tree.named("invoke_agent coordinator")
    own = tree.own_ms(root)
    # The coordinator deliberates three times (0.6 s each) between its delegations.
    assert own >= 1800
    (saving,) = _findings(run.output)["coordination_overhead"]
    # Every agent that delegated and waited coordinates (docs/analysis.md): the coordinator's
    # deliberation, plus the few ms the agents spent between their own calls; the saving is the
    # part on the critical path, so at most all of their own time.
    agents = [s for s in run.spans if s["name"].startswith("invoke_agent ")]
    assert own - 1 <= saving <= sum(tree.own_ms(s) for s in agents) + 1, (saving, own)
    assert own / _ms(root) >= 0.2  # above the detector's default share


def test_agentspans_report_reanalyses_the_file_alike(run: Run) -> None:
    done = subprocess.run(
        [str(run.venv / "bin" / "agentspans"), "report", "--format", "json", str(run.trace_file)],
        cwd=run.workdir,
        env=_clean_env(run.trace_file),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    (trace,) = json.loads(done.stdout)["traces"]
    kinds = {f["kind"]: f["estimated_savings_ms"] for f in trace["findings"]}
    stated = _findings(run.output)
    for kind in ("parallelizable_sequence", "repeated_call", "coordination_overhead"):
        assert kind in kinds
        assert any(abs(kinds[kind] - saving) <= 1 for saving in stated[kind])
