"""A short digest of a normalised request: equal requests give equal digests.

The digest is computed from the request itself and only the digest is kept, so two identical
prompts can be recognised on a trace without the prompt ever being recorded.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

_DIGEST_BYTES = 8  # 16 hex digits: collisions within one trace are vanishingly rare
_MAX_DEPTH = 32


def _normalise(value: Any, depth: int = 0) -> Any:
    """Turn ``value`` into a canonical, JSON-like structure.

    Mappings are sorted by key, sequences become lists, pydantic-style models are dumped, floats
    that are whole numbers compare equal to ints (``1.0 == 1``). Anything else falls back to its
    ``repr``: good enough to tell calls apart, and never raises.
    """
    if depth > _MAX_DEPTH:
        return "..."
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        return repr(value)
    if isinstance(value, bytes):
        return {"__bytes__": hashlib.blake2b(value, digest_size=16).hexdigest()}
    if isinstance(value, Mapping):
        return [[str(k), _normalise(v, depth + 1)] for k, v in sorted(value.items(), key=_key)]
    if isinstance(value, (list, tuple)):
        return [_normalise(v, depth + 1) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_normalise(v, depth + 1) for v in value), key=repr)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return _normalise(dump(), depth + 1)
        except Exception:
            pass
    return repr(value)


def _key(item: tuple[Any, Any]) -> str:
    return str(item[0])


def _encode(value: Any, out: list[str]) -> None:
    # A tiny canonical encoder: cheaper than json.dumps(sort_keys=True) on the nested lists
    # _normalise produces, and unambiguous because every element is tagged.
    if value is None:
        out.append("n")
    elif value is True:
        out.append("t")
    elif value is False:
        out.append("f")
    elif isinstance(value, int):
        out.append(f"i{value};")
    elif isinstance(value, str):
        out.append(f"s{len(value)}:{value}")
    elif isinstance(value, list):
        out.append(f"l{len(value)}[")
        for item in value:
            _encode(item, out)
        out.append("]")
    else:  # dict produced for bytes
        out.append(f"d{value!r}")


def fingerprint(*parts: Any) -> str:
    """The hex digest of the normalised ``parts``."""
    out: list[str] = []
    _encode(_normalise(list(parts)), out)
    return hashlib.blake2b(
        "".join(out).encode("utf-8", "surrogatepass"), digest_size=_DIGEST_BYTES
    ).hexdigest()
