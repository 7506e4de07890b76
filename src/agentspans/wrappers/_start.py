"""Starting an LLM call's span, its attributes set right after the SDK made it where no one can
tell the difference.

``Tracer.start_span(attributes=...)`` cleans every start attribute through the SDK's
``BoundedAttributes`` (``_clean_attribute_value``, a lock per key): ~60k instructions for the
nine of a chat call, the largest single part of what agentspans adds on the app's thread. They
are passed at start so that the sampler and the span processors' ``on_start`` see them. Where
neither can look at them, the span is started without them and they are set at once, before
the span is returned to anyone, through ``_llm.set_attributes`` (directly where the SDK's
cleaning would return every value unchanged, else ``Span.set_attributes``: the same cleaning
``BoundedAttributes`` does at start). The span is then the same: the same attributes, in the
same order, the same dropped count. "Neither can look" means, checked per call:

* the tracer is our ``SuppressibleTracer`` over the SDK's own ``Tracer`` and ``start_span``;
* its sampler is one of the SDK's samplers that decide on the parent and the trace id alone and
  only hand the attributes back (``StaticSampler``: always on / off; ``TraceIdRatioBased``;
  ``ParentBased`` over such samplers), with their own ``should_sample``;
* the provider's span processor is the SDK's synchronous one holding only our
  ``TraceProcessor``, with no downstream processor whose ``on_start`` does something
  (``TraceProcessor._starting``), and no start hook, or only hooks that say which context keys
  they need (the integrations' do: they look only inside an agent SDK's model call or a
  LangChain LLM run) with none of those keys in the span's parent context.

Anything else (a custom sampler, ``AlwaysRecordSampler``, a processor of the app's added beside
ours, a framework's start hook) starts the span with its attributes, as before.
``tests/llm/test_start_attributes.py`` holds both ways equal.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import SynchronousMultiSpanProcessor, sampling
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.trace import Span, SpanKind
from opentelemetry.util.types import AttributeValue

from agentspans._suppress import SuppressibleTracer, suppressed_here
from agentspans.processors.pipeline import TraceProcessor
from agentspans.wrappers._attributes import set_directly

_SDK_START_SPAN = SdkTracer.__dict__.get("start_span")
_SDK_START_SPAN_OK = (
    type(_SDK_START_SPAN) is types.FunctionType
    and getattr(_SDK_START_SPAN, "__module__", None) == "opentelemetry.sdk.trace"
)
# The SDK samplers' own ``should_sample``, which pass the attributes on untouched.
_LEAF_SAMPLING = (
    sampling.StaticSampler.__dict__.get("should_sample"),
    sampling.TraceIdRatioBased.__dict__.get("should_sample"),
)
_PARENT_BASED_SAMPLING = sampling.ParentBased.__dict__.get("should_sample")
_DELEGATES = (
    "_root",
    "_remote_parent_sampled",
    "_remote_parent_not_sampled",
    "_local_parent_sampled",
    "_local_parent_not_sampled",
)
_OBJECT_GETATTRIBUTE: Any = object.__getattribute__


def blind_sampler(sampler: object, depth: int = 0) -> bool:
    """Whether ``sampler`` provably never looks at a span's attributes (see the module's
    docstring) and, for a recorded span, hands them back as they were given."""
    cls = type(sampler)
    if depth > 4 or getattr(cls, "__getattribute__", None) is not _OBJECT_GETATTRIBUTE:
        return False
    sample = getattr(cls, "should_sample", None)
    if sample is None:
        return False
    if any(sample is leaf for leaf in _LEAF_SAMPLING):
        return True
    if sample is not _PARENT_BASED_SAMPLING:
        return False
    fields = getattr(sampler, "__dict__", {})
    return all(name in fields and blind_sampler(fields[name], depth + 1) for name in _DELEGATES)


class _Verdict:
    """The last sampler found blind: samplers are made once, so it is asked once."""

    __slots__ = ("sampler",)

    def __init__(self) -> None:
        self.sampler: object = None


_LAST = _Verdict()


def attribute_blind_tracer(tracer: object, context: Context) -> SdkTracer | None:
    """The SDK tracer inside ``tracer`` when nothing at the start of a span with the parent
    ``context`` can see its attributes, else None."""
    if type(tracer) is not SuppressibleTracer or not _SDK_START_SPAN_OK:
        return None
    inner: Any = tracer.inner
    if type(inner) is not SdkTracer or SdkTracer.start_span is not _SDK_START_SPAN:
        return None
    multi = getattr(inner, "span_processor", None)
    if type(multi) is not SynchronousMultiSpanProcessor:
        return None
    processors = getattr(multi, "_span_processors", None)  # (an SDK without it: as before)
    if type(processors) is not tuple or len(processors) != 1:
        return None
    processor = processors[0]
    if type(processor) is not TraceProcessor or processor.sees_start_attributes:
        return None
    for key in processor.start_context_keys:
        if key in context:
            return None  # a start hook will look at this span
    sampler = getattr(inner, "sampler", None)
    if sampler is not _LAST.sampler:
        if not blind_sampler(sampler):
            return None
        _LAST.sampler = sampler
    return inner


def start_client_span(
    tracer: trace.Tracer, name: str, context: Context, attributes: Mapping[str, AttributeValue]
) -> Span:
    """``tracer.start_span(name, context, kind=CLIENT, attributes=attributes)``, the attributes
    set just after the SDK made the span where nothing could see them at its start."""
    inner = attribute_blind_tracer(tracer, context)
    if inner is None:
        return tracer.start_span(name, context=context, kind=SpanKind.CLIENT, attributes=attributes)
    if suppressed_here(context):  # what SuppressibleTracer.start_span checks first
        return trace.INVALID_SPAN
    span = inner.start_span(name, context=context, kind=SpanKind.CLIENT)
    if attributes and not set_directly(span, attributes) and span.is_recording():
        span.set_attributes(attributes)
    return span
