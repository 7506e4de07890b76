"""``_getters.read_property`` reads openai's ``base_url`` from ``__dict__`` only where the
property provably returns that attribute, and always answers what the property answers."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from agentspans.wrappers import _getters
from agentspans.wrappers._getters import plain_field, read_property
from agentspans.wrappers.openai import _server


def _clients() -> list[Any]:
    clients: list[Any] = [
        openai.OpenAI(api_key="sk-test", base_url="https://api.openai.com/v1"),
        openai.AsyncOpenAI(api_key="sk-test", base_url="http://localhost:8000/v1"),
        openai.OpenAI(api_key="sk-test", base_url="http://vllm-0.svc:8000/v1"),
    ]
    azure = getattr(openai, "AzureOpenAI", None)
    if azure is not None:
        clients.append(
            azure(
                api_key="k", azure_endpoint="https://x.openai.azure.com", api_version="2024-06-01"
            )
        )
    clients.append(clients[0].with_options(base_url="http://127.0.0.1:11434/v1"))
    return clients


@pytest.mark.parametrize("client", _clients(), ids=lambda c: type(c).__name__)
def test_the_fast_read_is_the_property(client: Any) -> None:
    assert read_property(client, "base_url") is client.base_url
    client.base_url = "https://api.groq.com/openai/v1"  # the setter: read again, still equal
    assert read_property(client, "base_url") is client.base_url
    assert str(read_property(client, "base_url")) == "https://api.groq.com/openai/v1/"


def test_openais_clients_take_the_fast_read() -> None:
    # (the test above holds it equal; this one that it is really taken on this openai)
    for client in _clients():
        assert plain_field(type(client), "base_url") is not None


def test_the_server_is_the_same_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    for client in _clients():
        resource = client.chat.completions
        fast = _server(resource)
        monkeypatch.setattr(_getters, "plain_field", lambda cls, name: None)
        slow = _server(resource)
        monkeypatch.undo()
        assert fast == slow


def test_the_module_level_client_reads_the_property() -> None:
    module_client = getattr(openai, "_ModuleClient", None)
    if module_client is None:
        pytest.skip("no module-level client in this openai")
    assert plain_field(module_client, "base_url") is None


class Plain:
    def __init__(self) -> None:
        self._url = "a"

    @property
    def url(self) -> str:
        return self._url


class Computed:
    def __init__(self) -> None:
        self._url = "a"

    @property
    def url(self) -> str:
        return self._url + "/"


class OtherObject:
    def __init__(self, other: Any) -> None:
        self.other = other

    @property
    def url(self) -> Any:
        other = self.other
        return other._url


class ClassAttribute:
    _url = "class"

    @property
    def url(self) -> str:
        return self._url


class Descriptor:
    @property
    def _url(self) -> str:
        return "descriptor"

    @property
    def url(self) -> str:
        return self._url


class Intercepting(Plain):
    def __getattribute__(self, name: str) -> Any:
        if name == "_url":
            return "intercepted"
        return object.__getattribute__(self, name)


class Slots:
    __slots__ = ("_url",)

    def __init__(self) -> None:
        self._url = "slot"

    @property
    def url(self) -> str:
        return self._url


class NotAProperty:
    def __init__(self) -> None:
        self._url = "a"

    def url(self) -> str:
        return self._url


def test_only_a_plain_return_of_an_own_field_is_recognised() -> None:
    assert plain_field(Plain, "url") == "_url"
    for cls in (Computed, OtherObject, ClassAttribute, Descriptor, Intercepting, NotAProperty):
        assert plain_field(cls, "url") is None, cls
    assert plain_field(Plain, "missing") is None


@pytest.mark.parametrize(
    "instance",
    [
        *(Plain(), Computed(), OtherObject(Plain()), ClassAttribute(), Descriptor()),
        *(Intercepting(), Slots(), NotAProperty(), None, object()),
    ],
    ids=lambda i: type(i).__name__,
)
def test_read_property_answers_what_getattr_answers(instance: Any) -> None:
    expected = getattr(instance, "url", None)
    found = read_property(instance, "url")
    assert found == expected or (callable(found) and callable(expected))


def test_a_field_missing_from_the_instance_reads_the_property() -> None:
    plain = Plain()
    del plain._url
    assert read_property(plain, "url") is None  # the property raises AttributeError: None


def test_an_httpx_url_is_returned_as_the_same_object() -> None:
    plain = Plain()
    url = httpx.URL("https://example.com/v1/")
    plain._url = url  # type: ignore[assignment]
    assert read_property(plain, "url") is url
