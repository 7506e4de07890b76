"""``agentspans report`` on traces written by other instrumentations of the same workload
(``tests/peers/workload.py``) counts the same LLM calls and tokens as on agentspans' own.

The recorded files under ``tests/fixtures/peers`` (written by the pinned peers, see
``scripts/build-peers-venv.sh``) are read on every run; the slow test re-records them in the
side venv, so a peer release that renames its attributes shows here.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agentspans.cli import main
from agentspans.pricing import default_table

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "peers"
PEERS = ("openinference", "openllmetry", "openlit")
# What the fake provider sends for the workload: two chats and one embedding (gpt-4o-mini: 21
# input of which 8 cached, 5 output; text-embedding-3-small: 7), at the bundled prices: the
# report prices other instrumentations' spans as agentspans' processor prices its own.
EXPECTED = {
    "llm_calls": 3,
    "input_tokens": 21 + 21 + 7,
    "output_tokens": 5 + 5,
    "cost_usd": round(
        2 * default_table().cost("gpt-4o-mini", 21, 5, 8, provider="openai")
        + default_table().cost("text-embedding-3-small", 7, 0, provider="openai"),
        12,
    ),
}


def report_totals(path: Path) -> dict[str, Any]:
    """The summed totals of ``agentspans report --format json`` on ``path``."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["report", "--format", "json", str(path)])
    assert status == 0
    traces = json.loads(out.getvalue())["traces"]
    names = ("llm_calls", "input_tokens", "output_tokens")
    totals: dict[str, Any] = {name: sum(t["totals"][name] for t in traces) for name in names}
    totals["cost_usd"] = round(sum(t["totals"]["cost_usd"] for t in traces), 12)
    return totals


@pytest.mark.parametrize("name", ["agentspans", *PEERS])
def test_recorded_trace_reads_as_the_workload(name: str) -> None:
    assert report_totals(FIXTURES / f"{name}.jsonl") == EXPECTED


def _peer_python(name: str) -> str:
    try:
        done = subprocess.run(
            ["bash", str(ROOT / "scripts" / "build-peers-venv.sh"), name],
            capture_output=True,
            text=True,
            timeout=1200,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot build the {name} venv: {exc}")
    if done.returncode != 0:
        pytest.skip(f"cannot build the {name} venv (no package index?): {done.stderr[-500:]}")
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PEERS))
def test_peer_written_now_reads_as_agentspans_own(tmp_path: Path, name: str) -> None:
    """Re-record with the pinned peer (in its side venv) and compare with agentspans' own run."""
    python = _peer_python(name)
    totals = {}
    for writer, interpreter in (("agentspans", sys.executable), (name, python)):
        out = tmp_path / f"{writer}.jsonl"
        done = subprocess.run(
            [interpreter, "-m", "tests.peers.workload", writer, str(out)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'src'}"},
        )
        assert done.returncode == 0, done.stderr[-2000:]
        totals[writer] = report_totals(out)
    assert totals == dict.fromkeys(totals, EXPECTED)
