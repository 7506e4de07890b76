"""A short digest of a normalised request: equal requests give equal digests.

The digest is computed from the request itself and only the digest is kept, so two identical
prompts can be recognised on a trace without the prompt ever being recorded.

The canonical form is JSON with sorted keys. Requests are almost always plain dicts, lists and
strings, which the C JSON encoder turns into that form in a few microseconds on the caller's
thread; anything else (pydantic models, bytes, sets, non-string keys, cycles) goes through
:func:`_normalise` first, which maps it onto the same JSON shapes, so a request gets the same
digest whichever way it was spelled.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

_DIGEST_BYTES = 8  # 16 hex digits: collisions within one trace are vanishingly rare
_MAX_DEPTH = 32
_encoder = json.JSONEncoder(sort_keys=True, separators=(",", ":"), check_circular=True)
_dumps = _encoder.encode


def _reject(value: Any) -> Any:
    raise TypeError(type(value).__name__)  # not plain JSON: normalised first (``_normalise``)


def _c_dumps() -> Any:
    """``_dumps`` without its per-call set-up: the C encoder ``JSONEncoder.encode`` builds on
    every call, built once, with the same options (hence the same text). It keeps no record of
    the containers it is inside (``_dumps`` does, to raise on a cycle), so it shares no state
    between threads; a cycle recurses until ``RecursionError`` instead, which
    :func:`fingerprint` treats as it treats the cycle error: the parts are normalised first."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    encode = make(
        None,  # no markers: no cycle check (see above)
        _reject,
        json.encoder.encode_basestring_ascii,  # ensure_ascii, as _encoder
        None,  # indent
        _encoder.key_separator,
        _encoder.item_separator,
        True,  # sort_keys
        False,  # skipkeys
        True,  # allow_nan
    )
    return lambda parts: "".join(encode(parts, 0))


_fast_dumps = _c_dumps() or _dumps


def _normalise(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON-encodable data with the same encoding as its plain equivalent.

    Mappings keep their (stringified) keys, sequences become lists, sets sorted lists,
    pydantic-style models are dumped, bytes are replaced by their digest. Anything else falls
    back to its ``repr``: good enough to tell calls apart, and never raises.
    """
    if depth > _MAX_DEPTH:
        return "..."
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, bytes):
        return {"__bytes__": hashlib.blake2b(value, digest_size=16).hexdigest()}
    if isinstance(value, Mapping):
        return {str(k): _normalise(v, depth + 1) for k, v in value.items()}
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


def fingerprint(*parts: Any) -> str:
    """The hex digest of the normalised ``parts``."""
    try:
        text = _fast_dumps(parts)
    except (TypeError, ValueError, RecursionError):
        text = _dumps(_normalise(parts))
    return hashlib.blake2b(
        text.encode("utf-8", "surrogatepass"), digest_size=_DIGEST_BYTES
    ).hexdigest()
