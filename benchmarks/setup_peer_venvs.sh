#!/usr/bin/env bash
# Builds one virtual environment per peer instrumentation for benchmarks/per_call.py, under
# ~/.cache/agentspans/bench-venvs/ (override with AGENTSPANS_BENCH_VENVS). The peers cannot share
# one environment: their OpenTelemetry and openai pins conflict, and pip backtracks for a quarter
# of an hour trying. Each venv gets a marker file `ok` once its install succeeded, and a
# `failed` file with pip's last lines when it did not, so the benchmark reports a peer it could
# not build instead of dropping it.
#
#   bash benchmarks/setup_peer_venvs.sh            # all peers
#   bash benchmarks/setup_peer_venvs.sh openlit    # one peer
#   bash benchmarks/setup_peer_venvs.sh openinference-openai-agents   # benchmarks/frameworks.py
set -uo pipefail

PYTHON=${PYTHON:-python3}
ROOT=${AGENTSPANS_BENCH_VENVS:-$HOME/.cache/agentspans/bench-venvs}
mkdir -p "$ROOT"

# The contrib instrumentation and traceloop import `httpx`, which openai 3 (built on httpx2) no
# longer brings in. Versions known to resolve together (pip backtracking otherwise takes many minutes).
OTEL_CONSTRAINTS="$ROOT/otel-1.45.1.txt"
cat >"$OTEL_CONSTRAINTS" <<'PINS'
opentelemetry-api==1.45.1
opentelemetry-sdk==1.45.1
opentelemetry-proto==1.45.1
opentelemetry-exporter-otlp==1.45.1
opentelemetry-exporter-otlp-proto-common==1.45.1
opentelemetry-exporter-otlp-proto-http==1.45.1
opentelemetry-exporter-otlp-proto-grpc==1.45.1
opentelemetry-semantic-conventions==0.66b1
opentelemetry-instrumentation==0.66b1
PINS

requirements() {
  case "$1" in
    contrib-openai-v2)
      echo "opentelemetry-instrumentation-openai-v2==2.4b0 opentelemetry-util-genai==1.1b0 opentelemetry-sdk openai httpx psutil" ;;
    openlit)
      echo "openlit==1.45.0 openai<3 psutil -c $OTEL_CONSTRAINTS" ;;
    traceloop-sdk)
      echo "traceloop-sdk==0.62.4 openai httpx psutil -c $OTEL_CONSTRAINTS" ;;
    openinference-openai-agents)  # benchmarks/frameworks.py only; not in the default list
      echo "openinference-instrumentation-openai-agents==2.6.0 openai-agents==0.24.0 opentelemetry-sdk psutil" ;;
    *) echo "unknown peer: $1" >&2; return 1 ;;
  esac
}

build() {
  local peer=$1 dir="$ROOT/$1"
  local reqs
  reqs=$(requirements "$peer") || return 1
  rm -rf "$dir"
  echo "== $peer: $reqs"
  "$PYTHON" -m venv "$dir" || return 1
  "$dir/bin/python" -m pip install --quiet --upgrade pip >/dev/null
  # shellcheck disable=SC2086  # the requirement list is meant to split into words
  if timeout 900 "$dir/bin/python" -m pip install --quiet $reqs >"$dir/pip.log" 2>&1; then
    "$dir/bin/python" -m pip freeze >"$dir/ok"
    echo "   ok: $(grep -iE '^(openai|opentelemetry-sdk|openlit|traceloop-sdk|opentelemetry-instrumentation-openai-v2)==' "$dir/ok" | tr '\n' ' ')"
  else
    tail -n 20 "$dir/pip.log" >"$dir/failed"
    echo "   FAILED (see $dir/failed)"
  fi
}

peers=("$@")
[ ${#peers[@]} -gt 0 ] || peers=(contrib-openai-v2 openlit traceloop-sdk)
for peer in "${peers[@]}"; do
  build "$peer"
done
