#!/usr/bin/env python3
"""Run every PromQL expression of the Grafana dashboards against a real Prometheus.

    python scripts/check_dashboards.py http://127.0.0.1:9090 [dashboards/] [--no-gpu]

Each panel target's ``expr`` and each ``label_values(metric, label)`` template variable is sent
to Prometheus' query API, with Grafana's variables replaced the way Grafana would fill them
(``$__rate_interval`` and ``$__range`` by ``--rate-interval`` / ``--range``, a multi-value
variable by its "All" value). An expression passes when Prometheus accepts it and it returns at
least one series with a finite value other than zero: an expression that answers only zeros
(an ``increase()`` that never saw its series rise) is as blind as one with no data. With
``--no-gpu`` (a machine without NVML), expressions that read only ``hw_gpu_*`` metrics must
still be accepted by Prometheus, but may be empty; with a GPU they must have data, zeros
allowed (an idle GPU's utilization gauge reads 0).

Prints one line per expression and exits 1 when any fails.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_LABEL_VALUES = re.compile(
    r"^\s*label_values\(\s*([^,()]+?)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$"
)
_GPU_METRIC = re.compile(r"\bhw_gpu_\w+")
# Metric families the stack produces on any machine: an expression using one must have data.
_OTHER_METRIC = re.compile(r"\b(?:gen_ai_|agentspans_|traces_span_metrics_)\w+")


@dataclass(frozen=True)
class Expression:
    dashboard: str
    panel: str
    kind: str  # "expr" for a panel target, "label_values" for a template variable
    text: str


@dataclass(frozen=True)
class Outcome:
    expression: Expression
    query: str
    ok: bool
    series: int
    detail: str


def expressions(path: Path) -> Iterator[Expression]:
    """Every PromQL expression and label_values() variable of one dashboard JSON file."""
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    title = str(dashboard.get("title", path.name))
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        text = query.get("query") if isinstance(query, dict) else query
        if variable.get("type") == "query" and isinstance(text, str):
            yield Expression(title, f"variable ${variable.get('name')}", "label_values", text)
    for panel in _panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            expr = target.get("expr")
            if isinstance(expr, str) and expr.strip():
                yield Expression(title, str(panel.get("title", "?")), "expr", expr)


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # collapsed rows hold their panels


def _variables(path: Path) -> dict[str, str]:
    """What Grafana puts for each template variable when "All" is selected."""
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    values: dict[str, str] = {}
    for variable in dashboard.get("templating", {}).get("list", []):
        values[str(variable["name"])] = str(variable.get("allValue") or ".*")
    return values


def substitute(text: str, variables: dict[str, str], rate_interval: str, range_: str) -> str:
    builtins = {"__rate_interval": rate_interval, "__interval": rate_interval, "__range": range_}
    values = {**variables, **builtins}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise ValueError(f"unknown Grafana variable ${name}")
        return values[name]

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", replace, text)


def _get(url: str, timeout_s: float) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        body: dict[str, Any] = json.loads(response.read().decode("utf-8"))
    return body


def _query(base: str, path: str, params: list[tuple[str, str]], timeout_s: float) -> Any:
    url = f"{base.rstrip('/')}{path}?{urllib.parse.urlencode(params)}"
    try:
        body = _get(url, timeout_s)
    except urllib.error.HTTPError as exc:  # Prometheus answers a bad query with 400 and a reason
        body = json.loads(exc.read().decode("utf-8") or "{}")
    if body.get("status") != "success":
        raise ValueError(f"{body.get('errorType', 'error')}: {body.get('error', body)}")
    return body["data"]


def check(
    base: str, expression: Expression, query: str, *, gpu: bool, timeout_s: float = 10.0
) -> Outcome:
    gpu_only = bool(_GPU_METRIC.search(query)) and not _OTHER_METRIC.search(query)
    empty_allowed = not gpu and gpu_only
    values: list[float] = []
    try:
        if expression.kind == "label_values":
            match = _LABEL_VALUES.match(query)
            if match is None:
                return Outcome(expression, query, False, 0, "not label_values(metric, label)")
            metric, label = match.groups()
            data = _query(base, "/api/v1/series", [("match[]", metric)], timeout_s)
            labels = {series[label] for series in data if label in series}
            found = len(labels)
        else:
            data = _query(base, "/api/v1/query", [("query", query)], timeout_s)
            values = [
                v for item in data.get("result", []) for v in _values(item) if math.isfinite(v)
            ]
            found = sum(1 for v in values if v != 0)
            if values and not found and not gpu_only:  # an idle GPU's gauges may read 0
                return Outcome(expression, query, False, 0, f"only zeros ({len(values)} values)")
    except (OSError, ValueError) as exc:
        return Outcome(expression, query, False, 0, str(exc))
    if found or (gpu_only and values):
        return Outcome(expression, query, True, found, f"{found} non-zero of {len(values)}")
    if empty_allowed:
        return Outcome(expression, query, True, 0, "no data: GPU metrics on a machine without NVML")
    return Outcome(expression, query, False, 0, "no data")


def _values(item: dict[str, Any]) -> list[float]:
    """A result's values: an instant vector's one, or every point of a matrix."""
    value = item.get("value")
    if value is None:
        return [float(v) for _, v in item.get("values", [])]
    return [float(value[1])]


def dashboard_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.rglob("*.json")) if path.is_dir() else [path])
    return files


def run(
    base: str, paths: list[Path], *, gpu: bool, rate_interval: str = "1m", range_: str = "10m"
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for path in dashboard_files(paths):
        variables = _variables(path)
        for expression in expressions(path):
            try:
                query = substitute(expression.text, variables, rate_interval, range_)
            except ValueError as exc:
                outcomes.append(Outcome(expression, expression.text, False, 0, str(exc)))
                continue
            outcomes.append(check(base, expression, query, gpu=gpu))
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prometheus", help="Prometheus base URL, e.g. http://127.0.0.1:9090")
    parser.add_argument("paths", nargs="*", type=Path, default=[Path("dashboards")])
    parser.add_argument("--no-gpu", action="store_true", help="allow hw_gpu_* panels to be empty")
    parser.add_argument("--rate-interval", default="1m", help="value of $__rate_interval")
    parser.add_argument("--range", dest="range_", default="10m", help="value of $__range")
    args = parser.parse_args(argv)
    outcomes = run(
        args.prometheus,
        args.paths,
        gpu=not args.no_gpu,
        rate_interval=args.rate_interval,
        range_=args.range_,
    )
    for outcome in outcomes:
        mark = "ok  " if outcome.ok else "FAIL"
        where = f"{outcome.expression.dashboard} / {outcome.expression.panel}"
        print(f"{mark} {where}: {outcome.detail}\n       {outcome.query}")
    failed = sum(1 for outcome in outcomes if not outcome.ok)
    print(f"{len(outcomes) - failed} of {len(outcomes)} dashboard expressions returned data")
    if not outcomes:
        print("no dashboard expressions found", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
