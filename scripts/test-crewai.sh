#!/usr/bin/env bash
# Runs tests/frameworks/test_crewai.py in a virtual environment of its own: crewai pins openai,
# pydantic and httpx below what the main test environment installs. The venv lives outside the
# repository (~/.cache/agentspans/crewai-venv) and is reused while the crewai pin
# (OLDEST_OWN_VENV in src/agentspans/wrappers/_versions.py) stays the same: about 2.5 minutes to
# build cold on two cores, a few seconds warm.  Usage: scripts/test-crewai.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${AGENTSPANS_CREWAI_VENV:-$HOME/.cache/agentspans/crewai-venv}

pin=$("$PYTHON" - <<'PY'
import ast
tree = ast.parse(open("src/agentspans/wrappers/_versions.py").read())
for node in tree.body:
    if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "OLDEST_OWN_VENV":
        print(f"crewai=={ast.literal_eval(node.value)['crewai']}")
PY
)
stamp="$VENV/.agentspans-pins"

if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$pin" ]; then
  echo "== creating $VENV with: $pin"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -e . pytest pytest-asyncio "$pin"
  echo "$pin" >"$stamp"
fi
# The editable install points at this checkout whichever built the venv.
"$VENV/bin/python" -m pip install --quiet --no-deps -e .

"$VENV/bin/python" -m pip list 2>/dev/null | grep -iE '^(crewai|openai|litellm) ' || true
export CREWAI_DISABLE_TELEMETRY=true CREWAI_TRACING_ENABLED=false
exec "$VENV/bin/python" -m pytest tests/frameworks/test_crewai.py tests/frameworks/test_absent.py \
  -q -p no:cacheprovider "$@"
