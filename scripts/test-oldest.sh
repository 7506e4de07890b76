#!/usr/bin/env bash
# Runs tests/llm against the OLDEST supported openai, anthropic and litellm releases (declared
# in src/agentspans/wrappers/_versions.py) in a second virtual environment kept outside the
# repository, so the main .venv keeps the newest. With --frameworks, runs tests/frameworks
# against OLDEST_FRAMEWORKS (openai-agents, mcp) in a third one instead.
# Usage: scripts/test-oldest.sh [--frameworks] [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ "${1:-}" = "--frameworks" ]; then
  shift
  GROUP=frameworks
  VENV=${AGENTSPANS_OLDEST_FRAMEWORKS_VENV:-$HOME/.cache/agentspans/oldest-frameworks-venv}
  TESTS=tests/frameworks
else
  GROUP=clients
  VENV=${AGENTSPANS_OLDEST_VENV:-$HOME/.cache/agentspans/oldest-venv}
  TESTS=tests/llm
fi

# Read the pins from _versions.py without importing agentspans (python3 may lack its deps).
pins=$(GROUP=$GROUP "$PYTHON" - <<'PY'
import ast, os
tree = ast.parse(open("src/agentspans/wrappers/_versions.py").read())
values = {}
for node in tree.body:
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
        values[node.target.id] = ast.literal_eval(node.value)
if os.environ["GROUP"] == "frameworks":
    pins = [f"{name}=={version}" for name, version in values["OLDEST_FRAMEWORKS"].items()]
    print(" ".join(pins + list(values["OLDEST_FRAMEWORK_COMPANIONS"])))
else:
    pins = [f"{name}=={version}" for name, version in values["OLDEST"].items()]
    print(" ".join(pins + list(values["OLDEST_COMPANIONS"])))
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
  "$VENV/bin/python" -m pip install --quiet -e . pytest pytest-asyncio tiktoken $pins
  echo "$pins" >"$stamp"
fi

"$VENV/bin/python" -m pip list 2>/dev/null \
  | grep -iE '^(openai|anthropic|litellm|httpx|openai-agents|mcp) ' || true
export LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_OFFLINE_MODE=true
exec "$VENV/bin/python" -m pytest "$TESTS" -q -p no:cacheprovider "$@"
