"""Carry the OpenTelemetry context into threads and thread pools.

asyncio tasks copy the context themselves; ``threading.Thread`` and
``ThreadPoolExecutor.submit`` do not, so work fanned out to a pool would lose its parent span.
We carry only the OpenTelemetry context (the span, and the agent name beside it), not every
context variable, so the app's own context variables behave in threads exactly as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from agentspans._patching import Patches


def _has_span(ctx: otel_context.Context) -> bool:
    return trace.get_current_span(ctx).get_span_context().is_valid


def _in_context(ctx: otel_context.Context, function: Callable[..., Any]) -> Callable[..., Any]:
    def run_in_context(*args: Any, **kwargs: Any) -> Any:
        token = otel_context.attach(ctx)
        try:
            return function(*args, **kwargs)
        finally:
            otel_context.detach(token)

    return run_in_context


def _wrap_thread_start(owner: Any, attribute: str, raw: Any) -> Callable[..., Any]:
    # Wrapping the instance's bound ``run`` (not ``Thread.run``) also covers subclasses that
    # override ``run`` without calling the base class.
    def start(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        ctx = otel_context.get_current()
        if _has_span(ctx):
            try:
                instance.run = _in_context(ctx, instance.run)
            except AttributeError:
                pass  # a Thread subclass with __slots__: it runs without our context
        return wrapped(*args, **kwargs)

    return start


def _wrap_submit(owner: Any, attribute: str, raw: Any) -> Callable[..., Any]:
    # Always wrapped, even with no span: a pool's worker thread may have been started inside
    # some span, and a task submitted from outside any span must not inherit that one.
    def submit(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        if args:
            args = (_in_context(otel_context.get_current(), args[0]), *args[1:])
        return wrapped(*args, **kwargs)

    return submit


def patch_threads(patches: Patches) -> None:
    patches.wrap(threading.Thread, "start", _wrap_thread_start)
    patches.wrap(ThreadPoolExecutor, "submit", _wrap_submit)
