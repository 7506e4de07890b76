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

step "stack: Prometheus and docker-compose (Debian), Collector and Jaeger (Go modules)"
# The stack tests (tests/stack/) run a real Prometheus and check docker-compose.yml with
# Debian's docker-compose client (no engine needed); CI runs as root on a fresh machine.
if ! command -v prometheus >/dev/null || ! command -v docker-compose >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    prometheus docker-compose >/dev/null
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

step "benchmarks --short"
# They print ratios, they do not pass or fail on them: this only keeps them from rotting.
# instructions.py counts instructions with valgrind's callgrind (about 30 s in short mode).
if ! command -v valgrind >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind >/dev/null
fi
bash benchmarks/run_short.sh "$VENV/bin/python"
