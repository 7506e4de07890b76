"""Run a call the way an app would and describe exactly what the app got back."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FAULTS = (
    "missing_usage",
    "nulls",
    "unknown_fields",
    "cut_short",
    "truncated",
    "429",
    "500",
    "malformed",
)


def dump(value: Any) -> Any:
    """A comparable picture of a provider result: models dumped, streams listed."""
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        return model_dump()
    if isinstance(value, list):
        return [dump(item) for item in value]
    return value


@dataclass
class Outcome:
    value: Any = None
    error_type: type | None = None
    error_text: str | None = None
    status_code: int | None = None
    raised_at: tuple[str, str] | None = None  # (file, function) of the innermost frame

    @classmethod
    def raised(cls, exc: BaseException) -> Outcome:
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        return cls(
            error_type=type(exc),
            error_text=str(exc),
            status_code=getattr(exc, "status_code", None),
            raised_at=(frame.filename, frame.name),
        )

    @classmethod
    def of(cls, call: Callable[[], Any]) -> Outcome:
        try:
            return cls(value=dump(call()))
        except Exception as exc:
            return cls.raised(exc)


async def async_outcome(call: Callable[[], Any]) -> Outcome:
    try:
        return Outcome(value=dump(await call()))
    except Exception as exc:
        return Outcome.raised(exc)
