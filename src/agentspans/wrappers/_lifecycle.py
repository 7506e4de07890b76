"""One lifecycle for every instrumented call: sync, async, generator, async generator and stream.

An :class:`Invocation` owns one span. It is begun before the wrapped code runs and ended exactly
once: when the call returns, raises, or (for generators and streams) when the result is
exhausted, closed or dropped. :func:`traced` turns a *starter* — a function that looks at the call
and returns an ``Invocation`` or ``None`` — into a ``wrapt`` wrapper for a patch, and
:func:`traced_function` into the decorated function itself; both for every calling shape (sync,
coroutine, generator, async generator), each running the call inside ``with invocation:``.

The wrapped function is called exactly once whatever happens inside agentspans: a failing starter
means the call runs untraced; the user's exception is recorded and re-raised with a bare ``raise``
so its type and traceback are unchanged.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any

import wrapt
from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.trace import Span, Status, StatusCode

from agentspans import _redact, semconv
from agentspans._errors import report_internal_error
from agentspans._patching import TRACED_MARK
from agentspans._runtime import RUNTIME

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

    ``with invocation:`` is the one activate / try / deactivate block every calling shape uses:
    the span is current inside it, and a failure leaving it is recorded and ends the span (the
    exception itself propagates untouched: ``__exit__`` returns False).
    """

    __slots__ = ("_context", "_ended", "_token", "span")

    record_exception_message = True

    def __init__(self, span: Span, context: Context) -> None:
        self.span = span
        self._context = context
        self._ended = False
        self._token: object = None

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

    def __enter__(self) -> Invocation:
        self._token = otel_context.attach(self._context)
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        otel_context.detach(self._token)  # type: ignore[arg-type]
        if exc is not None:
            self.fail(exc)

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
        if self.record_exception_message:
            record_exception(span, exc)  # the event, error.type and status
            return
        kind = error_type(exc)
        span.set_attribute(semconv.ERROR_TYPE, kind)
        span.set_status(Status(StatusCode.ERROR, kind))

    def end(self, end_time: int | None = None) -> None:
        if self._ended:
            return
        self._ended = True
        self.span.end(end_time=end_time)


# Per thread, the exception last recorded and the head of its traceback then, as ids: while an
# exception unwinds through nested spans, the frames below that entry are on the inner span.
# Only ids are kept, so no traceback (and none of its frames' locals) outlives the exception.
_last_recorded = threading.local()


def _own_frames(exc: BaseException) -> tuple[int, bool]:
    """How many traceback entries this span records, and whether deeper ones are elsewhere.

    Formatting the whole traceback at every level of nested spans cost O(depth^2) (a recursion of
    300 agents took seconds). Each span records its frames down to where the span inside it
    recorded the same exception, so the spans of one failure hold the whole stack between them,
    each frame once. Where no inner span recorded it (an LLM call records no stack), the whole
    traceback is recorded here.
    """
    tb = exc.__traceback__
    last = getattr(_last_recorded, "value", None)
    stop = last[1] if last is not None and last[0] == id(exc) else None
    _last_recorded.value = (id(exc), id(tb))
    count = 0
    while tb is not None:
        if count and id(tb) == stop:
            return count, True
        count += 1
        tb = tb.tb_next
    return count, False


def record_exception(span: Span, exc: BaseException) -> None:
    """The ``exception`` event, ``error.type`` and status, with the span's own frames only and
    without what a provider's exception echoes back (``agentspans._redact``)."""
    limit, cut = _own_frames(exc)
    runtime = RUNTIME.current
    capture = runtime.config.capture_content if runtime is not None else False
    _redact.record_exception(span, exc, capture_content=capture, frames=limit, deeper_elsewhere=cut)


def _begin(start: Starter, instance: Any, args: Args, kwargs: Kwargs) -> Invocation | None:
    try:
        return start(instance, args, kwargs)
    except Exception as exc:
        report_internal_error(getattr(start, "__qualname__", "starter"), exc)
        return None


# -- the one wrapper factory ---------------------------------------------------------------------
# A call runs inside ``with invocation:`` (the one activate / record / deactivate block) and its
# result goes to a *finisher*: ``Invocation.succeed`` for a value, or a step-by-step driver for a
# generator or async generator, which keeps the span open until the result is exhausted. A
# coroutine function needs a wrapper of its own because only an ``async def`` can ``await``.
Finisher = Callable[[Invocation, Any], Any]


def _finish_value(invocation: Invocation, result: Any) -> Any:
    return invocation.succeed(result)


def _finish_generator(invocation: Invocation, result: Any) -> Any:
    return traced_generator(result, invocation)


def _finish_async_generator(invocation: Invocation, result: Any) -> Any:
    return traced_async_generator(result, invocation)


def _shape(function: Any) -> Finisher | None:
    """How a call's result is finished; None for a coroutine function."""
    target = inspect.unwrap(function) if callable(function) else function
    if isinstance(target, (staticmethod, classmethod)):
        target = target.__func__
    if inspect.isasyncgenfunction(target):
        return _finish_async_generator
    if inspect.iscoroutinefunction(target):
        return None
    if inspect.isgeneratorfunction(target):
        return _finish_generator
    return _finish_value


def traced(function: Callable[..., Any], start: Starter) -> Wrapper:
    """The ``wrapt`` wrapper that runs ``function`` inside the invocation ``start`` returns."""
    finish = _shape(function)
    if finish is None:

        async def awaiting(
            wrapped: Callable[..., Any], instance: Any, args: Args, kwargs: Kwargs
        ) -> Any:
            invocation = _begin(start, instance, args, kwargs)
            if invocation is None:
                return await wrapped(*args, **kwargs)
            with invocation:
                result = await wrapped(*args, **kwargs)
            return invocation.succeed(result)

        return awaiting

    def calling(wrapped: Callable[..., Any], instance: Any, args: Args, kwargs: Kwargs) -> Any:
        invocation = _begin(start, instance, args, kwargs)
        if invocation is None:
            return wrapped(*args, **kwargs)
        with invocation:
            result = wrapped(*args, **kwargs)
        return finish(invocation, result)

    return calling


# A decorated function is a plain function, not a wrapt proxy: a proxy costs three stack frames a
# call and a plain wrapper one, so a recursion of decorated agents reaches twice as deep. It is
# marked (TRACED_MARK) so that patching by import path leaves it alone, as it leaves wrapt proxies.


def _begin_call(
    start: Starter, function: Any, method: bool, args: Args, kwargs: Kwargs
) -> Invocation | None:
    """:func:`_begin` for a plain wrapper, which sees a method's ``self`` among the ``args``."""
    try:
        if method and args and _is_receiver(args[0], function):
            return start(args[0], args[1:], kwargs)
        return start(None, args, kwargs)
    except Exception as exc:
        report_internal_error(getattr(start, "__qualname__", "starter"), exc)
        return None


def _is_receiver(first: Any, wrapper: Any) -> bool:
    """Whether ``first`` is the instance (or class) ``wrapper`` was looked up on as a method."""
    owner = first if isinstance(first, type) else type(first)
    name = wrapper.__name__
    for klass in owner.__mro__:
        attribute = klass.__dict__.get(name)
        if attribute is wrapper or getattr(attribute, "__func__", None) is wrapper:
            return True
    return False


def _defined_in_class(function: Any) -> bool:
    qualname = str(getattr(function, "__qualname__", ""))
    return "." in qualname.rsplit("<locals>.", 1)[-1]


def traced_function(function: Callable[..., Any], start: Starter) -> Callable[..., Any]:
    """``function`` decorated: called the same way, run inside the invocation ``start`` returns.

    Plain and coroutine functions get a plain wrapper; generator functions, static and class
    methods a ``wrapt`` proxy, which keeps what ``inspect`` says of them.
    """
    finish = _shape(function)
    if finish not in (None, _finish_value) or isinstance(function, (staticmethod, classmethod)):
        return wrapt.FunctionWrapper(function, traced(function, start))
    method = _defined_in_class(function)
    call: Callable[..., Any]
    if finish is None:

        async def awaiting(*args: Any, **kwargs: Any) -> Any:
            invocation = _begin_call(start, awaiting, method, args, kwargs)
            if invocation is None:
                return await function(*args, **kwargs)
            with invocation:
                result = await function(*args, **kwargs)
            return invocation.succeed(result)

        call = awaiting
    else:

        def calling(*args: Any, **kwargs: Any) -> Any:
            invocation = _begin_call(start, calling, method, args, kwargs)
            if invocation is None:
                return function(*args, **kwargs)
            with invocation:
                result = function(*args, **kwargs)
            return invocation.succeed(result)

        call = calling
    functools.update_wrapper(call, function)
    setattr(call, TRACED_MARK, True)
    return call


# The two generator protocols stay side by side: the async one is the same steps over
# asend / athrow / aclose, and only an ``async def`` can await them.
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
        finished: StopIteration | None = None
        with invocation:
            try:
                item = generator.send(send_value) if thrown is None else generator.throw(thrown)
            except StopIteration as stop:
                finished = stop
        if finished is not None:
            invocation.succeed(None)
            return finished.value
        thrown = None
        try:
            send_value = yield item
        except GeneratorExit:
            with invocation:
                generator.close()
            invocation.end()
            raise
        except BaseException as exc:
            thrown = exc


async def traced_async_generator(
    agen: AsyncGenerator[Any, Any], invocation: Invocation
) -> AsyncGenerator[Any, Any]:
    """:func:`traced_generator`'s protocol over ``asend``/``athrow``/``aclose``."""
    send_value: Any = None
    thrown: BaseException | None = None
    while True:
        finished = False
        with invocation:
            try:
                item = await (agen.asend(send_value) if thrown is None else agen.athrow(thrown))
            except StopAsyncIteration:
                finished = True
        if finished:
            invocation.succeed(None)
            return
        thrown = None
        try:
            send_value = yield item
        except GeneratorExit:
            with invocation:
                await agen.aclose()
            invocation.end()
            raise
        except BaseException as exc:
            thrown = exc
