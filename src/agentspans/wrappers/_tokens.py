"""Token estimates for streams that carry no usage, with ``tiktoken`` when it can work offline.

``tiktoken`` downloads its vocabulary files on first use. An application must not make a
surprise network request because a stream lacked usage, so an encoding is used only when its
file is already in tiktoken's local cache (``TIKTOKEN_CACHE_DIR`` / ``DATA_GYM_CACHE_DIR`` / the
temp dir, as tiktoken itself looks). Without one, no count is recorded: an estimate is a
tokenizer's count marked ``agentspans.usage.estimated``, never a guess.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from typing import Any, Protocol

# The vocabulary files of the encodings current models use, as tiktoken names their URLs.
_ENCODING_FILES = {
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}


class Encoding(Protocol):
    def encode_ordinary(self, text: str) -> list[int]: ...


_lock = threading.Lock()
_loaded: dict[str, Encoding | None] = {}
_override: Encoding | None = None


def use_encoding(encoding: Encoding | None) -> None:
    """Count with ``encoding`` instead of tiktoken's cached files (None: back to tiktoken).

    For tests and for applications that ship their own vocabulary.
    """
    global _override
    _override = encoding


def _cached_locally(url: str) -> bool:
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    if cache_dir is None:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if cache_dir == "":
        return False  # tiktoken's way of saying "never cache": every use downloads
    key = hashlib.sha1(url.encode()).hexdigest()
    return os.path.isfile(os.path.join(cache_dir, key))


def _encoding_name(model: str | None) -> str:
    name = (model or "").lower().rsplit("/", 1)[-1]
    newer = name.startswith(("gpt-4o", "gpt-4.1", "gpt-4.5"))
    if name.startswith(("gpt-3.5", "text-embedding")) or (name.startswith("gpt-4") and not newer):
        return "cl100k_base"
    return "o200k_base"


def _encoding(model: str | None) -> Encoding | None:
    if _override is not None:
        return _override
    name = _encoding_name(model)
    with _lock:
        if name in _loaded:
            return _loaded[name]
    encoding: Encoding | None = None
    if _cached_locally(_ENCODING_FILES[name]):
        try:
            import tiktoken

            encoding = tiktoken.get_encoding(name)
        except Exception:  # not installed, or a corrupt cache: no estimate
            encoding = None
    with _lock:
        _loaded[name] = encoding
    return encoding


def count_tokens(text: str, model: str | None) -> int | None:
    """The token count of ``text`` for ``model``'s encoding, or None without a usable tokenizer."""
    if not text:
        return 0 if _encoding(model) is not None else None
    encoding = _encoding(model)
    if encoding is None:
        return None
    try:
        return len(encoding.encode_ordinary(text))
    except Exception:
        return None


def prompt_text(values: Any) -> str:
    """The text in a prompt (strings anywhere in messages), for an input-token estimate."""
    out: list[str] = []
    _collect(values, out, 0)
    return "\n".join(out)


def _collect(value: Any, out: list[str], depth: int) -> None:
    if depth > 8:
        return
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in ("content", "text", "input", "arguments", "system", "instructions"):
                _collect(item, out, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _collect(item, out, depth + 1)
