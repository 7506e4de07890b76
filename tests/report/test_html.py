"""``agentspans report --format html`` opened in a real headless Chromium.

The page is rendered from demo traces, opened from a file, and read back after its scripts ran
(``--dump-dom``): its totals, agents and findings must be those of ``--format json`` on the same
file. Chromium runs with every request sent to a trap proxy on 127.0.0.1, which must see no
connection from the report (and does see one from a control page that makes a request, so the
trap is known to work). A screenshot is taken too.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")
ENV = {"PATH": "/usr/bin:/bin", "PYTHONPATH": SRC, "AGENTSPANS_STRICT": "1"}
DEMO = (sys.executable, "-m", "agentspans", "demo", "--speed", "10", "--format", "json")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed (scripts/test.sh installs it: apt-get install "
    "chromium); the HTML report's browser test needs a real browser",
)


# Chromium's own service traffic (time sync, component updates, sign-in), which some builds send
# whatever the flags: exact host names, so a page request to any other host (a CDN included)
# still counts.
BROWSER_OWN_HOSTS = frozenset(
    {
        "accounts.google.com",
        "clients2.google.com",
        "clientservices.googleapis.com",
        "content-autofill.googleapis.com",
        "edgedl.me.gvt1.com",
        "optimizationguide-pa.googleapis.com",
        "redirector.gvt1.com",
        "safebrowsing.googleapis.com",
        "update.googleapis.com",
    }
)


def request_host(request: bytes) -> str:
    """The host a proxied request goes to (``CONNECT host:443`` or ``GET http://host/...``)."""
    line = request.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split()
    target = parts[1] if len(parts) > 1 else ""
    target = target.split("://", 1)[-1]
    return target.split("/", 1)[0].rsplit(":", 1)[0]


class Trap:
    """A TCP listener that Chromium uses as its proxy: every request the page makes lands here."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self.port = self._socket.getsockname()[1]
        self.requests: list[bytes] = []  # what pages asked for (not Chromium's own traffic)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    request = conn.recv(4096)
                    if request_host(request) not in BROWSER_OWN_HOSTS:
                        self.requests.append(request)
                    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    self.requests.append(b"")

    def close(self) -> None:
        self._socket.close()


def chromium(url: str, trap: Trap, *args: str) -> str:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                f"--proxy-server=http://127.0.0.1:{trap.port}",
                "--proxy-bypass-list=<-loopback>",  # loopback goes through the trap too
                "--virtual-time-budget=3000",
                *args,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@dataclass
class Rendered:
    page: Path
    json: dict[str, Any]
    dom: str
    trap: Trap


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rendered]:
    workdir = tmp_path_factory.mktemp("html")
    traces = workdir / "traces.jsonl"
    for seed in (1, 2):
        subprocess.run(
            [*DEMO, "--seed", str(seed), "--file", str(traces)],
            env=ENV,
            check=True,
            capture_output=True,
            timeout=120,
        )

    def report(fmt: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "agentspans", "report", "--format", fmt, str(traces)],
            env=ENV,
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout

    page = workdir / "report.html"
    page.write_text(report("html"), encoding="utf-8")
    document = json.loads(report("json"))
    trap = Trap()
    try:
        dom = chromium(page.as_uri(), trap, "--dump-dom")
        yield Rendered(page, document, dom, trap)
    finally:
        trap.close()


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def _totals(fragment: str) -> dict[str, str]:
    return {
        key: _text(value)
        for key, value in re.findall(r'<dd data-total="(\w+)">(.*?)</dd>', fragment, re.S)
    }


def _rows(fragment: str, kind: str) -> list[tuple[str, list[str]]]:
    rows = re.findall(rf'<tr data-{kind}="([^"]*)">(.*?)</tr>', fragment, re.S)
    return [
        (html.unescape(name), [_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)])
        for name, cells in rows
    ]


def _sections(dom: str) -> dict[str, str]:
    parts = re.split(r'(?=<section class="trace" data-trace-id=")', dom)
    return {
        re.match(r'<section class="trace" data-trace-id="(\w+)"', p).group(1): p  # type: ignore[union-attr]
        for p in parts[1:]
    }


def _dollars(text: str) -> float:
    assert text.startswith("$"), text
    return float(text[1:].replace(",", ""))


def test_the_scripts_ran_and_no_request_left_the_page(rendered: Rendered) -> None:
    assert re.search(r'<html[^>]*data-ready="true"', rendered.dom), "the page's script did not run"
    assert rendered.trap.requests == []
    # Nothing in the file could ask for anything: no external URL in an attribute or in CSS.
    source = rendered.page.read_text(encoding="utf-8")
    assert not re.search(r'(?:src|href|action)\s*=\s*["\']?(?:https?:)?//', source)
    assert "url(" not in source and "@import" not in source
    assert "default-src 'none'" in source
    # The trap does catch a page that makes requests.
    control = rendered.page.with_name("control.html")
    control.write_text(
        '<!DOCTYPE html><img src="http://agentspans-trap.test/pixel.png">'
        "<script>fetch('http://agentspans-trap.test/beacon').catch(function () {});</script>"
    )
    chromium(control.as_uri(), rendered.trap, "--dump-dom")
    assert any(b"agentspans-trap.test" in request for request in rendered.trap.requests)


def test_page_shows_the_json_reports_totals_agents_and_findings(rendered: Rendered) -> None:
    traces = rendered.json["traces"]
    assert len(traces) == 2
    sections = _sections(rendered.dom)
    assert set(sections) == {t["trace_id"] for t in traces}
    for trace in traces:
        section = sections[trace["trace_id"]]
        totals = _totals(section)
        for key in ("llm_calls", "tool_calls", "input_tokens", "output_tokens"):
            assert int(totals[key]) == trace["totals"][key], key
        assert _dollars(totals["cost_usd"]) == pytest.approx(trace["totals"]["cost_usd"], abs=5e-7)

        agents = _rows(section, "agent")
        assert [name for name, _ in agents] == [a["name"] for a in trace["agents"]]
        for (_, cells), agent in zip(agents, trace["agents"], strict=True):
            assert int(cells[1]) == agent["calls"]
            assert int(cells[4]) == agent["input_tokens"]
            assert int(cells[5]) == agent["output_tokens"]
            assert _dollars(cells[6]) == pytest.approx(agent["cost_usd"], abs=5e-7)

        shown = re.findall(
            r'<div class="finding (\w+)" data-kind="(\w+)" data-spans="([^"]*)">.*?'
            r'<p class="message">(.*?)</p>',
            section,
            re.S,
        )
        assert sorted(
            (sev, kind, spans.split(), html.unescape(msg)) for sev, kind, spans, msg in shown
        ) == sorted(
            (f["severity"], f["kind"], f["span_ids"], f["message"]) for f in trace["findings"]
        )
        # Every span a finding names is on the page's waterfall (its evidence can be marked).
        rows = set(re.findall(r'<div class="wf-row[^"]*" data-span="(\w+)"', section))
        for finding in trace["findings"]:
            assert set(finding["span_ids"]) <= rows

    overall = _totals(rendered.dom.split("<h2>", 1)[0])
    assert int(overall["llm_calls"]) == sum(t["totals"]["llm_calls"] for t in traces)
    assert int(overall["findings"]) == sum(len(t["findings"]) for t in traces)
    assert _dollars(overall["cost_usd"]) == pytest.approx(
        sum(t["totals"]["cost_usd"] for t in traces), abs=5e-7
    )


def test_per_agent_and_per_model_rows_over_every_trace(rendered: Rendered) -> None:
    traces = rendered.json["traces"]
    fleet = rendered.dom.split('<section class="trace"', 1)[0]
    agents = dict(_rows(fleet, "agent"))
    calls: dict[str, int] = {}
    for trace in traces:
        for agent in trace["agents"]:
            calls[agent["name"]] = calls.get(agent["name"], 0) + agent["calls"]
    assert {name: int(cells[1]) for name, cells in agents.items()} == calls
    models = dict(_rows(fleet, "model"))
    assert sum(int(cells[1]) for cells in models.values()) == sum(
        t["totals"]["llm_calls"] for t in traces
    )
    for cells in [*agents.values(), *models.values()]:
        # p50 <= p95 <= p99, an error rate, and a share of the critical path, all shown.
        assert cells[5].endswith("%") and cells[8].endswith("%")
    shares = sum(float(cells[8].rstrip("%")) for cells in agents.values())
    # Each share is shown to one decimal: the rounding adds up to 0.05 points per agent.
    assert 0 < shares <= 100 + 0.05 * len(agents) + 1e-9


def test_screenshot(rendered: Rendered, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    before = len(rendered.trap.requests)
    chromium(
        rendered.page.as_uri(), rendered.trap, f"--screenshot={shot}", "--window-size=1400,2400"
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a blank page is a few kB
    assert len(rendered.trap.requests) == before
