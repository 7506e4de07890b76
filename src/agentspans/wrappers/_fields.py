"""Reading provider objects that may be malformed: the accessors every client module shares.

Responses arrive as pydantic models, as dicts (a raw body, litellm's objects) or as something
unexpected; these never raise and never iterate unknown things. Below ``_llm``, ``_content``
and ``_streams`` in the import graph, so none of them needs another for a field.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping
from typing import Any


def sent(value: Any) -> bool:
    """Whether an argument was really sent: not None, not the SDKs' ``NOT_GIVEN`` / ``omit``."""
    if value is None:
        return False
    return type(value).__name__ not in ("NotGiven", "Omit", "_NotGiven", "_Omit")


# How values of a type are read, per type: ``isinstance(x, Mapping)`` runs ABCMeta's
# Python-level check on every call, and a response is read field by field. Bounded, so that
# types made on the fly cannot grow it without end (beyond the bound they are checked each time).
_MAPPING, _MODEL, _OBJECT = "mapping", "model", "object"
_KINDS: dict[type, str] = {dict: _MAPPING}
_MAX_REMEMBERED_TYPES = 256

# Per (pydantic v2 model class, name): whether nothing on the class answers to ``name``, so that
# ``getattr`` finds it in the instance's ``__dict__`` (a field) or else goes to pydantic's
# ``__getattr__``, which looks in the extras and raises AttributeError (twice over, through the
# class) when the name is not there. A response reader asks a chat completion for the Responses
# API's ``output`` and Anthropic's ``content`` on every call: read here, a missing name costs
# two dict lookups instead of two raised exceptions.
_PLAIN_MODEL_FIELD: dict[tuple[type, str], bool] = {}


def _kind_of(value: Any, cls: type) -> str:
    if isinstance(value, Mapping):
        kind = _MAPPING
    elif value.__class__ is cls and _is_pydantic_model(cls):
        kind = _MODEL
    else:
        kind = _OBJECT
    # A proxy (``__class__`` not its type) may stand for something else per instance.
    if value.__class__ is cls and len(_KINDS) < _MAX_REMEMBERED_TYPES:
        _KINDS[cls] = kind
    return kind


def _is_pydantic_model(cls: type) -> bool:
    """A pydantic v2 model class whose attribute reads are pydantic's own."""
    pydantic = sys.modules.get("pydantic")
    base = getattr(pydantic, "BaseModel", None)
    if not isinstance(base, type) or not str(getattr(pydantic, "VERSION", "")).startswith("2."):
        return False
    try:
        return (
            issubclass(cls, base)
            and getattr(cls, "__getattr__", None) is getattr(base, "__getattr__", None)
            and cls.__getattribute__ is object.__getattribute__
            and isinstance(getattr(cls, "__private_attributes__", None), dict)
        )
    except Exception:
        return False


def _remember_plain_field(cls: type, name: str) -> bool:
    try:
        plain = name not in cls.__private_attributes__ and not hasattr(cls, name)  # type: ignore[attr-defined]
    except Exception:
        plain = False
    if len(_PLAIN_MODEL_FIELD) < 4 * _MAX_REMEMBERED_TYPES:
        _PLAIN_MODEL_FIELD[(cls, name)] = plain
    return plain


def _model_extra(value: Any, name: str) -> Any:
    """What pydantic's ``__getattr__`` answers for a plain name: an extra field, or nothing."""
    try:
        extra = object.__getattribute__(value, "__pydantic_extra__")
    except AttributeError:  # a model not fully initialised
        return None
    return extra[name] if extra and name in extra else None


def field_of(value: Any, name: str) -> Any:
    """``value.name`` or ``value[name]``: provider objects arrive as models or as dicts."""
    if value is None:
        return None
    cls = type(value)
    if cls is dict:
        return value.get(name)
    kind = _KINDS.get(cls) if value.__class__ is cls else None
    if kind is None:
        kind = _kind_of(value, cls)
    if kind is _MAPPING:
        return value.get(name)
    try:
        if kind is _MODEL:
            plain = _PLAIN_MODEL_FIELD.get((cls, name))
            if plain is None:
                plain = _remember_plain_field(cls, name)
            if plain:
                fields = value.__dict__
                return fields[name] if name in fields else _model_extra(value, name)
        return getattr(value, name, None)
    except Exception:  # a property of a malformed model may raise
        return None


# Per (pydantic v2 model class, names): whether every one of the names is a plain field name
# there (see ``_PLAIN_MODEL_FIELD``), so that ``reader_of`` may read them from ``__dict__``.
_ALL_PLAIN: dict[tuple[type, tuple[str, ...]], bool] = {}


def reader_of(value: Any, names: tuple[str, ...]) -> Callable[[str], Any]:
    """A function reading ``value``'s fields among ``names`` exactly as ``field_of`` does.

    A response is read a handful of fields at a time, and each ``field_of`` call costs several
    times the read itself. For a dict, or a pydantic model without extra fields whose ``names``
    are plain field names, the reader is the ``get`` of the dict the fields are in (a missing
    name is then nowhere, as for ``field_of``); for anything else it is ``field_of`` itself.
    Only ``names`` may be read through it.
    """
    cls = type(value)
    if cls is dict:
        return value.get  # type: ignore[no-any-return]
    if value is not None and value.__class__ is cls:
        kind = _KINDS.get(cls)
        if kind is None:
            kind = _kind_of(value, cls)
        if kind is _MODEL:
            key = (cls, names)
            plain = _ALL_PLAIN.get(key)
            if plain is None:
                plain = all(_remember_plain_field(cls, name) for name in names)
                if len(_ALL_PLAIN) < 4 * _MAX_REMEMBERED_TYPES:
                    _ALL_PLAIN[key] = plain
            if plain:
                try:
                    extra = object.__getattribute__(value, "__pydantic_extra__")
                    fields = value.__dict__
                except AttributeError:  # a model not fully initialised
                    extra = fields = None
                if fields is not None and not extra:
                    return fields.get  # type: ignore[no-any-return]
    return functools.partial(field_of, value)


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
