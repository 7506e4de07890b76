"""One lifecycle for every instrumented call: sync, async, generator, async generator and stream.

An :class:`Invocation` owns one span. It is begun before the wrapped code runs and ended exactly
once: when the call returns, raises, or (for generators and streams) when the result is
exhausted, closed or dropped. :func:`traced` turns a *starter* — a function that looks at the call
and returns an ``Invocation`` or ``None`` — into a ``wrapt`` wrapper of the right flavour.

The wrapped function is called exactly once whatever happens inside agentspans: a failing starter
means the call runs untraced; the user's exception is recorded and re-raised with a bare ``raise``
so its type and traceback are unchanged.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.trace import Span, Status, StatusCode

from agentspans import semconv
from agentspans._errors import report_internal_error

Args = tuple[Any, ...]
Kwargs = dict[str, Any]
Starter = Callable[[Any, Args, Kwargs], "Invocation | None"]
Wrapper = Callable[[Callable[..., Any], Any, Args, Kwargs], Any]


def error_type(exc: BaseException) -> str:
    """``error.type`` for an exception: its qualified class name, as the conventions suggest."""
    cls = type(exc)
    module = cls.__module__
    return (
        cls.__qualname__ if module in ("builtins", "__main__") else f"{module}.{cls.__qualname__}"
    )


class Invocation:
    """The span of one instrumented call, and how it ends.

    Subclasses override :meth:`on_result` (read the result, maybe hand the span to a stream
    proxy that ends it later) and :meth:`on_error`. ``record_exception_message`` is off for LLM
    clients, whose error messages can echo request content or masked keys.
    """

    __slots__ = ("_context", "_ended", "span")

    record_exception_message = True

    def __init__(self, span: Span, context: Context) -> None:
        self.span = span
        self._context = context
        self._ended = False

    # -- context ---------------------------------------------------------------------------------
    @property
    def context(self) -> Context:
        """The context the call runs in: the parent's, with this span current."""
        return self._context

    def activate(self) -> object:
        return otel_context.attach(self._context)

    @staticmethod
    def deactivate(token: object) -> None:
        otel_context.detach(token)  # type: ignore[arg-type]

    # -- hooks -----------------------------------------------------------------------------------
    def on_result(self, result: Any) -> Any:
        """Read ``result``; return it (the span then ends) or a proxy that will call ``end``."""
        return result

    def on_error(self, exc: BaseException) -> None:
        """Record what the failure tells beyond ``error.type`` (status codes and the like)."""

    def ends_later(self, result: Any, proxy: Any) -> bool:
        """Whether ``on_result`` handed the span to ``proxy`` to end later."""
        return proxy is not result

    # -- outcome ---------------------------------------------------------------------------------
    def succeed(self, result: Any) -> Any:
        try:
            out = self.on_result(result)
        except Exception as exc:
            self.end()
            report_internal_error(f"{type(self).__name__}.on_result", exc)
            return result
        if not self.ends_later(result, out):
            self.end()
        return out

    def fail(self, exc: BaseException) -> None:
        try:
            self.record_error(exc)
            self.on_error(exc)
        except Exception as internal:
            report_internal_error(f"{type(self).__name__}.on_error", internal)
        finally:
            self.end()

    def record_error(self, exc: BaseException) -> None:
        span = self.span
        if not span.is_recording():
            return
        kind = error_type(exc)
        span.set_attribute(semconv.ERROR_TYPE, kind)
        if self.record_exception_message:
            span.record_exception(exc, escaped=True)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        else:
            span.set_status(Status(StatusCode.ERROR, kind))

    def end(self, end_time: int | None = None) -> None:
        if self._ended:
            return
        self._ended = True
        self.span.end(end_time=end_time)


def _begin(start: Starter, instance: Any, args: Args, kwargs: Kwargs) -> Invocation | None:
    try:
        return start(instance, args, kwargs)
    except Exception as exc:
        report_internal_error(getattr(start, "__qualname__", "starter"), exc)
        return None


def _sync_wrapper(start: Starter) -> Wrapper:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Args, kwargs: Kwargs) -> Any:
        invocation = _begin(start, instance, args, kwargs)
        if invocation is None:
            return wrapped(*args, **kwargs)
        token = invocation.activate()
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            invocation.deactivate(token)
            invocation.fail(exc)
            raise
        invocation.deactivate(token)
        return invocation.succeed(result)

    return wrapper


def _async_wrapper(start: Starter) -> Wrapper:
    async def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: Args, kwargs: Kwargs
    ) -> Any:
        invocation = _begin(start, instance, args, kwargs)
        if invocation is None:
            return await wrapped(*args, **kwargs)
        token = invocation.activate()
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            invocation.deactivate(token)
            invocation.fail(exc)
            raise
        invocation.deactivate(token)
        return invocation.succeed(result)

    return wrapper


def _generator_wrapper(start: Starter) -> Wrapper:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Args, kwargs: Kwargs) -> Any:
        invocation = _begin(start, instance, args, kwargs)
        if invocation is None:
            return wrapped(*args, **kwargs)
        token = invocation.activate()
        try:
            generator = wrapped(*args, **kwargs)
        except BaseException as exc:
            invocation.deactivate(token)
            invocation.fail(exc)
            raise
        invocation.deactivate(token)
        return traced_generator(generator, invocation)

    return wrapper


def _async_generator_wrapper(start: Starter) -> Wrapper:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Args, kwargs: Kwargs) -> Any:
        invocation = _begin(start, instance, args, kwargs)
        if invocation is None:
            return wrapped(*args, **kwargs)
        token = invocation.activate()
        try:
            agen = wrapped(*args, **kwargs)
        except BaseException as exc:
            invocation.deactivate(token)
            invocation.fail(exc)
            raise
        invocation.deactivate(token)
        return traced_async_generator(agen, invocation)

    return wrapper


def traced_generator(
    generator: Generator[Any, Any, Any], invocation: Invocation
) -> Generator[Any, Any, Any]:
    """Drive ``generator`` step by step with the span active only while its body runs.

    Keeping the span attached between yields would leak it into the consumer's code. ``send``,
    ``throw`` and ``close`` are forwarded, so the wrapper behaves like the generator it wraps.
    """
    send_value: Any = None
    thrown: BaseException | None = None
    while True:
        token = invocation.activate()
        try:
            if thrown is not None:
                to_throw, thrown = thrown, None
                item = generator.throw(to_throw)
            else:
                item = generator.send(send_value)
        except StopIteration as stop:
            invocation.deactivate(token)
            invocation.succeed(None)
            return stop.value
        except BaseException as exc:
            invocation.deactivate(token)
            invocation.fail(exc)
            raise
        invocation.deactivate(token)
        try:
            send_value = yield item
        except GeneratorExit:
            token = invocation.activate()
            try:
                generator.close()
            finally:
                invocation.deactivate(token)
                invocation.end()
            raise
        except BaseException as exc:
            thrown = exc


async def traced_async_generator(
    agen: AsyncGenerator[Any, Any], invocation: Invocation
) -> AsyncGenerator[Any, Any]:
    """The async twin of :func:`traced_generator`'s protocol, over ``asend``/``athrow``."""
    send_value: Any = None
    thrown: BaseException | None = None
    while True:
        token = invocation.activate()
        try:
            if thrown is not None:
                to_throw, thrown = thrown, None
                item = await agen.athrow(to_throw)
            else:
                item = await agen.asend(send_value)
        except StopAsyncIteration:
            invocation.deactivate(token)
            invocation.succeed(None)
            return
        except BaseException as exc:
            invocation.deactivate(token)
            invocation.fail(exc)
            raise
        invocation.deactivate(token)
        try:
            send_value = yield item
        except GeneratorExit:
            token = invocation.activate()
            try:
                await agen.aclose()
            finally:
                invocation.deactivate(token)
                invocation.end()
            raise
        except BaseException as exc:
            thrown = exc


def traced(function: Callable[..., Any], start: Starter) -> Wrapper:
    """The wrapper that runs ``function`` inside the invocation ``start`` returns."""
    target = inspect.unwrap(function) if callable(function) else function
    if isinstance(target, (staticmethod, classmethod)):
        target = target.__func__
    if inspect.isasyncgenfunction(target):
        return _async_generator_wrapper(start)
    if inspect.iscoroutinefunction(target):
        return _async_wrapper(start)
    if inspect.isgeneratorfunction(target):
        return _generator_wrapper(start)
    return _sync_wrapper(start)
