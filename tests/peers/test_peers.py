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

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "peers"
PEERS = ("openinference", "openllmetry", "openlit")
# What the fake provider sends for the workload: two chats and one embedding.
EXPECTED = {"llm_calls": 3, "input_tokens": 21 + 21 + 7, "output_tokens": 5 + 5}


def report_totals(path: Path) -> dict[str, Any]:
    """The summed totals of ``agentspans report --format json`` on ``path``."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["report", "--format", "json", str(path)])
    assert status == 0
    traces = json.loads(out.getvalue())["traces"]
    names = ("llm_calls", "input_tokens", "output_tokens")
    return {name: sum(trace["totals"][name] for trace in traces) for name in names}


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
