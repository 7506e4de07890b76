#!/usr/bin/env bash
# Runs tests/frameworks against the OLDEST supported agent frameworks (OLDEST_FRAMEWORKS in
# src/agentspans/wrappers/_versions.py) in a virtual environment kept outside the repository, so
# the main .venv keeps the newest. Reused while the pins stay the same (seconds warm).
# Usage: scripts/test-frameworks-oldest.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${AGENTSPANS_FRAMEWORKS_OLDEST_VENV:-$HOME/.cache/agentspans/frameworks-oldest-venv}

pins=$("$PYTHON" - <<'PY'
import ast
tree = ast.parse(open("src/agentspans/wrappers/_versions.py").read())
values = {}
for node in tree.body:
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
        values[node.target.id] = ast.literal_eval(node.value)
print(" ".join(f"{name}=={version}" for name, version in values["OLDEST_FRAMEWORKS"].items()))
PY
)
stamp="$VENV/.agentspans-pins"

if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$pins" ]; then
  echo "== creating $VENV with: $pins"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  # shellcheck disable=SC2086
  "$VENV/bin/python" -m pip install --quiet -e . pytest pytest-asyncio $pins
  echo "$pins" >"$stamp"
fi

"$VENV/bin/python" -m pip list 2>/dev/null | grep -iE '^(langchain-core|langgraph|langchain-openai|openai) ' || true
exec "$VENV/bin/python" -m pytest tests/frameworks -q -p no:cacheprovider "$@"
