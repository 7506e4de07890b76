"""With content capture off, no exported byte and no log line holds the prompt or the API key."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from agentspans import semconv

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "the secret prompt about purple elephants 7f3e"
API_KEY = "sk-test-SECRET-key-0c41d"


def _run_app(tmp_path: Path, libraries: str, capture: bool) -> tuple[bytes, str]:
    out = tmp_path / "traces.jsonl"
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}",
        "AGENTSPANS_STRICT": "1",
        "AGENTSPANS_EXPORTER": "file",
        "AGENTSPANS_FILE_PATH": str(out),
        "AGENTSPANS_METRICS": "false",
        "AGENTSPANS_CAPTURE_CONTENT": "true" if capture else "false",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "PRIVACY_LIBRARIES": libraries,
        "HOME": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "tests.llm.privacy_app", PROMPT, API_KEY],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    logs = result.stdout.decode() + result.stderr.decode()
    assert result.returncode == 0, logs
    return out.read_bytes(), logs


def _llm_providers(exported: bytes) -> list[str]:
    """``gen_ai.provider.name`` of every exported LLM span."""
    found = []
    for line in exported.splitlines():
        for resource in json.loads(line)["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                for span in scope["spans"]:
                    keys = {a["key"]: a["value"] for a in span["attributes"]}
                    operation = keys.get(semconv.GEN_AI_OPERATION_NAME, {}).get("stringValue")
                    if operation in ("chat", "embeddings"):
                        found.append(keys[semconv.GEN_AI_PROVIDER_NAME]["stringValue"])
    return found


def _installed() -> str:
    names = [name for name in ("openai", "anthropic", "litellm") if importlib.util.find_spec(name)]
    if not names:
        pytest.skip("no LLM client library installed")
    return ",".join(names)


def test_capture_off_exports_neither_prompt_nor_key(tmp_path: Path) -> None:
    libraries = _installed()
    exported, logs = _run_app(tmp_path, libraries, capture=False)
    providers = _llm_providers(exported)
    # every library's calls were traced and exported (litellm's and openai's as "openai")
    assert providers.count("openai") >= (6 if "openai" in libraries else 1)
    if "anthropic" in libraries:
        assert providers.count("anthropic") == 3
    assert "app caught" in logs  # the error calls happened too
    for secret in (PROMPT, API_KEY, "purple elephants", "SECRET-key"):
        assert secret.encode() not in exported
        assert secret not in logs


def test_capture_on_exports_the_prompt_but_never_the_key(tmp_path: Path) -> None:
    exported, logs = _run_app(tmp_path, _installed(), capture=True)
    assert PROMPT.encode() in exported  # proves the grep above would have found it
    assert API_KEY.encode() not in exported
    assert API_KEY not in logs
