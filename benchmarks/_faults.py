"""Backend faults for the soak and the reliability suite: the real Collector, and a proxy in front.

The Collector is the one ``scripts/build-stack.sh`` builds, run with a small configuration:
OTLP/gRPC and OTLP/HTTP in, the ``file`` exporter out (OTLP/JSON lines, as
``collector/examples/file.yaml`` writes them), so a test can read every byte that arrived.

:class:`FaultProxy` sits on the port the app exports to and plays the faults: ``absent``
(nothing listens: connection refused), ``pass`` (forwards to the Collector), ``blackhole``
(accepts and never answers), ``slow`` (forwards, each chunk delayed). The Collector itself can
be SIGKILLed and restarted behind it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

COLLECTOR_CONFIG = """
extensions:
  health_check:
    endpoint: 127.0.0.1:{health}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
      http:
        endpoint: 127.0.0.1:{http}
exporters:
  file:
    path: {path}
    format: json
    flush_interval: 100ms
service:
  extensions: [health_check]
  telemetry:
    logs:
      level: warn
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
    metrics:
      receivers: [otlp]
      exporters: [file]
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def collector_binary() -> tuple[Path | None, str]:
    """The Collector binary, or None and why there is none."""
    try:
        out = subprocess.run(
            ["bash", str(REPO / "scripts" / "build-stack.sh"), "--paths"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"scripts/build-stack.sh --paths failed ({exc})"
    paths = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    binary = Path(paths.get("AGENTSPANS_OTELCOL", ""))
    if not binary.is_file():
        return None, (
            f"the Collector binary {binary} is not built; run `bash scripts/build-stack.sh` "
            "(needs Go) to build it"
        )
    return binary, ""


class Collector:
    """The real Collector on free ports, writing what it receives to ``path``."""

    def __init__(self, binary: Path, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.path = workdir / "received.jsonl"
        self.ports = {name: free_port() for name in ("grpc", "http", "health")}
        self.config = workdir / "collector.yaml"
        self.config.write_text(COLLECTOR_CONFIG.format(path=self.path, **self.ports))
        self.process: subprocess.Popen[bytes] | None = None
        self.log = workdir / "collector.log"

    def start(self, wait: bool = True) -> Collector:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(self.binary), "--config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        url = f"http://127.0.0.1:{self.ports['health']}/"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"the Collector exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the Collector did not become ready: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, as when a container is killed."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def received_bytes(self) -> bytes:
        return self.path.read_bytes() if self.path.exists() else b""

    def spans(self) -> Iterator[dict[str, Any]]:
        """Every span received (the file exporter's OTLP/JSON lines)."""
        for line in self.received_bytes().splitlines():
            try:
                document = json.loads(line)
            except ValueError:
                continue  # the last line may still be half written
            for resource in document.get("resourceSpans", ()):
                for scope in resource.get("scopeSpans", ()):
                    yield from scope.get("spans", ())


def attribute(span: dict[str, Any], key: str) -> Any:
    for item in span.get("attributes", ()):
        if item.get("key") == key:
            value = item.get("value", {})
            for kind in ("stringValue", "intValue", "doubleValue", "boolValue"):
                if kind in value:
                    return value[kind]
    return None


class FaultProxy:
    """A TCP proxy on ``port`` in front of the Collector port ``upstream``, playing faults."""

    def __init__(self, upstream: int, port: int | None = None, delay_s: float = 0.3) -> None:
        self.port = port or free_port()
        self.upstream = upstream
        self.delay_s = delay_s
        self.mode = "absent"
        self._server: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()

    def set(self, mode: str) -> None:
        """``absent``, ``pass``, ``blackhole`` or ``slow``; open connections are cut."""
        with self._lock:
            self.mode = mode
            for connection in self._connections:
                try:
                    connection.close()
                except OSError:
                    pass
            self._connections.clear()
        if mode == "absent":
            # Before the first listen nothing is there (connection refused). Later the port
            # stays bound (another process could take it meanwhile) and each connection is
            # reset at once, which the exporters see the same way.
            return
        if self._server is None:
            server = socket.socket()
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.0.0.1", self.port))
            server.listen(64)
            self._server = server
            threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def close(self) -> None:
        self.set("absent")
        if self._server is not None:
            self._server.close()
            self._server = None

    def _track(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.append(connection)

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            self._track(client)
            mode = self.mode
            if mode == "absent":
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()  # RST
                continue
            if mode == "blackhole":
                threading.Thread(target=self._swallow, args=(client,), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream), timeout=2)
            except OSError:
                client.close()  # the Collector is down: as a refused connection would look
                continue
            self._track(upstream)
            delay = self.delay_s if mode == "slow" else 0.0
            threading.Thread(target=self._pipe, args=(client, upstream, delay), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, 0.0), daemon=True).start()

    @staticmethod
    def _swallow(client: socket.socket) -> None:
        try:
            while client.recv(65536):
                pass
        except OSError:
            pass

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket, delay_s: float) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if delay_s:
                    time.sleep(delay_s)
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                try:
                    end.close()
                except OSError:
                    pass


def peak_rss_bytes() -> int:
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def environment(**extra: str) -> dict[str, str]:
    """A clean environment for an app process that imports agentspans from this checkout."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": f"{REPO / 'src'}:{REPO}",
        "HOME": os.environ.get("HOME", "/tmp"),
    }
    env.update(extra)
    return env
