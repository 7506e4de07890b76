"""A local OpenAI-compatible LLM *simulator* for the demo: no model, no network, seeded timings.

It speaks the OpenAI wire format on 127.0.0.1 (a free port): ``POST /v1/chat/completions``
(JSON, or Server-Sent Events with ``stream=True``, usage in a final chunk when
``stream_options.include_usage`` is set) and ``POST /v1/embeddings``. Answers are made-up prose;
latencies follow a per-model profile (time to first token, output tokens per second), drawn
from a generator seeded with the run's seed and the request itself, so one run tells the same
story as the next and identical requests get identical answers.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["LLMSimulator", "ModelProfile"]


@dataclass(frozen=True)
class ModelProfile:
    """How fast a simulated model answers."""

    first_token_ms: tuple[float, float]
    tokens_per_s: tuple[float, float]
    output_tokens: tuple[int, int]
    dated_name: str


# Figures in the range hosted models show; only their shape matters for the demo's story.
_PROFILES: dict[str, ModelProfile] = {
    "gpt-4o": ModelProfile((280, 420), (70, 95), (60, 110), "gpt-4o-2024-08-06"),
    "gpt-4o-mini": ModelProfile((160, 260), (110, 150), (30, 70), "gpt-4o-mini-2024-07-18"),
}
_DEFAULT_PROFILE = _PROFILES["gpt-4o-mini"]
_EMBEDDING_MS = (40.0, 80.0)
_EMBEDDING_DIMENSIONS = 16
# Words per streamed chunk: real servers send a token or two per event; a few words keep the
# demo's event count modest without changing the shape of the stream.
_WORDS_PER_CHUNK = 3

_PROSE = (
    "revenue growth quarter market share customers churn pricing margin segment enterprise "
    "pipeline forecast region demand supply cost efficiency trend signal risk outlook steady "
    "strong moderate rising falling compared previous year analysts expect the a of in and to "
    "with for on by increase decline retention adoption product launch competitors report "
    "data "
)
_VOCABULARY = tuple(_PROSE.split())


def count_tokens(text: str) -> int:
    """A rough token count (about four characters a token), as a simulator may use."""
    return max(1, round(len(text) / 4))


def _prompt_tokens(messages: Any) -> int:
    total = 3  # the priming every chat reply starts with
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, Mapping):
                total += 4 + count_tokens(str(message.get("content") or ""))
    return total


class _Draws:
    """The random choices for one request: seeded by the run's seed, the request body and how
    many times that exact body was seen, so a repeated prompt gets a fresh but fixed draw."""

    def __init__(self, seed: int, body: bytes, occurrence: int) -> None:
        digest = hashlib.sha256(b"%d|%d|" % (seed, occurrence) + body).digest()
        self.rng = random.Random(int.from_bytes(digest[:8], "big"))

    def uniform(self, bounds: tuple[float, float]) -> float:
        return self.rng.uniform(*bounds)

    def signed_unit(self) -> float:
        return round(self.rng.uniform(-1, 1), 6)

    def words(self, count: int) -> list[str]:
        return [self.rng.choice(_VOCABULARY) for _ in range(count)]


class LLMSimulator:
    """Serve the simulated API on 127.0.0.1 from a background thread.

    ``with LLMSimulator(seed=7) as sim: OpenAI(base_url=sim.base_url, api_key="sim")``
    """

    def __init__(self, seed: int = 7, *, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("LLMSimulator(speed=...): must be > 0")
        self.seed = seed
        self.speed = speed
        self.requests = 0
        self._seen: dict[bytes, int] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("LLMSimulator is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> LLMSimulator:
        simulator = self

        class Handler(_Handler):
            sim = simulator

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> LLMSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def draws(self, body: bytes) -> _Draws:
        with self._lock:
            self.requests += 1
            occurrence = self._seen.get(body, 0)
            self._seen[body] = occurrence + 1
        return _Draws(self.seed, body, occurrence)

    def pause(self, seconds: float) -> None:
        time.sleep(seconds / self.speed)


class _Handler(BaseHTTPRequestHandler):
    sim: LLMSimulator
    protocol_version = "HTTP/1.1"  # keep-alive, as the openai client's pool expects
    server_version = "agentspans-llm-simulator/1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the demo prints its own story."""

    # -- routing ---------------------------------------------------------------------------------
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            self._error(HTTPStatus.BAD_REQUEST, "request body is not JSON")
            return
        if not isinstance(request, dict):
            self._error(HTTPStatus.BAD_REQUEST, "request body must be a JSON object")
            return
        path = self.path.split("?", 1)[0].rstrip("/")
        if path.endswith("/chat/completions"):
            self._chat(request, self.sim.draws(body))
        elif path.endswith("/embeddings"):
            self._embeddings(request, self.sim.draws(body))
        else:
            self._error(HTTPStatus.NOT_FOUND, f"the simulator does not serve {path}")

    def do_GET(self) -> None:
        self._error(HTTPStatus.NOT_FOUND, "the simulator serves POST endpoints only")

    # -- endpoints -------------------------------------------------------------------------------
    def _chat(self, request: dict[str, Any], draws: _Draws) -> None:
        model = str(request.get("model") or "gpt-4o-mini")
        profile = _PROFILES.get(model, _DEFAULT_PROFILE)
        low, high = profile.output_tokens
        limit = request.get("max_completion_tokens") or request.get("max_tokens")
        count = int(draws.uniform((low, high + 1)))
        if isinstance(limit, int) and limit > 0:
            count = min(count, limit)
        words = draws.words(count)
        first_token_s = draws.uniform(profile.first_token_ms) / 1000
        per_token_s = 1 / draws.uniform(profile.tokens_per_s)
        finish = "length" if isinstance(limit, int) and count >= limit else "stop"
        usage = {
            "prompt_tokens": _prompt_tokens(request.get("messages")),
            "completion_tokens": len(words),
            "total_tokens": 0,
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        reply_id = f"chatcmpl-sim{draws.rng.getrandbits(48):012x}"
        base = {"id": reply_id, "created": int(time.time()), "model": profile.dated_name}
        base["system_fingerprint"] = "fp_simulator"
        if request.get("stream"):
            options = request.get("stream_options")
            with_usage = isinstance(options, Mapping) and bool(options.get("include_usage"))
            self._stream_chat(base, words, first_token_s, per_token_s, finish, usage, with_usage)
            return
        self.sim.pause(first_token_s + per_token_s * len(words))
        self._json(
            HTTPStatus.OK,
            {
                **base,
                "object": "chat.completion",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": " ".join(words)},
                        "finish_reason": finish,
                        "logprobs": None,
                    }
                ],
                "usage": usage,
            },
        )

    def _stream_chat(
        self,
        base: dict[str, Any],
        words: list[str],
        first_token_s: float,
        per_token_s: float,
        finish: str,
        usage: dict[str, int],
        with_usage: bool,
    ) -> None:
        def chunk(delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
            return {**base, "object": "chat.completion.chunk", "choices": [choice]}

        def events() -> Iterator[dict[str, Any]]:
            self.sim.pause(first_token_s)
            yield chunk({"role": "assistant", "content": ""}, None)
            for start in range(0, len(words), _WORDS_PER_CHUNK):
                piece = words[start : start + _WORDS_PER_CHUNK]
                self.sim.pause(per_token_s * len(piece))
                prefix = " " if start else ""
                yield chunk({"content": prefix + " ".join(piece)}, None)
            yield chunk({}, finish)
            if with_usage:
                yield {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}

        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for event in events():
                self._write_chunk(b"data: " + json.dumps(event).encode() + b"\n\n")
            self._write_chunk(b"data: [DONE]\n\n")
            self._write_chunk(b"")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client stopped reading: a normal way to end

    def _embeddings(self, request: dict[str, Any], draws: _Draws) -> None:
        inputs = request.get("input")
        texts = inputs if isinstance(inputs, list) else [inputs]
        self.sim.pause(draws.uniform(_EMBEDDING_MS) / 1000)
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": [
                    round(draws.rng.uniform(-1, 1), 6) for _ in range(_EMBEDDING_DIMENSIONS)
                ],
            }
            for i in range(len(texts))
        ]
        tokens = sum(count_tokens(str(text)) for text in texts)
        self._json(
            HTTPStatus.OK,
            {
                "object": "list",
                "data": data,
                "model": str(request.get("model") or "text-embedding-3-small"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    # -- wire helpers ----------------------------------------------------------------------------
    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _json(self, status: HTTPStatus, payload: Mapping[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: HTTPStatus, message: str) -> None:
        error = {"message": message, "type": "invalid_request_error", "param": None, "code": None}
        self._json(status, {"error": error})
