"""docs/attributes.md and agentspans.semconv list the same names, so neither can drift."""

from __future__ import annotations

import re
from pathlib import Path

from agentspans import semconv

DOC = Path(__file__).resolve().parents[2] / "docs" / "attributes.md"

# Names the page documents in its first column that are not constants in semconv.py: the SDK's
# service.name, and the anthropic SDK's own names that wrappers/anthropic.py reads.
NOT_IN_SEMCONV = {
    "service.name",
    "gen_ai.usage.cache_write.input_tokens",
    "anthropic.message.stop_reason",
}

_BACKTICKED = re.compile(r"`([A-Za-z0-9_.]+)`")


def _semconv_names() -> dict[str, str]:
    """Constant name -> value for every attribute, event or metric name (values with a dot).

    Values without a dot are operation names (``chat``), token types (``input``) and the
    instrumentation scope (``agentspans``): they are values, not names of attributes.
    """
    return {
        constant: value
        for constant, value in vars(semconv).items()
        if not constant.startswith("_") and isinstance(value, str) and "." in value
    }


def _first_column_names(text: str) -> set[str]:
    """The backticked names in the first cell of each table row (the rows that document)."""
    names: set[str] = set()
    for line in text.splitlines():
        if not line.startswith("|") or line.startswith("|---"):
            continue
        first_cell = line.split("|")[1]
        names.update(_BACKTICKED.findall(first_cell))
    return names


def test_semconv_has_names_to_check() -> None:
    names = _semconv_names()
    # Guards against a filter that silently collects nothing.
    assert names["REQUEST_FINGERPRINT"] == "agentspans.request.fingerprint"
    assert names["COST_USD"] == "agentspans.cost.usd"
    assert "OP_CHAT" not in names and "INSTRUMENTATION_SCOPE" not in names


def test_every_semconv_name_has_a_row() -> None:
    documented = _first_column_names(DOC.read_text(encoding="utf-8"))
    missing = sorted(
        f"{constant} = {value!r}"
        for constant, value in _semconv_names().items()
        if value not in documented
    )
    assert not missing, f"not documented in a table row of {DOC.name}: {missing}"


def test_every_agentspans_name_on_the_page_is_in_semconv() -> None:
    values = set(_semconv_names().values())
    text = DOC.read_text(encoding="utf-8")
    mentioned = {name for name in _BACKTICKED.findall(text) if name.startswith("agentspans.")}
    unknown = sorted(mentioned - values)
    assert not unknown, f"{DOC.name} names agentspans.* attributes semconv.py lacks: {unknown}"


def test_every_documented_row_name_is_known() -> None:
    values = set(_semconv_names().values())
    documented = _first_column_names(DOC.read_text(encoding="utf-8"))
    # Rows of the span-name table start with a description, not a name.
    dotted = {name for name in documented if "." in name}
    unknown = sorted(dotted - values - NOT_IN_SEMCONV)
    assert not unknown, f"{DOC.name} documents names semconv.py does not define: {unknown}"


def test_contract_names_are_marked_fixed() -> None:
    rows = [
        line
        for line in DOC.read_text(encoding="utf-8").splitlines()
        if line.startswith("|")
        and line.split("|")[1].strip()
        in (f"`{semconv.REQUEST_FINGERPRINT}`", f"`{semconv.COST_USD}`")
    ]
    assert rows, "the contract names have no rows"
    assert all("**fixed**" in row for row in rows), rows
