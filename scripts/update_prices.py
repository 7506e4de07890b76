"""Regenerate ``src/agentspans/data/prices.json`` from LiteLLM's price and context-window table.

    .venv/bin/python scripts/update_prices.py            # from the installed litellm package
    .venv/bin/python scripts/update_prices.py --source model_prices_and_context_window.json

LiteLLM (MIT licence) maintains ``model_prices_and_context_window.json`` and ships a copy inside
the package (``litellm/model_prices_and_context_window_backup.json``); the newest one lives at
https://github.com/BerriAI/litellm. This script keeps the standard-tier token prices (no batch,
flex or priority tiers), the cache read/write prices, the long-context surcharges and the input
context window of every chat, completion, responses and embedding model, converts them to USD per
million tokens and writes them sorted, one model per line, so a refresh reads as a small diff.
agentspans reads only the generated file, offline; nothing here runs at run time.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).resolve().parents[1] / "src" / "agentspans" / "data" / "prices.json"
# Hand-kept entries for names the source no longer lists (retired first-party Anthropic models).
SUPPLEMENT = Path(__file__).resolve().parent / "prices_supplement.json"
_MODES = frozenset({"chat", "completion", "responses", "embedding"})
# Self-hosted servers bill nobody; agentspans gives their calls no cost by provider instead.
_SKIPPED_PROVIDERS = frozenset({"ollama", "ollama_chat", "hosted_vllm", "vllm", "llamafile"})
_FIELDS = {
    "input": "input_cost_per_token",
    "output": "output_cost_per_token",
    "cached_input": "cache_read_input_token_cost",
    "cache_write_input": "cache_creation_input_token_cost",
}
_TIER = re.compile(r"^(?P<base>.+)_above_(?P<n>\d+)k_tokens$")


def _per_million(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None
    return round(float(value) * 1e6, 6)


def _tiers(spec: dict[str, Any]) -> list[dict[str, float | int]]:
    """Long-context surcharges (``input_cost_per_token_above_200k_tokens`` and friends)."""
    by_threshold: dict[int, dict[str, float | int]] = {}
    for key, value in spec.items():
        match = _TIER.match(key)
        if match is None:
            continue
        field = next((ours for ours, theirs in _FIELDS.items() if theirs == match["base"]), None)
        price = _per_million(value)
        if field is None or price is None:
            continue
        threshold = int(match["n"]) * 1000
        by_threshold.setdefault(threshold, {"above": threshold})[field] = price
    return [
        tier
        for _, tier in sorted(by_threshold.items())
        if "input" in tier and "output" in tier  # a tier must say both to replace the base price
    ]


def convert(source: dict[str, Any]) -> dict[str, dict[str, Any]]:
    models: dict[str, dict[str, Any]] = {}
    for name, spec in source.items():
        if not isinstance(spec, dict) or spec.get("mode") not in _MODES:
            continue
        provider = spec.get("litellm_provider")
        if provider in _SKIPPED_PROVIDERS:
            continue
        entry: dict[str, Any] = {}
        for ours, theirs in _FIELDS.items():
            price = _per_million(spec.get(theirs))
            if price is not None:
                entry[ours] = price
        if "input" not in entry:
            continue
        entry.setdefault("output", 0.0)  # embeddings: LiteLLM leaves output out or at 0
        tiers = _tiers(spec)
        if tiers:
            entry["tiers"] = tiers
        window = spec.get("max_input_tokens")
        if isinstance(window, int) and not isinstance(window, bool) and window > 0:
            entry["context_window"] = window
        if isinstance(provider, str):
            entry["provider"] = provider
        models[name.strip().lower()] = entry
    return models


def render(models: dict[str, dict[str, Any]], as_of: str, source: str) -> str:
    header = {
        "unit": "USD per 1,000,000 tokens",
        "as_of": as_of,
        "source": source,
        "license": "Derived from LiteLLM's model_prices_and_context_window.json, "
        "Copyright (c) 2023 Berri AI, MIT License.",
        "notes": "Standard-tier list prices. input applies to uncached input tokens; "
        "cached_input to cache reads; cache_write_input to cache creation; a tier replaces the "
        "prices when the request's input tokens exceed 'above'; context_window is the model's "
        "input limit in tokens. Regenerate with scripts/update_prices.py; override or extend "
        "with instrument(prices=...) or AGENTSPANS_PRICES_FILE.",
    }
    lines = ["{"]
    for key, value in header.items():
        lines.append(f"  {json.dumps(key)}: {json.dumps(value)},")
    lines.append('  "models": {')
    rows = [
        f"    {json.dumps(name)}: {json.dumps(entry, separators=(', ', ': '))}"
        for name, entry in sorted(models.items())
    ]
    lines.append(",\n".join(rows))
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _installed_litellm_table() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        sys.exit("litellm is not installed; pass --source FILE")
    return Path(spec.origin).parent / "model_prices_and_context_window_backup.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--source", type=Path, help="a model_prices_and_context_window.json")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--as-of", default=datetime.date.today().isoformat())
    args = parser.parse_args(argv)
    source_path: Path = args.source or _installed_litellm_table()
    source = json.loads(source_path.read_text(encoding="utf-8"))
    label = f"LiteLLM model_prices_and_context_window.json ({source_path.name}"
    if args.source is None:
        from importlib.metadata import version

        label += f", litellm {version('litellm')}"
    label += ")"
    models = convert(source)
    supplement = json.loads(SUPPLEMENT.read_text(encoding="utf-8"))["models"]
    added = {name: entry for name, entry in supplement.items() if name not in models}
    models.update(added)
    if added:
        label += f"; plus {len(added)} from scripts/{SUPPLEMENT.name}"
    args.output.write_text(render(models, args.as_of, label), encoding="utf-8")
    windows = sum("context_window" in entry for entry in models.values())
    print(f"wrote {len(models)} models ({windows} with a context window) to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
