"""What an exception may say on a span: never an API key, and no provider's echo of the request.

Providers (and the gateways and local servers in front of them) often echo the request, and
sometimes the key it came with, in their error messages. The app's own exceptions around an LLM
call can carry the same text (``raise AppError(f"LLM failed: {e}") from e``). So:

* an exception is *provider-related* when it, or any exception chained to it (``__cause__`` or
  ``__context__``), is a provider client's exception type or passed through a provider client's
  code; with content capture off such an exception is recorded by type only: no message, and a
  stack trace of file, line and function names alone (no source lines, no chained messages);
* everything recorded (any message, any stack trace) has what looks like a secret replaced by
  ``[REDACTED]``, with content capture on too: ``sk-...`` keys, ``Bearer`` tokens,
  ``api_key=...`` / ``authorization: ...`` pairs, and the values of the process's ``*_API_KEY``,
  ``*_TOKEN`` and ``*_SECRET`` environment variables.

Local variables of stack frames are never read.
"""

from __future__ import annotations

import os
import re
import traceback
from types import TracebackType

from opentelemetry.trace import Span, Status, StatusCode

from agentspans import semconv

# Top-level packages whose exceptions (or code) may carry the request or the key.
_PROVIDER_PACKAGES = frozenset(
    {"openai", "anthropic", "litellm", "httpx", "httpcore", "requests", "urllib3", "aiohttp"}
)
_MAX_CHAIN = 16  # exceptions followed through __cause__ / __context__
_MAX_FRAMES_WALKED = 256
_HEAD_FRAMES, _TAIL_FRAMES = 32, 16
_MAX_MESSAGE_CHARS = 4096
REDACTED = "[REDACTED]"

_SECRET = re.compile(
    r"""
      \b(?:sk|pk|rk)-[A-Za-z0-9_\-]{6,}                       # sk-..., sk-ant-..., sk-proj-...
    | \bBearer\s+[^\s"',;)}\]]+                                # Authorization: Bearer ...
    | \bBasic\s+[A-Za-z0-9+/=]{8,}                              # Authorization: Basic ...
    | (?<=[\s"'{,(])(?:api[_-]?key|x-api-key|authorization|access[_-]?token|secret|password)
      ["']?\s*[:=]\s*["']?(?:(?:Bearer|Basic|Token)\s+)?[^\s"',;)}\]]+  # api_key=...
    | \bAIza[0-9A-Za-z_\-]{20,}                               # Google API keys
    """,
    re.IGNORECASE | re.VERBOSE,
)
_SECRET_ENV_SUFFIXES = ("_API_KEY", "_TOKEN", "_SECRET", "_ACCESS_KEY", "_AUTH")


def _env_secrets() -> list[str]:
    found = [
        value
        for name, value in os.environ.items()
        if name.upper().endswith(_SECRET_ENV_SUFFIXES) and len(value) >= 8
    ]
    return sorted(found, key=len, reverse=True)


def scrub(text: str) -> str:
    """``text`` with anything that looks like a secret replaced by ``[REDACTED]``."""
    for secret in _env_secrets():
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _SECRET.sub(REDACTED, text)


def _package_of(module: object) -> str:
    return module.split(".", 1)[0] if isinstance(module, str) else ""


def chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions chained to it (causes and contexts), each once, bounded."""
    seen: list[BaseException] = []
    pending = [exc]
    while pending and len(seen) < _MAX_CHAIN:
        current = pending.pop()
        if any(current is known for known in seen):
            continue
        seen.append(current)
        for linked in (current.__context__, current.__cause__):
            if linked is not None:
                pending.append(linked)
    return seen


def _frames(tb: TracebackType | None) -> list[TracebackType]:
    frames: list[TracebackType] = []
    while tb is not None and len(frames) < _MAX_FRAMES_WALKED:
        frames.append(tb)
        tb = tb.tb_next
    return frames


def provider_related(exc: BaseException) -> bool:
    """Whether ``exc`` or anything chained to it came from, or through, a provider client."""
    for linked in chain(exc):
        if _package_of(type(linked).__module__) in _PROVIDER_PACKAGES:
            return True
        for tb in _frames(linked.__traceback__):
            if _package_of(tb.tb_frame.f_globals.get("__name__")) in _PROVIDER_PACKAGES:
                return True
    return False


def qualified_type(exc: BaseException) -> str:
    cls = type(exc)
    module = cls.__module__
    return (
        cls.__qualname__ if module in ("builtins", "__main__") else f"{module}.{cls.__qualname__}"
    )


def _bare_stacktrace(exc: BaseException, limit: int | None = None) -> str:
    """The traceback as file, line and function names only: no source lines, no messages."""
    frames = _frames(exc.__traceback__)
    if limit is not None:
        frames = frames[:limit]
    lines = ["Traceback (most recent call last):\n"]
    shown = frames
    if len(frames) > _HEAD_FRAMES + _TAIL_FRAMES:
        shown = frames[:_HEAD_FRAMES] + frames[-_TAIL_FRAMES:]
    for index, tb in enumerate(shown):
        if index == _HEAD_FRAMES and len(shown) < len(frames):
            lines.append("  ...\n")
        code = tb.tb_frame.f_code
        lines.append(f'  File "{code.co_filename}", line {tb.tb_lineno}, in {code.co_name}\n')
    lines.append(qualified_type(exc) + "\n")
    return "".join(lines)


def _full_stacktrace(exc: BaseException, limit: int | None = None) -> str:
    frames = 64 if limit is None else limit
    try:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=frames))
    except Exception:  # a __str__ that raises: fall back to the names alone
        return _bare_stacktrace(exc, frames)
    return scrub(text)


def _message(exc: BaseException) -> str | None:
    try:
        text = str(exc)
    except Exception:
        return None
    if len(text) > _MAX_MESSAGE_CHARS:
        text = text[:_MAX_MESSAGE_CHARS] + "…"
    return scrub(text)


def record_exception(
    span: Span,
    exc: BaseException,
    *,
    capture_content: bool,
    frames: int | None = None,
    deeper_elsewhere: bool = False,
) -> None:
    """Record ``exc`` on ``span`` as an ``exception`` event, ``error.type`` and the status.

    What is recorded follows the module docstring: with content capture off, a provider-related
    exception keeps its type and its frames, nothing it says. ``frames`` limits the stack trace
    to the span's own frames (the rest are on the span the call started: see
    ``wrappers._lifecycle``), so an exception unwinding through nested spans costs O(depth).
    """
    kind = qualified_type(exc)
    quiet = not capture_content and provider_related(exc)
    message = None if quiet else _message(exc)
    stacktrace = _bare_stacktrace(exc, frames) if quiet else _full_stacktrace(exc, frames)
    if deeper_elsewhere:
        stacktrace += "  (deeper frames: on the exception event of the span this call started)\n"
    attributes: dict[str, str | bool] = {
        "exception.type": kind,
        "exception.stacktrace": stacktrace,
        "exception.escaped": True,
    }
    if message is not None:
        attributes["exception.message"] = message
    span.add_event("exception", attributes)
    span.set_attribute(semconv.ERROR_TYPE, kind)
    description = f"{type(exc).__name__}: {message}" if message else kind
    span.set_status(Status(StatusCode.ERROR, description))
