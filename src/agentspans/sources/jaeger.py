"""Fetch one whole trace from Jaeger's query API (``GET {url}/api/v3/traces/{trace_id}``).

Jaeger v2 answers with OTLP/JSON wrapped as ``{"result": {"resourceSpans": [...]}}`` (one wrapper
per line when it streams), ids in hex; older v1 releases sent the request unwrapped, ids in
base64. :func:`agentspans.sources.otlp_json.read_text` reads all of these. The trace holds the
spans of every process (service) that took part, which is what lets the analysis see a
distributed multi-agent run whole.

Only the standard library is used. Every failure (no answer, an HTTP error, a body that is not
OTLP/JSON) becomes one problem line naming the URL and what happened; nothing raises.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from agentspans.sources.otlp_json import ReadResult, read_text

__all__ = ["DEFAULT_TIMEOUT_S", "fetch_trace", "normalize_trace_id", "trace_url"]

DEFAULT_TIMEOUT_S = 10.0
_MAX_BODY_BYTES = 512 * 1024 * 1024
_HEX_DIGITS = frozenset("0123456789abcdef")


def normalize_trace_id(trace_id: str) -> str:
    """``trace_id`` as 32 lowercase hex digits; ``ValueError`` naming the problem otherwise.

    Shorter hex ids (Jaeger shows 64-bit ids of old clients without leading zeros) are padded.
    """
    digits = trace_id.strip().lower()
    if not digits or len(digits) > 32 or not _HEX_DIGITS.issuperset(digits):
        raise ValueError(f"trace id {trace_id!r} is not 1 to 32 hex digits")
    digits = digits.rjust(32, "0")
    if digits == "0" * 32:
        raise ValueError("trace id is all zeros")
    return digits


def trace_url(base_url: str, trace_id: str) -> str:
    """The api_v3 URL of ``trace_id`` under Jaeger's query ``base_url`` (``http://host:16686``)."""
    base = base_url.strip().rstrip("/")
    if "://" not in base:
        base = "http://" + base
    return f"{base}/api/v3/traces/{urllib.parse.quote(trace_id)}"


def fetch_trace(
    base_url: str, trace_id: str, *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> ReadResult:
    """The spans of ``trace_id`` from the Jaeger at ``base_url``, and what went wrong, if anything.

    Only spans of the requested trace are kept; a body holding others says so in a problem.
    """
    try:
        wanted = normalize_trace_id(trace_id)
    except ValueError as exc:
        return ReadResult(problems=[f"{exc}"])
    url = trace_url(base_url, wanted)
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in {"http", "https"}:
        return ReadResult(problems=[f"{url}: only http:// and https:// Jaeger URLs are supported"])
    body, problem = _get(url, timeout_s)
    if problem is not None:
        return ReadResult(problems=[f"{url}: {problem}{_short_id_hint(trace_id, problem)}"])
    assert body is not None
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return ReadResult(problems=[f"{url}: the answer is not UTF-8 text, not Jaeger's API"])
    result = read_text(text, url)
    kept = [record for record in result.records if record.trace_id == wanted]
    if len(kept) != len(result.records):
        result.problems.append(
            f"{url}: {len(result.records) - len(kept)} spans of other traces ignored"
        )
    if not kept and not result.problems:
        result.problems.append(f"{url}: Jaeger returned no spans for trace {wanted}")
    return ReadResult(kept, result.problems)


# Jaeger's UI shows a trace's id shortened to its first 7 hex digits (``bdc2e60``).
_UI_SHORT_ID_DIGITS = 7


def _short_id_hint(trace_id: str, problem: str) -> str:
    """For a trace not found by a shortened id: say which id to pass instead.

    A short id is padded with leading zeros (old clients' 64-bit ids), so Jaeger's 7-digit
    display form names another trace; it cannot be resolved without searching every service.
    """
    digits = trace_id.strip()
    if "HTTP 404" not in problem or len(digits) >= 32:
        return ""
    shown = " (the 7 digits Jaeger's UI shows)" if len(digits) == _UI_SHORT_ID_DIGITS else ""
    return (
        f"; {digits!r} has {len(digits)} hex digits{shown} and was read as "
        f"{digits.rjust(32, '0')}: pass the whole 32-digit trace id, as in the trace page's "
        "address (…/trace/<trace id>) or the trace's JSON"
    )


def _get(url: str, timeout_s: float) -> tuple[bytes | None, str | None]:
    """The body at ``url``, or the reason there is none (in words)."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            body = response.read(_MAX_BODY_BYTES + 1)
            if len(body) > _MAX_BODY_BYTES:
                return None, f"the answer is larger than {_MAX_BODY_BYTES >> 20} MiB"
            return body, None
    except http.client.IncompleteRead as exc:
        return None, f"the answer was cut short ({len(exc.partial)} bytes read); try again"
    except http.client.HTTPException as exc:
        return None, f"not an HTTP service, or not Jaeger's query service ({type(exc).__name__})"
    except urllib.error.HTTPError as exc:
        with exc:
            try:
                detail = _error_detail(exc.read(64 * 1024))
            except (OSError, http.client.HTTPException):
                detail = ""
        if exc.code == 404:
            return None, "trace not found (HTTP 404)" + (f": {detail}" if detail else "")
        return None, f"HTTP {exc.code} {exc.reason}" + (f": {detail}" if detail else "")
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return None, f"no answer within {timeout_s:g} s"
        if isinstance(reason, ConnectionRefusedError):
            return None, "connection refused (is Jaeger's query service running there?)"
        return None, f"cannot connect ({reason})"
    except TimeoutError:
        return None, f"no answer within {timeout_s:g} s"
    except ConnectionResetError:
        return None, "the connection was reset (is this Jaeger's query service?)"
    except (OSError, ValueError) as exc:
        return None, f"request failed ({exc})"


def _error_detail(body: bytes) -> str:
    """The message in Jaeger's ``{"error": {"httpCode": ..., "message": ...}}``, or the text."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        return text[:200]
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return text[:200]
