"""fork and multiprocessing: each child exports its own spans once, none of the parent's, and exits."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = Path(__file__).with_name("fork_app.py")
CHILDREN = 4


def _names(path: Path) -> Counter[tuple[str, str]]:
    """(span name, span id) -> how many times it was exported."""
    seen: Counter[tuple[str, str]] = Counter()
    for line in path.read_text().splitlines():
        for resource in json.loads(line)["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                for span in scope["spans"]:
                    label = span["name"]
                    for attribute in span.get("attributes", []):
                        if attribute["key"] == "gen_ai.tool.call.arguments":
                            label += attribute["value"]["stringValue"]
                    seen[(label, span["spanId"])] += 1
    return seen


@pytest.mark.parametrize("method", ["fork", "spawn", "os.fork"])
def test_children_export_their_own_spans_once(method: str, tmp_path: Path) -> None:
    out = tmp_path / "traces.jsonl"
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": f"{ROOT / 'src'}",
        "AGENTSPANS_STRICT": "1",
        "AGENTSPANS_EXPORTER": "file",
        "AGENTSPANS_FILE_PATH": str(out),
        "AGENTSPANS_METRICS": "false",
        "AGENTSPANS_RESOURCES": "false",
        "AGENTSPANS_CAPTURE_CONTENT": "true",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
    }
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(APP), method, str(CHILDREN)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=90,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    seen = _names(out)
    duplicates = {key: count for key, count in seen.items() if count > 1}
    assert not duplicates
    names = Counter(name for name, _ in seen)
    assert names["invoke_agent child-agent"] == CHILDREN
    for index in range(CHILDREN):
        for step in range(5):
            assert (
                names[f'execute_tool work{{"args": ["child-{index}-{step}"], "kwargs": {{}}}}'] == 1
            )
    assert names["invoke_agent parent-held"] == 1  # the parent's held trace: once, by the parent
    for step in range(3):
        assert names[f'execute_tool work{{"args": ["parent-{step}"], "kwargs": {{}}}}'] == 1
    assert elapsed < 60, f"took {elapsed:.1f}s"
