"""With content capture off, no exported byte (our file; OTLP as the real Collector received
it, metrics included) and no log line holds the prompt, the completion, the API key or the auth
header, even though the provider's errors echo them and the app's exceptions wrap those errors.
With capture on, the key is still absent."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from benchmarks._faults import Collector, collector_binary
from tests.llm.servers import REPLY_TEXT

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "the secret prompt about purple elephants 7f3e"
API_KEY = "sk-test-SECRET-key-0c41d"
SECRETS = (PROMPT, "purple elephants", API_KEY, "SECRET-key", f"Bearer {API_KEY}")


def _libraries(capture: bool) -> str:
    # litellm (slow to import) only with capture off: that is where its errors could leak
    wanted = ("openai", "anthropic") if capture else ("openai", "anthropic", "litellm")
    names = [name for name in wanted if importlib.util.find_spec(name)]
    if not names:
        pytest.skip("no LLM client library installed")
    return ",".join(names)


def _run(tmp_path: Path, capture: bool, otlp_endpoint: str | None) -> tuple[bytes, str]:
    out = tmp_path / "traces.jsonl"
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}",
        "HOME": str(tmp_path),
        "AGENTSPANS_STRICT": "1",
        "AGENTSPANS_EXPORTER": "file,otlp" if otlp_endpoint else "file",
        "AGENTSPANS_FILE_PATH": str(out),
        "AGENTSPANS_CAPTURE_CONTENT": "true" if capture else "false",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    if otlp_endpoint:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp_endpoint
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.reliability.privacy_app",
            PROMPT,
            API_KEY,
            _libraries(capture),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=180,
    )
    logs = result.stdout.decode() + result.stderr.decode()
    assert result.returncode == 0, logs
    assert logs.count("app caught") >= 6
    return out.read_bytes(), logs


def _assert_clean(exported: bytes, logs: str, capture: bool) -> None:
    secrets = (API_KEY, "SECRET-key") if capture else (*SECRETS, REPLY_TEXT)
    for secret in secrets:
        assert secret.encode() not in exported, secret
        assert secret not in logs, secret


@pytest.mark.parametrize("capture", [False, True])
def test_every_exported_byte_and_log_line(tmp_path: Path, capture: bool) -> None:
    """Our file, and OTLP (traces and metrics) as the Collector received it when it is built."""
    binary, why = collector_binary()
    collector = Collector(binary, tmp_path).start() if binary is not None else None
    try:
        endpoint = f"http://127.0.0.1:{collector.ports['grpc']}" if collector else None
        exported, logs = _run(tmp_path, capture, endpoint)
    finally:
        if collector is not None:
            collector.stop()  # the file exporter flushes at shutdown
    assert b"invoke_agent privacy-agent" in exported and b'"exception"' in exported
    received = b""
    if collector is not None:
        received = collector.received_bytes()
        assert b"invoke_agent privacy-agent" in received
        assert b"resourceMetrics" in received  # the metrics went through the Collector too
    _assert_clean(exported + received, logs, capture)
    if capture:
        assert PROMPT.encode() in exported  # the scan could have found it
    if collector is None:
        pytest.skip(f"scanned the file export only: {why}")
