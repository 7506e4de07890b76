"""The ``agentspans`` command: ``report`` on files, ``analyze`` a trace in Jaeger, ``demo``.

Exit status (docs/report.md): 0 when everything was read and analysed without a problem; 1 when
at least one trace was analysed but some input had problems (each printed on stderr, one line);
2 on a usage error (a bad option or threshold) or when nothing could be analysed.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentspans.analysis import Thresholds
    from agentspans.sources.otlp_json import ReadResult

__all__ = ["EXIT_NOTHING", "EXIT_OK", "EXIT_PROBLEMS", "EXIT_USAGE", "main"]

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_NOTHING = 2


class _UsageError(Exception):
    """A bad command line; the message says what was wrong."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] == "demo":
            return _demo(args[1:])
        return _run(args)
    except BrokenPipeError:
        # The reader went away (``agentspans report f | head``): not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    except (MemoryError, RecursionError) as exc:
        sys.stderr.write(f"agentspans: the input is too large or too deeply nested ({exc!r})\n")
        return EXIT_NOTHING
    except Exception as exc:
        from agentspans._errors import strict

        if strict():
            raise
        sys.stderr.write(
            f"agentspans: internal error ({type(exc).__name__}: {exc}); please report it\n"
        )
        return EXIT_NOTHING


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentspans",
        description="Where a multi-agent LLM app spends its time, tokens and money: the critical "
        "path, coordination overhead and bottlenecks of its traces.",
    )
    parser.add_argument("--version", action="version", version=f"agentspans {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    output = argparse.ArgumentParser(add_help=False)
    output.add_argument(
        "--format",
        choices=("text", "json", "html"),
        default="text",
        help="text: the terminal report (default); json: one JSON document (docs/report.md); "
        "html: one self-contained page (agentspans report --format html FILE > report.html)",
    )
    output.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change a detector threshold (repeatable); names and defaults in docs/analysis.md",
    )
    output.add_argument(
        "--max-rows",
        type=_positive_int,
        default=None,
        metavar="N",
        help="waterfall rows per trace before spans are folded (default 40)",
    )

    report = commands.add_parser(
        "report",
        parents=[output],
        help="analyse OTLP/JSON files",
        description="Analyse OTLP/JSON files: one ExportTraceServiceRequest a line (the "
        "Collector's file exporter, agentspans' file exporter), or one JSON document.",
    )
    report.add_argument(
        "files", nargs="+", metavar="FILE", help="OTLP/JSON file(s); - reads standard input"
    )

    analyze = commands.add_parser(
        "analyze",
        parents=[output],
        help="analyse one whole trace fetched from Jaeger",
        description="Fetch a whole distributed trace from Jaeger's query API "
        "(GET URL/api/v3/traces/TRACE_ID) and analyse it across every process in it.",
    )
    analyze.add_argument(
        "--jaeger",
        required=True,
        metavar="URL",
        help="Jaeger query service, e.g. http://localhost:16686",
    )
    analyze.add_argument(
        "--timeout",
        type=_positive_float,
        default=10.0,
        metavar="S",
        help="seconds to wait for Jaeger (default 10)",
    )
    analyze.add_argument("trace_id", metavar="TRACE_ID", help="the trace id, in hex")

    commands.add_parser(
        "demo", help="run the demo app against a local LLM simulator (agentspans demo --help)"
    )
    return parser


def _version() -> str:
    from agentspans import __version__

    return __version__


def _run(argv: list[str]) -> int:
    parser = _parser()
    args = parser.parse_args(argv)  # exits with status 2 and a usage line on a bad command line
    try:
        thresholds = _thresholds(args.threshold)
    except _UsageError as exc:
        parser.exit(EXIT_USAGE, f"agentspans {args.command}: {exc}\n")
    if args.command == "report":
        from agentspans.sources.otlp_json import read_files

        read = read_files(args.files)
    else:
        from agentspans.sources.jaeger import fetch_trace

        read = fetch_trace(args.jaeger, args.trace_id, timeout_s=args.timeout)
    return _analyse_and_print(read, thresholds, args)


def _analyse_and_print(read: ReadResult, thresholds: Thresholds, args: argparse.Namespace) -> int:
    from agentspans import report
    from agentspans.analysis import analyze
    from agentspans.processors.enrich import price_records

    # Spans another instrumentation wrote carry tokens but no cost: price them as live ones.
    read.records = price_records(read.records)
    # The command's own process, so it may pause the cyclic collector, which the library never
    # does: the analysis makes no reference cycles, and the passes were 10-20% of its time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        analyses = analyze(read.records, thresholds) if read.records else []
    finally:
        if collecting:
            gc.enable()
    problems = list(read.problems)
    for analysis in analyses:
        problems.extend(problem for problem in analysis.problems if problem not in problems)
    options = {} if args.max_rows is None else {"max_rows": args.max_rows}
    if args.format == "json" or analyses:
        report.print_report(analyses, read.records, fmt=args.format, **options)
    sys.stdout.flush()
    report.print_problems(problems)
    if not analyses:
        sys.stderr.write(
            "agentspans: no trace to analyse"
            + (" (no spans were read)" if not read.records else "")
            + "\n"
        )
        return EXIT_NOTHING
    return EXIT_PROBLEMS if problems else EXIT_OK


def _thresholds(pairs: Sequence[str]) -> Thresholds:
    from agentspans.analysis import Thresholds

    mapping: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise _UsageError(
                f"--threshold {pair!r}: expected NAME=VALUE; accepted names: "
                + ", ".join(sorted(Thresholds.names()))
            )
        mapping[name.strip()] = value.strip()
    try:
        return Thresholds.from_mapping(mapping)
    except ValueError as exc:
        raise _UsageError(f"--threshold: {exc}") from None


def _demo(argv: list[str]) -> int:
    try:
        from agentspans.demo.cli import main as demo_main
    except ImportError as exc:
        sys.stderr.write(
            f"agentspans demo: the demo is not available in this installation ({exc}); "
            "install agentspans[demo]\n"
        )
        return EXIT_USAGE
    return demo_main(argv)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0")
    return value


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
