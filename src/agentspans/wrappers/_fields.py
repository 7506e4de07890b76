"""Reading provider objects that may be malformed: the accessors every client module shares.

Responses arrive as pydantic models, as dicts (a raw body, litellm's objects) or as something
unexpected; these never raise and never iterate unknown things. Below ``_llm``, ``_content``
and ``_streams`` in the import graph, so none of them needs another for a field.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any


def sent(value: Any) -> bool:
    """Whether an argument was really sent: not None, not the SDKs' ``NOT_GIVEN`` / ``omit``."""
    if value is None:
        return False
    return type(value).__name__ not in ("NotGiven", "Omit", "_NotGiven", "_Omit")


# Whether a type is a Mapping, per type: ``isinstance(x, Mapping)`` runs ABCMeta's Python-level
# check on every call, and a response is read field by field. Bounded, so that types made on the
# fly cannot grow it without end (beyond the bound they are checked each time).
_IS_MAPPING: dict[type, bool] = {dict: True}
_MAX_REMEMBERED_TYPES = 256


def _is_mapping(value: Any) -> bool:
    cls = type(value)
    if value.__class__ is not cls:  # a proxy: what it stands for may differ per instance
        return isinstance(value, Mapping)
    known = _IS_MAPPING.get(cls)
    if known is not None:
        return known
    answer = isinstance(value, Mapping)
    if len(_IS_MAPPING) < _MAX_REMEMBERED_TYPES:
        _IS_MAPPING[cls] = answer
    return answer


# Per (pydantic v2 model class, name): whether nothing on the class answers to ``name``, so that
# ``getattr`` finds it in the instance's ``__dict__`` (a field) or else goes to pydantic's
# ``__getattr__``, which looks in the extras and raises AttributeError (twice over, through the
# class) when the name is not there. A response reader asks a chat completion for the Responses
# API's ``output`` and Anthropic's ``content`` on every call: read here, a missing name costs
# two dict lookups instead of two raised exceptions.
_PLAIN_MODEL_FIELD: dict[tuple[type, str], bool] = {}


def _plain_model_field(cls: type, name: str) -> bool:
    key = (cls, name)
    known = _PLAIN_MODEL_FIELD.get(key)
    if known is None:
        known = _is_plain_model_field(cls, name)
        if len(_PLAIN_MODEL_FIELD) < 4 * _MAX_REMEMBERED_TYPES:
            _PLAIN_MODEL_FIELD[key] = known
    return known


def _is_plain_model_field(cls: type, name: str) -> bool:
    pydantic = sys.modules.get("pydantic")
    base = getattr(pydantic, "BaseModel", None)
    if not isinstance(base, type) or not str(getattr(pydantic, "VERSION", "")).startswith("2."):
        return False
    try:
        private = getattr(cls, "__private_attributes__", None)
        return (
            issubclass(cls, base)
            and getattr(cls, "__getattr__", None) is getattr(base, "__getattr__", None)
            and cls.__getattribute__ is object.__getattribute__
            and isinstance(private, dict)
            and name not in private
            and not hasattr(cls, name)
        )
    except Exception:
        return False


def _model_field(value: Any, name: str) -> Any:
    """``getattr(value, name, None)`` for a name :func:`_plain_model_field` vouched for."""
    fields = value.__dict__
    if name in fields:
        return fields[name]
    try:
        extra = object.__getattribute__(value, "__pydantic_extra__")
    except AttributeError:  # a model not fully initialised
        return None
    return extra[name] if extra and name in extra else None


def field_of(value: Any, name: str) -> Any:
    """``value.name`` or ``value[name]``: provider objects arrive as models or as dicts."""
    if value is None:
        return None
    if _is_mapping(value):
        return value.get(name)
    try:
        if _plain_model_field(type(value), name):
            return _model_field(value, name)
        return getattr(value, name, None)
    except Exception:  # a property of a malformed model may raise
        return None


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def as_number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def items_of(value: Any) -> list[Any]:
    """``value`` as a list when it is a list or tuple, else empty (never iterate unknown things)."""
    return list(value) if isinstance(value, (list, tuple)) else []
