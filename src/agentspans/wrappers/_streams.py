"""Stream proxies: the LLM span stays open until the stream is exhausted, closed or dropped.

:func:`traced_stream` wraps the stream a client returned in a ``wrapt.ObjectProxy`` (so
``isinstance`` checks and every other attribute still work) that feeds each chunk to the call's
:class:`~agentspans.wrappers._llm.ChunkReader`. The span ends exactly once, with
``agentspans.stream.outcome``:

* ``completed`` — read to the end, end marker seen; ``truncated`` — read to the end without one;
* ``closed`` — ``close()``, the ``with`` block or the response closed before the end;
* ``error`` — reading raised (recorded, re-raised unchanged); ``cancelled`` — a task was cancelled;
* ``dropped`` — the application let go of the stream: a ``weakref.finalize`` ends the span at the
  time of the last chunk, so an abandoned stream still ends its span.

On the way it records ``gen_ai.response.time_to_first_chunk`` (first chunk carrying output),
usage from the final chunk or, without one, a tokenizer's estimate marked
``agentspans.usage.estimated``, and output tokens per second.
"""

from __future__ import annotations

import inspect
import time
import weakref
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

import wrapt

from agentspans import semconv
from agentspans._errors import report_internal_error
from agentspans.wrappers import _tokens
from agentspans.wrappers._evidence import add_chunk_tool_call_ids
from agentspans.wrappers._lifecycle import Starter, traced

if TYPE_CHECKING:  # _llm hands streams to this module: a runtime import would be a circle
    from agentspans.wrappers._llm import ChunkReader, LLMInvocation


class StreamState:
    """One stream's progress; shared by its proxy and its finalizer (never refers to the proxy)."""

    __slots__ = (
        "_done",
        "_first_output_ns",
        "_last_ns",
        "_start_ns",
        "invocation",
        "reader",
        "source",
    )

    def __init__(self, invocation: LLMInvocation, reader: ChunkReader, source: Any) -> None:
        self.invocation = invocation
        self.reader = reader
        # The wrapped stream: a reader may settle from it what it could not see, as the
        # accumulated message of a helper the app read through its own methods.
        self.source = source
        start = getattr(invocation.span, "start_time", None)
        self._start_ns: int | None = start if isinstance(start, int) else None
        self._first_output_ns: int | None = None
        self._last_ns = time.time_ns()
        self._done = False

    # -- events ----------------------------------------------------------------------------------
    def chunk(self, chunk: Any) -> None:
        now = time.time_ns()
        self._last_ns = now
        try:
            if self.reader.read(chunk) and self._first_output_ns is None:
                self._first_output_ns = now
            add_chunk_tool_call_ids(chunk, self.reader.summary.tool_call_ids)
        except Exception as exc:
            report_internal_error("stream chunk reader", exc)

    def exhausted(self) -> None:
        self.finish("completed" if self.reader.finished() else "truncated")

    def closed(self) -> None:
        self.finish("completed" if self.reader.finished() else "closed")

    def dropped(self) -> None:
        self.finish("dropped", end_time=self._last_ns)

    def failed(self, exc: BaseException) -> None:
        if self._done:
            return
        self._record("error")
        self._done = True
        self.invocation.fail(exc)

    # -- ending ----------------------------------------------------------------------------------
    def finish(self, outcome: str, end_time: int | None = None) -> None:
        if self._done:
            return
        self._done = True
        try:
            self._record(outcome, end_time)
        finally:
            self.invocation.end(end_time)

    def _record(self, outcome: str, end_time: int | None = None) -> None:
        span = self.invocation.span
        if not span.is_recording():
            return
        try:
            settle = getattr(self.reader, "settle", None)
            if settle is not None:
                settle(self.source)
            summary = self.reader.summary
            # Only a stream read to its end has a text to count: one closed or dropped early
            # would get an invented (partial) count.
            estimated = (
                outcome in ("completed", "truncated")
                and not summary.usage.known()
                and self._estimate()
            )
            self.invocation.record_summary(summary)
            span.set_attribute(semconv.STREAM_OUTCOME, outcome)
            if estimated:
                span.set_attribute(semconv.USAGE_ESTIMATED, True)
            first = self._first_output_ns
            if first is None:
                return
            if self._start_ns is not None:
                span.set_attribute(
                    semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, (first - self._start_ns) / 1e9
                )
            output = summary.usage.output_tokens
            streamed_s = ((end_time or time.time_ns()) - first) / 1e9
            if output and streamed_s > 0:
                span.set_attribute(semconv.OUTPUT_TOKENS_PER_SECOND, round(output / streamed_s, 2))
        except Exception as exc:
            report_internal_error("stream summary", exc)

    def _estimate(self) -> bool:
        """Fill usage from a tokenizer when the stream carried none; True if it could."""
        request = self.invocation.request
        usage = self.reader.summary.usage
        model = self.reader.summary.model or request.model
        output = _tokens.count_tokens(self.reader.output_text(), model)
        if output is None:
            return False
        usage.output_tokens = output
        if request.prompt_text is not None:
            usage.input_tokens = _tokens.count_tokens(request.prompt_text, model)
        return True


class _ClosingResponse(wrapt.ObjectProxy[Any]):
    """The stream's HTTP response: closing it (as the SDKs' stream helpers do) closes the span."""

    def __init__(self, wrapped: Any, state: StreamState) -> None:
        super().__init__(wrapped)
        self._self_state = state

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_state.closed()

    async def aclose(self) -> Any:
        try:
            return await self.__wrapped__.aclose()
        finally:
            self._self_state.closed()


class _TracedStreamBase(wrapt.ObjectProxy[Any]):
    def __init__(self, wrapped: Any, state: StreamState) -> None:
        super().__init__(wrapped)
        self._self_state = state
        self._self_response: Any = None
        finalizer = weakref.finalize(self, state.dropped)
        finalizer.atexit = False

    @property
    def response(self) -> Any:
        if self._self_response is None:
            response = self.__wrapped__.response
            if not callable(getattr(response, "close", None)):
                return response
            self._self_response = _ClosingResponse(response, self._self_state)
        return self._self_response

    def close(self) -> Any:
        result = self.__wrapped__.close()
        if inspect.isawaitable(result):
            return _then(result, self._self_state.closed)
        self._self_state.closed()
        return result

    def __copy__(self) -> Any:
        raise NotImplementedError("a traced stream cannot be copied")

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise NotImplementedError("a traced stream cannot be pickled")


async def _then(awaitable: Awaitable[Any], callback: Any) -> Any:
    try:
        return await awaitable
    finally:
        callback()


class TracedStream(_TracedStreamBase):
    """A synchronous stream (``openai.Stream``, ``anthropic.Stream``, litellm's wrapper)."""

    def __iter__(self) -> TracedStream:
        return self

    def __next__(self) -> Any:
        state = self._self_state
        try:
            chunk = self.__wrapped__.__next__()
        except StopIteration:
            state.exhausted()
            raise
        except Exception as exc:
            state.failed(exc)
            raise
        except BaseException:
            state.finish("cancelled")
            raise
        state.chunk(chunk)
        return chunk

    def __enter__(self) -> TracedStream:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            self._self_state.closed()


class TracedAsyncStream(_TracedStreamBase):
    """An asynchronous stream (``openai.AsyncStream``, ``anthropic.AsyncStream``, litellm's)."""

    def __aiter__(self) -> TracedAsyncStream:
        return self

    async def __anext__(self) -> Any:
        state = self._self_state
        try:
            chunk = await self.__wrapped__.__anext__()
        except StopAsyncIteration:
            state.exhausted()
            raise
        except Exception as exc:
            state.failed(exc)
            raise
        except BaseException:
            state.finish("cancelled")
            raise
        state.chunk(chunk)
        return chunk

    async def __aenter__(self) -> TracedAsyncStream:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            self._self_state.closed()

    async def aclose(self) -> Any:
        try:
            return await self.__wrapped__.aclose()
        finally:
            self._self_state.closed()


def traced_stream(stream: Any, invocation: LLMInvocation, *, asynchronous: bool) -> Any:
    """``stream`` behind a proxy that ends ``invocation``'s span when the stream ends."""
    state = StreamState(invocation, invocation.reader.chunk_reader(invocation.capture), stream)
    return TracedAsyncStream(stream, state) if asynchronous else TracedStream(stream, state)


def _close_traced(stream: Any) -> None:
    if isinstance(stream, _TracedStreamBase):
        stream._self_state.closed()


class TracedStreamManager(wrapt.ObjectProxy[Any]):
    """What a ``.stream()`` helper returns: the request is sent on enter, so the call (and its
    span) starts there, through the same lifecycle as any call; leaving the block ends it."""

    def __init__(self, wrapped: Any, start: Starter) -> None:
        super().__init__(wrapped)
        self._self_start = start
        self._self_stream: Any = None

    def __enter__(self) -> Any:
        enter = self.__wrapped__.__enter__
        self._self_stream = traced(enter, self._self_start)(enter, None, (), {})
        return self._self_stream

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            _close_traced(self._self_stream)

    async def __aenter__(self) -> Any:
        enter = self.__wrapped__.__aenter__
        self._self_stream = await traced(enter, self._self_start)(enter, None, (), {})
        return self._self_stream

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            _close_traced(self._self_stream)
