"""With a framework absent (or present but not imported), instrument() imports nothing of it."""

from __future__ import annotations

import os
import subprocess
import sys

FRAMEWORK_MODULES = ("langchain_core", "langgraph", "langchain_openai", "crewai")

PROGRAM = """
import sys
import agentspans
agentspans.instrument(exporter="none", resources=False, metrics=False)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {modules!r})
agentspans.uninstrument()
print(",".join(loaded))
"""


def test_instrument_imports_no_framework() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(modules=set(FRAMEWORK_MODULES))],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "AGENTSPANS_STRICT": "1"},
    )
    assert out.stdout.strip() == ""


def test_instrument_works_when_the_frameworks_cannot_be_imported() -> None:
    # A meta-path finder that refuses the frameworks: as if they were not installed.
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {set(FRAMEWORK_MODULES)!r}:\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
    )
    program = (
        blocker
        + PROGRAM.format(modules=set(FRAMEWORK_MODULES))
        + (
            "from agentspans.wrappers import FRAMEWORK_INTEGRATIONS\n"
            "agentspans.instrument(exporter='none', resources=False, metrics=False,"
            " libraries=list(FRAMEWORK_INTEGRATIONS))\n"
            "agentspans.uninstrument()\nprint('ok')\n"
        )
    )
    out = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "AGENTSPANS_STRICT": "1"},
    )
    assert out.stdout.split() == ["ok"], out.stderr
