"""What happens when agentspans itself fails.

In an application an internal error is logged once per place and swallowed, so the user's call goes
on untouched. Under a test suite (``AGENTSPANS_STRICT=1``; our own ``conftest.py`` sets it) the same
error is raised, so a bug in the instrumentation cannot hide behind a log line.
"""

from __future__ import annotations

import logging
import os
import threading

logger = logging.getLogger("agentspans")

_STRICT_VALUES = frozenset({"1", "true", "yes", "on"})
_reported: set[str] = set()
_reported_lock = threading.Lock()


def _after_fork_in_child() -> None:
    global _reported_lock
    _reported_lock = threading.Lock()  # one held by another thread at the fork stays held


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class InternalError(RuntimeError):
    """Raised in strict mode in place of a swallowed internal error."""


def strict() -> bool:
    """Whether internal errors are raised instead of logged (read each time: tests flip it)."""
    return os.environ.get("AGENTSPANS_STRICT", "").strip().lower() in _STRICT_VALUES


def report_internal_error(where: str, exc: BaseException | None = None) -> None:
    """Log an internal failure once per ``where``; in strict mode raise it.

    Must be called from an ``except`` block (or with ``exc``) so the traceback is kept.
    """
    if strict():
        raise InternalError(f"agentspans internal error in {where}") from exc
    with _reported_lock:
        if where in _reported:
            return
        _reported.add(where)
    logger.warning(
        "agentspans: internal error in %s; the application continues without this piece of "
        "telemetry (further errors here are not logged)",
        where,
        exc_info=exc if exc is not None else True,
    )


def warn_once(key: str, message: str, *args: object) -> None:
    """Log ``message`` at WARNING level the first time ``key`` is seen."""
    with _reported_lock:
        if key in _reported:
            return
        _reported.add(key)
    logger.warning(message, *args)


# Distinct keys remembered per family by warn_once_per; past the cap one summary warning stands
# for the rest, so an app sending ever new model names cannot grow our memory without bound.
MAX_KEYS_PER_FAMILY = 256
_families: dict[str, int] = {}


def warn_once_per(family: str, key: str, message: str, *args: object) -> None:
    """Like :func:`warn_once` for ``family:key``, remembering at most
    :data:`MAX_KEYS_PER_FAMILY` keys per family; then one summary warning, and no more."""
    full = f"{family}:{key}"
    with _reported_lock:
        if full in _reported:
            return
        count = _families.get(family, 0)
        if count > MAX_KEYS_PER_FAMILY:
            return
        _families[family] = count + 1
        if count == MAX_KEYS_PER_FAMILY:
            summary = True
        else:
            summary = False
            _reported.add(full)
    if summary:
        logger.warning(
            "agentspans: more than %d distinct %s warnings; further ones are not logged",
            MAX_KEYS_PER_FAMILY,
            family,
        )
        return
    logger.warning(message, *args)


def reset_reported() -> None:
    """Forget what was reported (for tests and for ``uninstrument``)."""
    with _reported_lock:
        _reported.clear()
        _families.clear()
