#!/usr/bin/env bash
# Builds the side virtual environment in which tests/peers runs another instrumentation of the
# openai client (openinference, openllmetry or openlit) to record its OTLP/JSON: the peers patch
# the same methods agentspans does, so none can share a process with it, and their pins conflict
# with each other, so each gets a venv of its own. Kept outside the repository; rebuilt only when
# the pins change. Prints the venv's python on success.
# Usage: scripts/build-peers-venv.sh NAME
set -euo pipefail
cd "$(dirname "$0")/.."

name=${1:?usage: build-peers-venv.sh openinference|openllmetry|openlit}
case "$name" in
  # each with an openai release it instruments (openinference: openai >= 2.8)
  openinference) pin="openai==2.19.0 openinference-instrumentation-openai==0.1.66" ;;
  openllmetry) pin="openai==1.109.1 opentelemetry-instrumentation-openai==0.62.4" ;;
  openlit) pin="openai==1.109.1 openlit==1.45.0" ;;
  *) echo "unknown peer: $name" >&2; exit 2 ;;
esac
PYTHON=${PYTHON:-python3}
VENV=${AGENTSPANS_PEERS_DIR:-$HOME/.cache/agentspans/peers}/$name
PINS="$pin"
stamp="$VENV/.agentspans-pins"

if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$PINS" ]; then
  echo "== creating $VENV with: $PINS" >&2
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
  pip=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
  # The peer's own pins first; agentspans (for its OTLP/JSON file exporter) beside them without
  # its dependency pins, which can conflict with the peer's (openlit's OpenTelemetry range).
  # shellcheck disable=SC2086
  "${pip[@]}" $PINS opentelemetry-sdk wrapt psutil rich >&2
  "${pip[@]}" --no-deps -e . >&2
  echo "$PINS" >"$stamp"
fi
echo "$VENV/bin/python"
