"""scripts/update_prices.py: LiteLLM's per-token table to our per-million one."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

from agentspans.pricing import PriceTable, Usage

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "update_prices.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("update_prices", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SOURCE = {
    "sample_spec": {"mode": "one of: chat, embedding"},
    "Acme-Chat": {
        "mode": "chat",
        "litellm_provider": "acme",
        "input_cost_per_token": 2e-06,
        "output_cost_per_token": 8e-06,
        "cache_read_input_token_cost": 5e-07,
        "input_cost_per_token_batches": 1e-06,  # batch tier: not the standard price
        "input_cost_per_token_above_128k_tokens": 4e-06,
        "output_cost_per_token_above_128k_tokens": 1.6e-05,
        "max_input_tokens": 256000,
        "max_output_tokens": 8192,
    },
    "acme-embed": {"mode": "embedding", "litellm_provider": "acme", "input_cost_per_token": 1e-08},
    "acme-image": {"mode": "image_generation", "input_cost_per_token": 1e-06},
    "ollama/llama3": {"mode": "chat", "litellm_provider": "ollama", "input_cost_per_token": 0.0},
    "acme-free-text": {"mode": "chat", "litellm_provider": "acme"},
}


def test_convert_keeps_standard_token_prices_tiers_and_windows(tmp_path: Path) -> None:
    script = _script()
    source = tmp_path / "source.json"
    source.write_text(json.dumps(SOURCE))
    output = tmp_path / "prices.json"
    assert (
        script.main(["--source", str(source), "--output", str(output), "--as-of", "2030-01-02"])
        == 0
    )
    document = json.loads(output.read_text())
    assert document["as_of"] == "2030-01-02"
    assert "source.json" in document["source"] and "MIT" in document["license"]
    models = document["models"]
    assert models["acme-chat"] == {
        "input": 2.0,
        "output": 8.0,
        "cached_input": 0.5,
        "tiers": [{"above": 128000, "input": 4.0, "output": 16.0}],
        "context_window": 256000,
        "provider": "acme",
    }
    assert models["acme-embed"]["input"] == 0.01 and models["acme-embed"]["output"] == 0.0
    for skipped in ("sample_spec", "acme-image", "ollama/llama3", "acme-free-text"):
        assert skipped not in models
    # The supplement adds only names the source lacks.
    supplement = json.loads((SCRIPT.parent / "prices_supplement.json").read_text())["models"]
    assert set(supplement) <= set(models)
    # The generated file is a valid agentspans table and prices through the tier.
    table = PriceTable.from_file(output)
    assert table.cost("acme-chat", 1_000, 100) == (1_000 * 2.0 + 100 * 8.0) / 1e6
    assert table.quote("acme-chat", Usage(200_000, 100)).usd == (200_000 * 4.0 + 100 * 16.0) / 1e6
