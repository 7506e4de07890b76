"""Options for ``instrument()``: arguments first, then ``OTEL_*`` / ``AGENTSPANS_*``, then defaults.

Everything is read and validated once, here. A wrong argument raises :class:`ConfigError` naming
the option and the accepted values; a wrong environment variable is logged and replaced by its
default, as the OpenTelemetry SDK does, so a typo in a deployment's environment cannot stop the
application from starting.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict, TypeVar

from typing_extensions import Unpack

from agentspans._errors import warn_once
from agentspans.wrappers import INTEGRATIONS

EXPORTERS = ("otlp", "file", "console", "none")
OTLP_PROTOCOLS = ("grpc", "http/protobuf")
LIBRARIES = tuple(INTEGRATIONS)  # LLM clients, then agent frameworks
DEFAULT_FILE_PATH = "agentspans-traces.jsonl"

_DEFAULT_EXPORT_TIMEOUT_S = 5.0
_DEFAULT_SHUTDOWN_TIMEOUT_S = 3.0
_DEFAULT_RESOURCE_INTERVAL_S = 0.05
_DEFAULT_ANALYSIS_HOLD_S = 300.0
_DEFAULT_MAX_SPANS_PER_TRACE = 20_000
_DEFAULT_MAX_TRACES_HELD = 2_000
_DEFAULT_MAX_SPANS_HELD = 100_000

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})

T = TypeVar("T")


class ConfigError(ValueError):
    """A wrong option given to ``instrument()``."""


@dataclass(frozen=True)
class Config:
    """The resolved options. Built only by :func:`resolve`."""

    service_name: str | None
    exporters: tuple[str, ...]
    otlp_protocol: str | None
    otlp_endpoint: str | None
    file_path: str
    capture_content: bool
    delegates: Mapping[str, str | None]
    agents: tuple[str, ...]
    tools: tuple[str, ...]
    libraries: tuple[str, ...]
    analysis: bool
    thresholds: Mapping[str, float]
    analysis_hold_s: float
    max_spans_per_trace: int
    max_traces_held: int
    resources: bool
    resource_interval_s: float
    prices: Mapping[str, Mapping[str, float]]
    prices_file: str | None
    export_timeout_s: float
    shutdown_timeout_s: float
    max_spans_held: int = _DEFAULT_MAX_SPANS_HELD
    # Exporters and the provider the app chose; not validated beyond their presence.
    tracer_provider: Any = None
    exporters_explicit: bool = False
    # Metrics from finished spans (docs/cost.md); the MeterProvider the app passed, if any.
    metrics: bool = True
    meter_provider: Any = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _bad_env(name: str, value: str, accepted: str, default: object) -> None:
    warn_once(
        f"env:{name}={value}",
        "agentspans: ignoring %s=%r (accepted: %s); using %r",
        name,
        value,
        accepted,
        default,
    )


def _parse_bool_env(name: str, default: bool) -> bool:
    raw = _env(name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    _bad_env(name, raw, "true or false", default)
    return default


def _parse_number_env(
    name: str, default: T, convert: Callable[[str], T], check: Callable[[T], bool], accepted: str
) -> T:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = convert(raw)
    except ValueError:
        _bad_env(name, raw, accepted, default)
        return default
    if not check(value):
        _bad_env(name, raw, accepted, default)
        return default
    return value


def _split_list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _choice_list(
    option: str, value: str | Sequence[str], accepted: Sequence[str], env_name: str | None
) -> tuple[str, ...]:
    items = _split_list(value) if isinstance(value, str) else tuple(value)
    if not items:
        raise ConfigError(
            f"agentspans.instrument({option}=...): empty; accepted: {', '.join(accepted)}"
        )
    for item in items:
        if not isinstance(item, str) or item not in accepted:
            where = f" (or {env_name})" if env_name else ""
            raise ConfigError(
                f"agentspans.instrument({option}={value!r}): unknown value {item!r}; "
                f"accepted: {', '.join(accepted)}{where}"
            )
    if "none" in items and len(items) > 1:
        raise ConfigError(
            f"agentspans.instrument({option}={value!r}): 'none' cannot be combined with others"
        )
    return items


def _check_positive(option: str, value: object, integer: bool = False) -> None:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or value <= 0:
        expected = "a positive integer" if integer else "a positive number"
        raise ConfigError(f"agentspans.instrument({option}={value!r}): expected {expected}")


def _import_paths(option: str, value: Iterable[str] | str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    for item in items:
        if not isinstance(item, str) or item.count(":") != 1 or not all(item.split(":")):
            raise ConfigError(
                f"agentspans.instrument({option}=...): {item!r} is not an import path; "
                "write 'package.module:function', 'package.module:Class.method', "
                "'package.module:*' or 'package.module:Class.*'"
            )
    return tuple(items)


def _env_import_paths(name: str) -> tuple[str, ...]:
    """The import paths in environment variable ``name``; a malformed one is logged and
    skipped (a typo in a deployment's environment must not stop the app)."""
    kept = []
    for item in _split_list(_env(name) or ""):
        if item.count(":") != 1 or not all(item.split(":")):
            warn_once(
                f"env:{name}:{item}",
                "agentspans: ignoring %r in %s: not an import path (write "
                "'package.module:function', 'package.module:Class.method', 'package.module:*' "
                "or 'package.module:Class.*')",
                item,
                name,
            )
            continue
        kept.append(item)
    return tuple(kept)


def _delegates(
    value: Mapping[str, str | None] | Iterable[str] | str | None,
) -> dict[str, str | None]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        paths = _import_paths("delegates", list(value))
        result: dict[str, str | None] = {}
        for path in paths:
            expr = value[path]
            if expr is not None and (not isinstance(expr, str) or not expr.strip()):
                raise ConfigError(
                    f"agentspans.instrument(delegates={{{path!r}: {expr!r}}}): the value names the "
                    "argument that holds the agent's name, e.g. 'agent.name' or 'agent_name'"
                )
            result[path] = expr
        return result
    return dict.fromkeys(_import_paths("delegates", value))


def _env_float(name: str, default: float) -> float:
    return _parse_number_env(name, default, float, lambda v: v > 0, "a positive number")


def _env_int(name: str, default: int) -> int:
    return _parse_number_env(name, default, int, lambda v: v > 0, "a positive integer")


def _numeric_option(
    option: str, value: float | None, env_name: str, default: float, integer: bool = False
) -> Any:
    if value is not None:
        _check_positive(option, value, integer)
        return value
    return _env_int(env_name, int(default)) if integer else _env_float(env_name, default)


def _exporters(value: str | Sequence[str] | None) -> tuple[tuple[str, ...], bool]:
    if value is not None:
        return _choice_list("exporter", value, EXPORTERS, None), True
    for env_name in ("AGENTSPANS_EXPORTER", "OTEL_TRACES_EXPORTER"):
        raw = _env(env_name)
        if raw is None:
            continue
        items = _split_list(raw.lower())
        if items and all(item in EXPORTERS for item in items):
            return items, True
        _bad_env(env_name, raw, ", ".join(EXPORTERS), "otlp")
        return ("otlp",), False
    return ("otlp",), False


def _otlp_protocol(value: str | None) -> str | None:
    if value is not None:
        if value not in OTLP_PROTOCOLS:
            raise ConfigError(
                f"agentspans.instrument(otlp_protocol={value!r}): accepted: "
                f"{', '.join(OTLP_PROTOCOLS)} (http/json is not supported by the Python exporter)"
            )
        return value
    for env_name in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        raw = _env(env_name)
        if raw is None:
            continue
        if raw in OTLP_PROTOCOLS:
            return raw
        _bad_env(env_name, raw, ", ".join(OTLP_PROTOCOLS), "grpc")
        return "grpc"
    return None


def _capture_content(value: bool | None) -> bool:
    if value is not None:
        if not isinstance(value, bool):
            raise ConfigError(
                f"agentspans.instrument(capture_content={value!r}): expected True or False"
            )
        return value
    if _env("AGENTSPANS_CAPTURE_CONTENT") is not None:
        return _parse_bool_env("AGENTSPANS_CAPTURE_CONTENT", False)
    return _parse_bool_env("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", False)


def _libraries(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is not None:
        if (isinstance(value, str) and value == "none") or (
            not isinstance(value, str) and not value
        ):
            return ()
        return _choice_list("libraries", value, LIBRARIES, "AGENTSPANS_LIBRARIES")
    raw = _env("AGENTSPANS_LIBRARIES")
    if raw is None:
        return LIBRARIES
    items = _split_list(raw.lower())
    if items == ("none",):
        return ()
    if all(item in LIBRARIES for item in items):
        return items
    _bad_env("AGENTSPANS_LIBRARIES", raw, ", ".join(LIBRARIES), ",".join(LIBRARIES))
    return LIBRARIES


def _thresholds(value: Mapping[str, float] | None) -> Mapping[str, float]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"agentspans.instrument(thresholds={value!r}): expected a mapping of threshold "
            "names to numbers"
        )
    return dict(value)


def _prices(value: Mapping[str, Mapping[str, float]] | None) -> Mapping[str, Mapping[str, float]]:
    if value is None:
        return {}
    from agentspans.pricing import validate_overrides

    try:
        return validate_overrides(value)
    except ValueError as exc:
        raise ConfigError(f"agentspans.instrument(prices=...): {exc}") from None


def _meter_provider(value: Any) -> Any:
    if value is not None and not callable(getattr(value, "get_meter", None)):
        raise ConfigError(
            f"agentspans.instrument(meter_provider={value!r}): expected an OpenTelemetry "
            "MeterProvider (an object with get_meter())"
        )
    return value


class Options(TypedDict, total=False):
    """Every keyword of ``instrument()``, declared once; each has a row in docs/configuration.md.

    ``instrument(**options: Unpack[Options])`` forwards them to :func:`resolve`, so IDEs and
    mypy see every keyword and its type. A new option: its key here, its :class:`Config` field
    and its line in :func:`resolve`, and its docs row.
    """

    service_name: str | None
    exporter: str | Sequence[str] | None
    otlp_protocol: str | None
    otlp_endpoint: str | None
    file_path: str | os.PathLike[str] | None
    capture_content: bool | None
    delegates: Mapping[str, str | None] | Iterable[str] | str | None
    agents: Iterable[str] | str | None
    tools: Iterable[str] | str | None
    libraries: str | Sequence[str] | None
    analysis: bool | None
    thresholds: Mapping[str, float] | None
    analysis_hold_s: float | None
    max_spans_per_trace: int | None
    max_traces_held: int | None
    max_spans_held: int | None
    resources: bool | None
    resource_interval_s: float | None
    prices: Mapping[str, Mapping[str, float]] | None
    prices_file: str | os.PathLike[str] | None
    export_timeout_s: float | None
    shutdown_timeout_s: float | None
    tracer_provider: Any
    metrics: bool | None
    meter_provider: Any


OPTION_NAMES: tuple[str, ...] = tuple(Options.__annotations__)


class UnknownOptionError(ConfigError, TypeError):
    """A keyword ``instrument()`` does not have: a ``TypeError``, as Python raises for one."""


def _check_known(options: Mapping[str, object]) -> None:
    unknown = [name for name in options if name not in Options.__annotations__]
    if unknown:
        raise UnknownOptionError(
            f"agentspans.instrument({unknown[0]}=...): unknown option; the options are: "
            f"{', '.join(OPTION_NAMES)} (docs/configuration.md)"
        )


def _service_name(value: str | None) -> str | None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ConfigError(
            f"agentspans.instrument(service_name={value!r}): expected a non-empty string"
        )
    return value or _env("OTEL_SERVICE_NAME")


def _flag(option: str, value: bool | None, env_name: str, default: bool) -> bool:
    if value is None:
        return _parse_bool_env(env_name, default)
    if not isinstance(value, bool):
        raise ConfigError(f"agentspans.instrument({option}={value!r}): expected True or False")
    return value


def _file_path(value: str | os.PathLike[str] | None, exporters: tuple[str, ...]) -> str:
    """The trace file. Its directory must exist (a typo must not create a tree of folders): for
    ``file_path=`` that is an error, for AGENTSPANS_FILE_PATH a warning and the default file."""
    if value is None:
        from_env = _env("AGENTSPANS_FILE_PATH")
        if from_env is None:
            return DEFAULT_FILE_PATH
        if "file" in exporters and not _directory_exists(from_env):
            expected = "a path in an existing directory"
            _bad_env("AGENTSPANS_FILE_PATH", from_env, expected, DEFAULT_FILE_PATH)
            return DEFAULT_FILE_PATH
        return from_env
    path = os.fspath(value)
    if not path.strip():
        raise ConfigError("agentspans.instrument(file_path=''): expected a file path")
    if "file" in exporters and not _directory_exists(path):
        raise ConfigError(
            f"agentspans.instrument(file_path={path!r}): the directory "
            f"{os.path.dirname(os.path.abspath(path))!r} does not exist; create it or "
            "pass a path in an existing directory"
        )
    return path


def _directory_exists(path: str) -> bool:
    return os.path.isdir(os.path.dirname(os.path.abspath(os.path.expanduser(path))))


def _prices_file(value: str | os.PathLike[str] | None) -> str | None:
    return os.fspath(value) if value is not None else _env("AGENTSPANS_PRICES_FILE")


def _path_list(option: str, value: Iterable[str] | str | None, env_name: str) -> tuple[str, ...]:
    if value is None:
        value = _env_import_paths(env_name)
    return _import_paths(option, value)


def _delegates_option(
    value: Mapping[str, str | None] | Iterable[str] | str | None,
) -> dict[str, str | None]:
    if value is None:
        value = _env_import_paths("AGENTSPANS_DELEGATES") or None
    return _delegates(value)


# The numeric options: (environment variable, default, whether it must be an integer).
_NUMBERS: dict[str, tuple[str, float, bool]] = {
    "analysis_hold_s": ("AGENTSPANS_ANALYSIS_HOLD_S", _DEFAULT_ANALYSIS_HOLD_S, False),
    "max_spans_per_trace": ("AGENTSPANS_MAX_SPANS_PER_TRACE", _DEFAULT_MAX_SPANS_PER_TRACE, True),
    "max_traces_held": ("AGENTSPANS_MAX_TRACES_HELD", _DEFAULT_MAX_TRACES_HELD, True),
    "max_spans_held": ("AGENTSPANS_MAX_SPANS_HELD", _DEFAULT_MAX_SPANS_HELD, True),
    "resource_interval_s": ("AGENTSPANS_RESOURCE_INTERVAL_S", _DEFAULT_RESOURCE_INTERVAL_S, False),
    "export_timeout_s": ("AGENTSPANS_EXPORT_TIMEOUT_S", _DEFAULT_EXPORT_TIMEOUT_S, False),
    "shutdown_timeout_s": ("AGENTSPANS_SHUTDOWN_TIMEOUT_S", _DEFAULT_SHUTDOWN_TIMEOUT_S, False),
}


def _number(option: str, value: float | None) -> Any:
    env_name, default, integer = _NUMBERS[option]
    return _numeric_option(option, value, env_name, default, integer)


def resolve(**options: Unpack[Options]) -> Config:
    """Resolve and validate every option once."""
    _check_known(options)
    service_name = _service_name(options.get("service_name"))
    analysis = _flag("analysis", options.get("analysis"), "AGENTSPANS_ANALYSIS", True)
    resources = _flag("resources", options.get("resources"), "AGENTSPANS_RESOURCES", True)
    metrics = _flag("metrics", options.get("metrics"), "AGENTSPANS_METRICS", True)
    exporters, explicit = _exporters(options.get("exporter"))
    file_path = _file_path(options.get("file_path"), exporters)
    return Config(
        service_name=service_name,
        exporters=exporters,
        exporters_explicit=explicit,
        otlp_protocol=_otlp_protocol(options.get("otlp_protocol")),
        otlp_endpoint=options.get("otlp_endpoint"),
        file_path=file_path,
        capture_content=_capture_content(options.get("capture_content")),
        delegates=_delegates_option(options.get("delegates")),
        agents=_path_list("agents", options.get("agents"), "AGENTSPANS_AGENTS"),
        tools=_path_list("tools", options.get("tools"), "AGENTSPANS_TOOLS"),
        libraries=_libraries(options.get("libraries")),
        analysis=analysis,
        thresholds=_thresholds(options.get("thresholds")),
        analysis_hold_s=_number("analysis_hold_s", options.get("analysis_hold_s")),
        max_spans_per_trace=_number("max_spans_per_trace", options.get("max_spans_per_trace")),
        max_traces_held=_number("max_traces_held", options.get("max_traces_held")),
        max_spans_held=_number("max_spans_held", options.get("max_spans_held")),
        resources=resources,
        resource_interval_s=_number("resource_interval_s", options.get("resource_interval_s")),
        prices=_prices(options.get("prices")),
        prices_file=_prices_file(options.get("prices_file")),
        export_timeout_s=_number("export_timeout_s", options.get("export_timeout_s")),
        shutdown_timeout_s=_number("shutdown_timeout_s", options.get("shutdown_timeout_s")),
        tracer_provider=options.get("tracer_provider"),
        metrics=metrics,
        meter_provider=_meter_provider(options.get("meter_provider")),
    )
