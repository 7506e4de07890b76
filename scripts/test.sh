#!/usr/bin/env bash
# The project's one test command (README, .ci/run): installs what it needs into .venv, then runs
# the linters, the type checker, the test suite (with the real Collector and Jaeger binaries
# built from their Go modules) and the benchmarks in their short mode.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${AGENTSPANS_VENV:-.venv}

step() { printf '\n== %s (%s)\n' "$1" "$(date +%H:%M:%S)"; }

step "virtual environment $VENV"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e ".[dev]"

step "ruff"
"$VENV/bin/ruff" check src tests benchmarks
"$VENV/bin/ruff" format --check src tests benchmarks

step "mypy"
"$VENV/bin/mypy"

step "complexity (radon): no function in src/ worse than C"
"$VENV/bin/python" scripts/check_complexity.py

step "stack: Prometheus and docker-compose (Debian), Collector and Jaeger (Go modules)"
# The stack tests (tests/stack/) run a real Prometheus and check docker-compose.yml with
# Debian's docker-compose client (no engine needed); CI runs as root on a fresh machine.
# tests/report/test_html.py opens the HTML report in Debian's headless chromium (it skips,
# saying so, without one).
if ! command -v prometheus >/dev/null || ! command -v docker-compose >/dev/null \
    || ! command -v chromium >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    prometheus docker-compose chromium >/dev/null
fi
# Builds only what the cache lacks (minutes cold, a second warm); see docs/stack.md.
bash scripts/build-stack.sh

step "pytest"
# pytest exits 5 when nothing was collected: that is a failure here too (set -e).
"$VENV/bin/python" -m pytest "$@"

step "pytest tests/llm on the oldest supported openai, anthropic and litellm"
# A second venv outside the repository (~/.cache/agentspans/oldest-venv), reused while the pins
# in src/agentspans/wrappers/_versions.py stay the same.
PYTHON="$PYTHON" bash scripts/test-oldest.sh

step "pytest tests/frameworks on the oldest supported agent frameworks"
# A third venv (~/.cache/agentspans/oldest-frameworks-venv): ~3 min to build cold, ~15 s warm.
PYTHON="$PYTHON" bash scripts/test-oldest.sh --frameworks

step "pytest tests/frameworks/test_crewai.py in crewai's own venv"
# ~/.cache/agentspans/crewai-venv: crewai pins openai/pydantic/httpx below the main venv's;
# ~2.5-5 min to build cold, ~40 s warm.
PYTHON="$PYTHON" bash scripts/test-crewai.sh

step "benchmarks --short"
# They print ratios, they do not pass or fail on them: this only keeps them from rotting.
# instructions.py counts instructions with valgrind's callgrind (about 30 s in short mode).
if ! command -v valgrind >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind >/dev/null
fi
bash benchmarks/run_short.sh "$VENV/bin/python"
