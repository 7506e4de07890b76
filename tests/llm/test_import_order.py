"""instrument() never imports a client library; one imported later is patched on import."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import sys
    import agentspans

    agentspans.instrument(exporter="none", metrics=False, resources=False)
    imported = sorted({"openai", "anthropic", "litellm"} & set(sys.modules))
    assert not imported, f"instrument() imported {imported}"

    import wrapt
    PROXY = getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy)  # wrapt 2.x / 1.x
    import openai
    from openai.resources.chat.completions import Completions
    assert isinstance(vars(Completions)["create"], PROXY)
    import anthropic
    from anthropic.resources.messages import Messages
    assert isinstance(vars(Messages)["create"], PROXY)
    import litellm
    assert isinstance(litellm.completion, PROXY)

    agentspans.uninstrument()
    assert not isinstance(vars(Completions)["create"], PROXY)
    assert not isinstance(litellm.completion, PROXY)
    print("ok")
    """
)


def test_libraries_imported_after_instrument_are_patched_then_restored(tmp_path: Path) -> None:
    for name in ("openai", "anthropic", "litellm"):
        pytest.importorskip(name)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT / "src"),
            "AGENTSPANS_STRICT": "1",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_OFFLINE_MODE": "true",
            "HOME": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")
