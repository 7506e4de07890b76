"""Reading a property that only returns an instance attribute straight from ``__dict__``.

openai's ``client.base_url`` is such a property, but in recent versions it runs a function-level
relative import (``from .lib._client_auth import syncbase_url``) and a call on every read:
~14k instructions per LLM call, more than the rest of reading the request's server. Per class,
once, :func:`plain_field` reads the getter's bytecode: when it is ``return self.NAME``, or a
function-level import of a function that is itself ``return self.NAME`` then ``return f(self)``,
the property's value is always ``self.__dict__["NAME"]`` (the class has nothing of that name
that could take precedence). Anything else (a getter that computes, a class that intercepts
attribute access, a descriptor of that name) gets None and the caller reads the property.

Only the bytecode is inspected, never executed; an unknown interpreter's bytecode shapes are
simply not recognised. ``tests/llm/test_getters.py`` holds the fast read equal to the property.
"""

from __future__ import annotations

import dis
import importlib.util
import inspect
import sys
import types
from typing import Any

# Per class and property name: the instance attribute the property returns, or None.
_FIELDS: dict[tuple[type, str], str | None] = {}
_MAX_FIELDS = 256
# Instructions that change nothing a getter returns (frame set-up, cache slots, call set-up).
_IGNORED = frozenset({"RESUME", "NOP", "CACHE", "PRECALL", "PUSH_NULL", "KW_NAMES"})
_OBJECT_GETATTRIBUTE: Any = object.__getattribute__
_LOAD_LOCAL = frozenset({"LOAD_FAST", "LOAD_FAST_BORROW", "LOAD_FAST_CHECK"})


def plain_field(cls: type, name: str) -> str | None:
    """The attribute of an instance of ``cls`` that its property ``name`` returns, or None."""
    key = (cls, name)
    try:
        return _FIELDS[key]
    except KeyError:
        pass
    try:
        found = _field_of_property(cls, name)
    except Exception:  # anything unexpected while inspecting: take the property
        found = None
    if len(_FIELDS) < _MAX_FIELDS:
        _FIELDS[key] = found
    return found


def _field_of_property(cls: type, name: str) -> str | None:
    if getattr(cls, "__getattribute__", None) is not _OBJECT_GETATTRIBUTE:
        return None
    prop = inspect.getattr_static(cls, name, None)
    if type(prop) is not property or not isinstance(prop.fget, types.FunctionType):
        return None
    field = _returned_field(prop.fget, follow_import=True)
    missing = object()
    if field is None or inspect.getattr_static(cls, field, missing) is not missing:
        return None  # a class attribute of that name could answer instead of __dict__
    return field


def _ops(function: types.FunctionType) -> list[dis.Instruction]:
    return [i for i in dis.get_instructions(function) if i.opname not in _IGNORED]


def _returned_field(function: types.FunctionType, *, follow_import: bool) -> str | None:
    """NAME when ``function(self)`` is ``return self.NAME`` (or, with ``follow_import``, a
    function-level ``from .module import f`` then ``return f(self)`` with such an ``f``)."""
    code = function.__code__
    if code.co_argcount != 1 or function.__defaults__ or function.__kwdefaults__:
        return None
    self_name = code.co_varnames[0]
    ops = _ops(function)
    shape = [op.opname for op in ops]
    if (
        len(ops) == 3
        and ops[0].opname in _LOAD_LOCAL
        and ops[0].argval == self_name
        and shape[1:] == ["LOAD_ATTR", "RETURN_VALUE"]
        and isinstance(ops[1].argval, str)
    ):
        return ops[1].argval
    if follow_import:
        target = _imported_and_called(function, ops, self_name)
        if target is not None:
            return _returned_field(target, follow_import=False)
    return None


def _imported_and_called(
    function: types.FunctionType, ops: list[dis.Instruction], self_name: str
) -> types.FunctionType | None:
    """``f`` when ``function`` is ``from .module import f; return f(self)``, with the module
    already imported (nothing is imported here)."""
    shape = [op.opname for op in ops]
    if shape != [
        "LOAD_CONST",
        "LOAD_CONST",
        "IMPORT_NAME",
        "IMPORT_FROM",
        "STORE_FAST",
        "POP_TOP",
        "LOAD_FAST",
        "LOAD_FAST",
        "CALL",
        "RETURN_VALUE",
    ]:
        return None
    level, names, module, imported, stored = (op.argval for op in ops[:5])
    if (
        not isinstance(level, int)
        or names != (imported,)
        or stored != imported
        or ops[6].argval != imported
        or ops[7].argval != self_name
        or ops[8].arg != 1
    ):
        return None
    package = function.__globals__.get("__package__")
    absolute = importlib.util.resolve_name("." * level + module, package) if level else str(module)
    target = getattr(sys.modules.get(absolute), str(imported), None)
    return target if isinstance(target, types.FunctionType) else None


def read_property(instance: Any, name: str) -> Any:
    """``getattr(instance, name, None)``, from ``__dict__`` where :func:`plain_field` allows."""
    field = plain_field(type(instance), name)
    if field is not None:
        fields = getattr(instance, "__dict__", None)
        if type(fields) is dict and field in fields:
            return fields[field]
    return getattr(instance, name, None)
