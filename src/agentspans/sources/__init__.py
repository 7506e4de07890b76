"""Readers into the neutral span model (:mod:`agentspans.analysis.model`).

* :mod:`agentspans.sources.otlp_json`: OTLP/JSON files (``read_files``) and text (``read_text``);
* :mod:`agentspans.sources.jaeger`: a whole trace from Jaeger's query API (``fetch_trace``);
* :mod:`agentspans.sources.live`: the SDK's ``ReadableSpan``s, for the in-process processor.

File and Jaeger readers return a :class:`ReadResult`: the records, and one line per problem.
"""

from __future__ import annotations

from agentspans.sources.otlp_json import ReadResult, read_files, read_text

__all__ = ["ReadResult", "read_files", "read_text"]
