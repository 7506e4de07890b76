"""Patching by import path, and putting everything back.

Every patch records the exact object it replaced (the raw ``__dict__`` entry, so a
``staticmethod`` stays a ``staticmethod``) and :meth:`Patches.restore_all` sets it back. Modules
not imported yet are patched when they are imported, through wrapt's post-import hooks; a hook
that fires after ``uninstrument()`` does nothing.
"""

from __future__ import annotations

import inspect
import sys
import threading
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import wrapt

from agentspans._errors import report_internal_error

# Every wrapt proxy (FunctionWrapper included) derives from this: in wrapt 2.x ObjectProxy is a
# subclass beside FunctionWrapper, no longer their common base.
_ANY_PROXY: type = getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy)

# Set on the plain wrappers of decorated functions (wrappers/_lifecycle.traced_function).
TRACED_MARK = "_agentspans_traced"


def _patched_already(value: Any) -> bool:
    """A wrapt proxy, or a function agentspans decorated: patching it again would nest spans."""
    if isinstance(value, _ANY_PROXY):
        return True
    function = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
    return getattr(function, TRACED_MARK, False) is True


# Given (owner, attribute name, the original callable), the wrapt-style wrapper to install.
WrapperFactory = Callable[[Any, str, Any], Callable[..., Any]]


@dataclass
class _Patch:
    owner: Any
    attribute: str
    original: Any
    installed: Any
    # False when the attribute was inherited: restoring then deletes ours instead of copying
    # the base class's function into the subclass.
    owned: bool


def split_import_path(path: str) -> tuple[str, str]:
    module_name, _, attribute_path = path.partition(":")
    return module_name, attribute_path


def expand_wildcard(module: types.ModuleType, attribute_path: str) -> Iterator[tuple[Any, str]]:
    """Yield ``(owner, attribute)`` for each target that ``attribute_path`` names in ``module``.

    ``*`` is every public function defined in the module (not those it imported);
    ``Class.*`` is every public function defined in the class body.
    """
    parts = attribute_path.split(".")
    if parts[-1] == "*":
        owner: Any = module
        for part in parts[:-1]:
            owner = getattr(owner, part)
        for name, value in list(vars(owner).items()):
            if name.startswith("_") or _patched_already(value):
                continue
            function = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
            if not inspect.isfunction(function):
                continue
            if isinstance(owner, types.ModuleType) and function.__module__ != owner.__name__:
                continue
            yield owner, name
        return
    owner = module
    for part in parts[:-1]:
        owner = getattr(owner, part)
    if not hasattr(owner, parts[-1]):
        raise AttributeError(f"{module.__name__} has no attribute {attribute_path!r}")
    yield owner, parts[-1]


class Patches:
    """The patches one ``instrument()`` made; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._patches: list[_Patch] = []
        self._undo: list[Callable[[], None]] = []
        self._active = True

    def wrap(self, owner: Any, attribute: str, make_wrapper: WrapperFactory) -> bool:
        """Replace ``owner.attribute`` with a ``wrapt.FunctionWrapper``; False if already ours."""
        own = vars(owner)
        owned = attribute in own
        raw = own[attribute] if owned else getattr(owner, attribute)
        if _patched_already(raw):
            return False  # patched already (by us through another path, or by someone else)
        installed = wrapt.FunctionWrapper(raw, make_wrapper(owner, attribute, raw))
        with self._lock:
            if not self._active:
                return False
            setattr(owner, attribute, installed)
            self._patches.append(_Patch(owner, attribute, raw, installed, owned))
        return True

    def patch_path(self, path: str, make_wrapper: WrapperFactory) -> None:
        """Patch ``module:attr`` now if the module is loaded, otherwise when it is imported."""
        module_name, attribute_path = split_import_path(path)

        def apply(module: types.ModuleType) -> None:
            if not self._active:
                return
            try:
                targets = list(expand_wildcard(module, attribute_path))
            except AttributeError as exc:
                from agentspans._errors import warn_once

                warn_once(f"patch:{path}", "agentspans: cannot patch %s: %s", path, exc)
                return
            for owner, attribute in targets:
                try:
                    self.wrap(owner, attribute, make_wrapper)
                except Exception as exc:
                    report_internal_error(f"patching {path}", exc)

        module = sys.modules.get(module_name)
        if module is not None:
            apply(module)
        else:
            wrapt.register_post_import_hook(apply, module_name)

    def on_import(
        self, module_name: str, install: Callable[[types.ModuleType], Callable[[], None] | None]
    ) -> None:
        """Run ``install(module)`` now if ``module_name`` is loaded, otherwise when it is imported.

        For integrations that register with a library's own extension point (a tracing
        processor, a callback handler, an event listener) instead of wrapping a function:
        ``install`` returns the function that unregisters it, which :meth:`restore_all` calls.
        """

        def apply(module: types.ModuleType) -> None:
            if not self._active:
                return
            try:
                undo = install(module)
            except Exception as exc:
                report_internal_error(f"instrumenting {module_name}", exc)
                return
            if undo is None:
                return
            if not self._keep_undo(undo):
                undo()  # uninstrument() ran while install() did

        module = sys.modules.get(module_name)
        if module is not None:
            apply(module)
        else:
            wrapt.register_post_import_hook(apply, module_name)

    def _keep_undo(self, undo: Callable[[], None]) -> bool:
        with self._lock:
            if self._active:
                self._undo.append(undo)
            return self._active

    def restore_all(self) -> None:
        with self._lock:
            self._active = False
            patches, self._patches = self._patches, []
            undos, self._undo = self._undo, []
        for undo in reversed(undos):
            try:
                undo()
            except Exception as exc:
                report_internal_error("uninstrumenting an integration", exc)
        for patch in reversed(patches):
            if vars(patch.owner).get(patch.attribute) is not patch.installed:
                continue  # someone patched over us since; leave their object in place
            if patch.owned:
                setattr(patch.owner, patch.attribute, patch.original)
            else:
                delattr(patch.owner, patch.attribute)

    def __len__(self) -> int:
        return len(self._patches)
