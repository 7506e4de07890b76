#!/usr/bin/env bash
# Every benchmark in its short mode, as CI runs them: each prints its table and fails only when
# agentspans itself could not be measured (a peer whose venv is absent is reported, not fatal).
#
#   bash benchmarks/run_short.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${1:-${PYTHON:-.venv/bin/python}}
for script in benchmarks/[!_]*.py; do
  printf '\n== %s --short\n' "$script"
  "$PYTHON" "$script" --short
done
