"""Start the real Collector, Jaeger and Prometheus binaries on free 127.0.0.1 ports.

Each service runs the stack's own configuration file (collector/*.yaml, jaeger/config.yaml)
with its listen addresses and destinations moved to free ports through the environment
variables those files read; Prometheus gets prometheus/prometheus.yml with its scrape targets
and intervals rewritten (Prometheus configuration has no environment variables).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "scripts" / "build-stack.sh"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str, timeout_s: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return json.loads(response.read().decode("utf-8"))


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(200 <= response.status < 300)
    except (OSError, urllib.error.URLError):
        return False


def wait_for(what: str, predicate: Callable[[], Any], timeout_s: float, step_s: float = 0.2) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(step_s)


@dataclass(frozen=True)
class Binaries:
    otelcol: Path
    jaeger: Path
    prometheus: Path


def stack_binaries() -> Binaries:
    """The binaries scripts/build-stack.sh built (building what is missing, when Go is there).

    Raises RuntimeError with the reason (no Go toolchain, no prometheus) instead of skipping:
    the stack tests are part of the suite, and a machine that cannot run them must say so.
    """
    paths = _build_stack_paths()
    otelcol, jaeger = Path(paths["AGENTSPANS_OTELCOL"]), Path(paths["AGENTSPANS_JAEGER"])
    if not (otelcol.is_file() and jaeger.is_file()):
        if shutil.which("go") is None:
            raise RuntimeError(
                "the stack tests need the Collector and Jaeger binaries built from their Go "
                f"modules, and the Go toolchain (>= 1.26) is not on PATH; install Go, then run "
                f"{BUILD_SCRIPT.relative_to(REPO)} (expected {otelcol} and {jaeger})"
            )
        subprocess.run(["bash", str(BUILD_SCRIPT)], check=True, cwd=REPO)
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        raise RuntimeError(
            "the stack tests need a real Prometheus: `apt-get install prometheus` "
            "(scripts/test.sh installs it)"
        )
    return Binaries(otelcol, jaeger, Path(prometheus))


def _build_stack_paths() -> dict[str, str]:
    out = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--paths"], check=True, cwd=REPO, capture_output=True, text=True
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


@dataclass
class Service:
    """One running binary, its log file, and how to tell it is ready."""

    name: str
    argv: list[str]
    env: Mapping[str, str]
    log_path: Path
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self, ready_url: str, timeout_s: float = 60.0) -> Service:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.argv,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        log.close()

        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log()}"
                )
            return http_ok(ready_url)

        try:
            wait_for(f"{self.name} at {ready_url}", ready, timeout_s)
        except TimeoutError as exc:
            self.stop()
            raise RuntimeError(f"{exc}\n{self.log()}") from None
        return self

    def url(self, port_name: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[port_name]}{path}"

    def log(self, tail_chars: int = 6000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail_chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_jaeger(binaries: Binaries, workdir: Path, prometheus_url: str) -> Service:
    ports = {
        name: free_port()
        for name in ("otlp_grpc", "otlp_http", "query", "query_grpc", "health", "telemetry")
    }
    env = {
        "JAEGER_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{ports['otlp_grpc']}",
        "JAEGER_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{ports['otlp_http']}",
        "JAEGER_QUERY_HTTP_ENDPOINT": f"127.0.0.1:{ports['query']}",
        "JAEGER_QUERY_GRPC_ENDPOINT": f"127.0.0.1:{ports['query_grpc']}",
        "JAEGER_HEALTH_ENDPOINT": f"127.0.0.1:{ports['health']}",
        "JAEGER_TELEMETRY_HOST": "127.0.0.1",
        "JAEGER_TELEMETRY_PORT": str(ports["telemetry"]),
        "JAEGER_PROMETHEUS_URL": prometheus_url,
    }
    service = Service(
        "jaeger",
        [str(binaries.jaeger), "--config", str(REPO / "jaeger" / "config.yaml")],
        env,
        workdir / "jaeger.log",
        ports,
    )
    return service.start(f"http://127.0.0.1:{ports['query']}/api/services")


def collector_env(ports: Mapping[str, int], destinations: Mapping[str, str]) -> dict[str, str]:
    """The environment that moves a collector/*.yaml Collector onto ``ports``."""
    env = {
        "AGENTSPANS_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{ports['otlp_grpc']}",
        "AGENTSPANS_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{ports['otlp_http']}",
        "AGENTSPANS_HEALTH_ENDPOINT": f"127.0.0.1:{ports['health']}",
        "AGENTSPANS_COLLECTOR_TELEMETRY_HOST": "127.0.0.1",
        "AGENTSPANS_COLLECTOR_TELEMETRY_PORT": str(ports["telemetry"]),
        "AGENTSPANS_BATCH_TIMEOUT": "200ms",
        "AGENTSPANS_SPANMETRICS_FLUSH_INTERVAL": "1s",
    }
    if "prometheus" in ports:
        env["AGENTSPANS_PROMETHEUS_EXPORTER_ENDPOINT"] = f"127.0.0.1:{ports['prometheus']}"
    env.update(destinations)
    return env


def collector_ports() -> dict[str, int]:
    return {n: free_port() for n in ("otlp_grpc", "otlp_http", "health", "telemetry", "prometheus")}


def start_collector(
    binaries: Binaries,
    workdir: Path,
    config: str,
    name: str,
    env: Mapping[str, str],
    ports: dict[str, int] | None = None,
    overlays: Sequence[str] = (),
) -> Service:
    """A Collector running ``collector/{config}`` on free ports (``ports``, when given), with
    ``env`` setting the destinations and knobs the file reads, and ``collector/{overlay}``
    files merged over it (as docs/stack.md shows for collector/examples/)."""
    ports = ports or collector_ports()
    argv = [str(binaries.otelcol), "--config", str(REPO / "collector" / config)]
    for overlay in overlays:
        argv += ["--config", str(REPO / "collector" / overlay)]
    service = Service(
        name,
        argv,
        collector_env(ports, env),
        workdir / f"{name}.log",
        ports,
    )
    return service.start(f"http://127.0.0.1:{ports['health']}/")


def prometheus_config(targets: Mapping[str, str], interval: str = "1s") -> dict[str, Any]:
    """prometheus/prometheus.yml with each job's targets replaced and intervals shortened."""
    config: dict[str, Any] = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text())
    config["global"]["scrape_interval"] = interval
    config["global"]["evaluation_interval"] = interval
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
    return config


def start_prometheus(binaries: Binaries, workdir: Path, targets: Mapping[str, str]) -> Service:
    port = free_port()
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(prometheus_config(targets)))
    (workdir / "prometheus-data").mkdir(exist_ok=True)
    service = Service(
        "prometheus",
        [
            str(binaries.prometheus),
            f"--config.file={config_path}",
            f"--storage.tsdb.path={workdir / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        {},
        workdir / "prometheus.log",
        {"http": port},
    )
    return service.start(f"http://127.0.0.1:{port}/-/ready")
