from __future__ import annotations

import pytest

import agentspans
from agentspans.analysis import Thresholds


def test_defaults_and_overrides() -> None:
    assert Thresholds.from_mapping({}) == Thresholds()
    limits = Thresholds.from_mapping({"slow_tool_call_ms": "2500", "parallelizable_min_calls": 4.0})
    assert limits.slow_tool_call_ms == 2500.0
    assert limits.parallelizable_min_calls == 4
    assert isinstance(limits.parallelizable_min_calls, int)
    assert set(Thresholds().as_dict()) == set(Thresholds.names())


def test_unknown_name_lists_the_accepted_ones() -> None:
    with pytest.raises(
        ValueError, match="unknown threshold 'slow_tool_ms'; accepted names: "
    ) as caught:
        Thresholds.from_mapping({"slow_tool_ms": 1})
    assert "slow_tool_call_ms" in str(caught.value)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("slow_tool_call_ms", "fast", "expected a number"),
        ("slow_tool_call_ms", -1, ">= 0"),
        ("slow_tool_call_ms", float("nan"), "finite"),
        ("slow_tool_call_ms", True, "expected a number"),
        ("parallelizable_min_calls", 2.5, "whole number"),
        ("parallelizable_min_calls", 0, "whole number >= 1"),
        ("cost_hotspot_share", 1.5, "share between 0 and 1"),
    ],
)
def test_bad_values_name_the_key_and_value(key: str, value: object, expected: str) -> None:
    with pytest.raises(ValueError, match=expected) as caught:
        Thresholds.from_mapping({key: value})
    assert str(caught.value).startswith(f"threshold {key}=")


def test_instrument_rejects_a_bad_threshold_at_setup() -> None:
    with pytest.raises(agentspans.ConfigError, match="unknown threshold 'nope'"):
        agentspans.instrument(thresholds={"nope": 1}, exporter="none")
    assert agentspans.instrumentation() is None


def test_docs_list_every_threshold_with_its_default() -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "analysis.md").read_text()
    rows = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`") and cells[0].endswith("`"):
            rows[cells[0].strip("`")] = cells[1]
    for name, default in Thresholds().as_dict().items():
        assert name in rows, f"docs/analysis.md lacks threshold {name}"
        assert float(rows[name]) == default, name


def test_a_sequence_threshold_of_zero_made_directly_reads_as_one() -> None:
    # from_mapping refuses 0; a Thresholds built directly with it once made analyze() raise
    # IndexError on an empty run. It now means what 1 means: a run has at least one call.
    import random
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from analysis_scaling import mixed, wide

    from agentspans.analysis import analyze

    kinds = set()
    for shape in (mixed, wide):
        records = shape(300, random.Random(7))
        zero = analyze(records, Thresholds(parallelizable_min_calls=0))
        one = analyze(records, Thresholds(parallelizable_min_calls=1))
        assert zero == one
        kinds.update(f.kind for f in one[0].findings)
    assert "parallelizable_sequence" in kinds
