"""instrument()'s options are declared once (``_config.Options``) and checked at the call."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import agentspans
from agentspans._config import OPTION_NAMES, ConfigError, Options, resolve

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_unknown_keyword_is_a_type_error_naming_the_options() -> None:
    with pytest.raises(TypeError, match=r"exporters=.*unknown option.*exporter, ") as caught:
        agentspans.instrument(exporters="file")  # type: ignore[call-arg]
    assert isinstance(caught.value, ConfigError)
    assert agentspans.instrumentation() is None
    for name in OPTION_NAMES:
        assert name in str(caught.value)


def test_every_option_has_its_docs_row() -> None:
    documented = re.findall(r"^\| `([a-z_]+)` \|", DOCS.read_text(encoding="utf-8"), re.M)
    assert set(documented) >= set(OPTION_NAMES)
    assert len(OPTION_NAMES) == 25


def test_instrument_and_resolve_take_the_declared_options() -> None:
    for function in (agentspans.instrument, resolve):
        (parameter,) = inspect.signature(function).parameters.values()
        assert parameter.kind is inspect.Parameter.VAR_KEYWORD
        assert "Unpack[Options]" in str(parameter.annotation)
    assert Options.__total__ is False


def test_a_wrong_value_still_says_what_to_change() -> None:
    with pytest.raises(ConfigError, match=r"max_traces_held=0.*positive integer"):
        resolve(max_traces_held=0)
