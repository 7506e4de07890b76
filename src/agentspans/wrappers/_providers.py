"""``gen_ai.provider.name`` for a request sent through the openai client, from its base URL.

The conventions' values are used where one exists (``openai``, ``azure.ai.openai``, ``groq``,
...), and the self-hosted servers get the names the price table treats as local (``vllm``,
``ollama``, ``llama.cpp``, ``lm_studio``). Any other base URL is an OpenAI-compatible server the
conventions have no name for; per their rule for clients that reach other systems, it is named
``openai`` ("the instrumentation's best knowledge"), and ``server.address`` / ``server.port``
say which server it really was. Decided from the URL alone: never a network request.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

OPENAI = "openai"

# Hosted services, by host suffix.
_HOSTS: tuple[tuple[str, str], ...] = (
    ("api.openai.com", OPENAI),
    ("openai.azure.com", "azure.ai.openai"),
    ("services.ai.azure.com", "azure.ai.inference"),
    ("models.inference.ai.azure.com", "azure.ai.inference"),
    ("api.groq.com", "groq"),
    ("api.deepseek.com", "deepseek"),
    ("api.x.ai", "x_ai"),
    ("api.mistral.ai", "mistral_ai"),
    ("api.perplexity.ai", "perplexity"),
    ("generativelanguage.googleapis.com", "gcp.gemini"),
    ("aiplatform.googleapis.com", "gcp.vertex_ai"),
    ("api.cohere.ai", "cohere"),
    ("api.cohere.com", "cohere"),
    ("bedrock-runtime", "aws.bedrock"),
)

# Self-hosted servers, by the default port they listen on.
_PORTS = {11434: "ollama", 1234: "lm_studio"}

# ... or by a word in the host name (a container or service name such as ``vllm-0.svc``).
_HOST_WORDS: tuple[tuple[str, str], ...] = (
    ("vllm", "vllm"),
    ("ollama", "ollama"),
    ("llamacpp", "llama.cpp"),
    ("llama-cpp", "llama.cpp"),
    ("llama.cpp", "llama.cpp"),
    ("lmstudio", "lm_studio"),
    ("lm-studio", "lm_studio"),
)


# (host, port) by base URL object: rendering an ``httpx.URL`` as text costs more than the rest
# of reading a request, and a client keeps one URL object for its life. The object is kept in
# its entry, so its id cannot be reused by another object while the entry exists.
_by_object: dict[int, tuple[object, tuple[str | None, int | None]]] = {}
_MAX_OBJECTS = 256


def split_server(base_url: object) -> tuple[str | None, int | None]:
    """(host, port) of a base URL (a string or an ``httpx.URL``); the scheme's port if none."""
    cached = _by_object.get(id(base_url))
    if cached is not None and cached[0] is base_url:
        return cached[1]
    server = _split(str(base_url))
    if len(_by_object) < _MAX_OBJECTS:
        _by_object[id(base_url)] = (base_url, server)
    return server


@lru_cache(maxsize=256)  # a process talks to few servers; parsing a URL per call is waste
def _split(base_url: str) -> tuple[str | None, int | None]:
    try:
        parts = urlsplit(base_url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None, None
    if port is None and parts.scheme in ("http", "https"):
        port = 443 if parts.scheme == "https" else 80
    return host or None, port


@lru_cache(maxsize=256)
def provider_for(host: str | None, port: int | None) -> str:
    """The provider name for a server at ``host:port`` reached with the openai client."""
    if host is None:
        return OPENAI
    host = host.lower()
    for suffix, name in _HOSTS:
        if host == suffix or host.endswith("." + suffix) or host.startswith(suffix):
            return name
    if port in _PORTS:
        return _PORTS[port]
    for word, name in _HOST_WORDS:
        if word in host:
            return name
    return OPENAI


def is_a_guess(host: str | None, provider: str) -> bool:
    """Whether ``provider`` is only the fallback for a server the URL did not identify."""
    return provider == OPENAI and host is not None and not host.endswith("api.openai.com")


def provider_from_response(response: object) -> str | None:
    """The self-hosted server a chat response's own fields give away, if any.

    vLLM adds ``prompt_logprobs`` / ``kv_transfer_params``, llama.cpp ``timings``, Ollama a
    ``system_fingerprint`` of ``fp_ollama``; the openai SDK keeps unknown fields as extras.
    """
    extra = getattr(response, "model_extra", None)
    fields = extra if isinstance(extra, dict) else response if isinstance(response, dict) else {}
    if "kv_transfer_params" in fields or "prompt_logprobs" in fields:
        return "vllm"
    if "timings" in fields:
        return "llama.cpp"
    fingerprint = getattr(response, "system_fingerprint", None)
    if fingerprint is None and isinstance(response, dict):
        fingerprint = response.get("system_fingerprint")
    if fingerprint == "fp_ollama":
        return "ollama"
    return None
