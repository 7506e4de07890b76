"""The SDK's OTLP/gRPC span exporter with the request encoded by :mod:`.otlp_proto`.

Everything else (the channel, headers, compression, retries, the exporter's own metrics) is the
SDK's: only ``_translate_data``, the hook that turns a batch into the request, is replaced.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan

from agentspans._errors import report_internal_error
from agentspans.exporters.otlp_proto import encode_request


class GrpcSpanExporter(OTLPSpanExporter):
    def _translate_data(self, data: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
        # Parsing the bytes back is C code, a tenth of the encoding's cost: the SDK's stub
        # sends a message, and it stays the SDK's.
        try:
            request: ExportTraceServiceRequest = ExportTraceServiceRequest.FromString(
                encode_request(data)
            )
        except Exception as exc:
            # A batch our encoder cannot take still goes out, encoded by the SDK.
            report_internal_error("OTLP span encoding", exc)
            fallback: ExportTraceServiceRequest = super()._translate_data(data)
            return fallback
        return request
