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

step "pytest"
"$VENV/bin/python" -m pytest "$@"
