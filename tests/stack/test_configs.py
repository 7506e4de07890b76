"""The stack's own files are valid for the real tools that run them.

Every collector/*.yaml passes the real Collector's ``validate`` (examples as the overlays on
collector/config.yaml they are documented to be), jaeger/config.yaml passes Jaeger's, the
builder manifest has exactly the components the configurations use, at the release the compose
file pins, and docker-compose.yml passes Debian's ``docker-compose config``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.stack.services import REPO, Binaries

COLLECTOR = REPO / "collector"
CONFIGS = sorted(p for p in COLLECTOR.glob("*.yaml") if p.name != "builder-config.yaml")
EXAMPLES = sorted((COLLECTOR / "examples").glob("*.yaml"))
KINDS = ("receivers", "processors", "exporters", "connectors", "extensions")


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=120, **kwargs)


def test_the_stack_has_the_documented_collector_files() -> None:
    names = {p.name for p in CONFIGS}
    assert {"config.yaml", "gateway.yaml", "sampler.yaml"} <= names
    assert {p.stem for p in EXAMPLES} >= {"tempo", "honeycomb", "datadog", "otlp-headers"}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_collector_config_passes_validate(binaries: Binaries, config: Path) -> None:
    result = run([str(binaries.otelcol), "validate", "--config", str(config)])
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_backend_example_passes_validate_as_an_overlay(binaries: Binaries, example: Path) -> None:
    argv = [str(binaries.otelcol), "validate", "--config", str(COLLECTOR / "config.yaml")]
    result = run([*argv, "--config", str(example)])
    assert result.returncode == 0, result.stderr
    # The overlay really adds its exporter to the traces pipeline (a list in the overlay
    # replaces the base file's list, so a typo there would silently drop Jaeger).
    overlay = yaml.safe_load(example.read_text())
    exporters = overlay["service"]["pipelines"]["traces"]["exporters"]
    assert {"otlp_grpc/jaeger", "span_metrics"} <= set(exporters)
    assert set(overlay["exporters"]) & set(exporters)


def test_validate_rejects_a_broken_config(binaries: Binaries, tmp_path: Path) -> None:
    """validate is a real check: an unknown key in the shipped file makes it fail."""
    broken = (COLLECTOR / "config.yaml").read_text().replace("check_interval:", "check_intervall:")
    path = tmp_path / "broken.yaml"
    path.write_text(broken)
    result = run([str(binaries.otelcol), "validate", "--config", str(path)])
    assert result.returncode != 0
    assert "check_intervall" in result.stderr


def test_jaeger_config_passes_validate(binaries: Binaries) -> None:
    result = run([str(binaries.jaeger), "validate", "--config", str(REPO / "jaeger/config.yaml")])
    assert result.returncode == 0, result.stderr


def _component_types(config: dict[str, Any]) -> dict[str, set[str]]:
    return {kind: {name.split("/")[0] for name in config.get(kind) or {}} for kind in KINDS}


def test_builder_manifest_has_exactly_the_components_the_configs_use(binaries: Binaries) -> None:
    used: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for path in [*CONFIGS, *EXAMPLES]:
        for kind, names in _component_types(yaml.safe_load(path.read_text())).items():
            used[kind] |= names
    built = yaml.safe_load(run([str(binaries.otelcol), "components"]).stdout)
    have = {kind: {c["name"] for c in built.get(kind) or []} for kind in KINDS}
    assert have == used


def test_collector_and_jaeger_versions_match_the_compose_file(binaries: Binaries) -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    images = dict(s["image"].rsplit(":", 1) for s in compose["services"].values())
    manifest = yaml.safe_load((COLLECTOR / "builder-config.yaml").read_text())
    collector_version = images["otel/opentelemetry-collector-contrib"]
    assert manifest["dist"]["version"] == collector_version
    for kind in KINDS:
        for component in manifest.get(kind, []):
            assert component["gomod"].endswith(f" v{collector_version}"), component
    version = run([str(binaries.otelcol), "--version"]).stdout
    assert version.split()[-1] == collector_version
    assert f"jaeger-{images['jaegertracing/jaeger']}" in str(binaries.jaeger)


def test_every_compose_image_is_pinned_and_every_port_is_local() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        image, _, tag = service["image"].rpartition(":")
        assert image and re.fullmatch(r"v?\d+\.\d+\.\d+", tag), (name, service["image"])
        for port in service.get("ports", []):
            assert port.startswith("${AGENTSPANS_BIND_ADDRESS:-127.0.0.1}:"), (name, port)


def test_docker_compose_config_accepts_the_compose_file(tmp_path: Path) -> None:
    docker_compose = shutil.which("docker-compose")
    if docker_compose is None:
        pytest.fail("docker-compose is not installed: `apt-get install docker-compose`")
    result = run([docker_compose, "-f", str(REPO / "docker-compose.yml"), "config"])
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert set(resolved["services"]) == {"otel-collector", "jaeger", "prometheus", "grafana"}
    published = [p for s in resolved["services"].values() for p in s.get("ports", [])]
    assert published and all(str(p).startswith("127.0.0.1:") for p in published)
    # Every file the compose file mounts exists in the repository.
    for service in resolved["services"].values():
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith("/"):
                assert Path(source).exists(), volume


def test_docker_compose_config_rejects_a_broken_file(tmp_path: Path) -> None:
    docker_compose = shutil.which("docker-compose")
    if docker_compose is None:
        pytest.fail("docker-compose is not installed: `apt-get install docker-compose`")
    broken = tmp_path / "docker-compose.yml"
    broken.write_text((REPO / "docker-compose.yml").read_text().replace("image:", "imagee:", 1))
    result = run([docker_compose, "-f", str(broken), "config"])
    assert result.returncode != 0


def _dashboard_datasource_uids(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = set()
        datasource = node.get("datasource")
        if isinstance(datasource, dict) and "uid" in datasource:
            found.add(str(datasource["uid"]))
        for value in node.values():
            found |= _dashboard_datasource_uids(value)
        return found
    if isinstance(node, list):
        return set().union(*(_dashboard_datasource_uids(v) for v in node)) if node else set()
    return set()


def test_grafana_provisioning_matches_the_dashboards_and_the_compose_file() -> None:
    """Grafana itself cannot run here; what can be checked without it is checked."""
    provisioning = REPO / "dashboards" / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "datasources.yaml").read_text())
    uids = {d["uid"] for d in datasources["datasources"]}
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    grafana = compose["services"]["grafana"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in grafana["volumes"]}
    [provider] = yaml.safe_load((provisioning / "dashboards" / "dashboards.yaml").read_text())[
        "providers"
    ]
    dashboards_in_container = provider["options"]["path"]
    assert mounts["./dashboards"] == dashboards_in_container
    assert mounts["./dashboards/provisioning"] == "/etc/grafana/provisioning"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(dashboards_in_container + "/")
    assert (REPO / "dashboards" / home.removeprefix(dashboards_in_container + "/")).is_file()
    files = sorted((REPO / "dashboards").glob("*.json"))
    assert files
    for path in files:
        dashboard = json.loads(path.read_text())
        assert _dashboard_datasource_uids(dashboard) <= uids, path.name
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"


def _default_port(path: Path, variable: str) -> int:
    """The port in a ``${env:VARIABLE:-host:port}`` default of a shipped config file."""
    match = re.search(rf"\$\{{env:{variable}:-[^}}]*:(\d+)\}}", path.read_text())
    assert match, f"{path.name}: no default for {variable}"
    return int(match.group(1))


def test_compose_ports_and_health_checks_match_the_config_defaults() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    config = COLLECTOR / "config.yaml"
    collector_ports = {int(p.rsplit(":", 1)[1]) for p in services["otel-collector"]["ports"]}
    assert collector_ports == {
        _default_port(config, name)
        for name in (
            "AGENTSPANS_OTLP_GRPC_ENDPOINT",
            "AGENTSPANS_OTLP_HTTP_ENDPOINT",
            "AGENTSPANS_PROMETHEUS_EXPORTER_ENDPOINT",
            "AGENTSPANS_HEALTH_ENDPOINT",
        )
    }
    jaeger_config = REPO / "jaeger" / "config.yaml"
    health = " ".join(services["jaeger"]["healthcheck"]["test"])
    assert f":{_default_port(jaeger_config, 'JAEGER_HEALTH_ENDPOINT')}/" in health
    query_port = _default_port(jaeger_config, "JAEGER_QUERY_HTTP_ENDPOINT")
    assert [int(p.rsplit(":", 1)[1]) for p in services["jaeger"]["ports"]] == [query_port]
    # The Collector sends to Jaeger's OTLP port and Prometheus scrapes the exporter's.
    assert _default_port(config, "AGENTSPANS_JAEGER_OTLP_ENDPOINT") == _default_port(
        jaeger_config, "JAEGER_OTLP_GRPC_ENDPOINT"
    )
    scrape = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in scrape["scrape_configs"]
    }
    assert targets["agentspans"] == [
        f"otel-collector:{_default_port(config, 'AGENTSPANS_PROMETHEUS_EXPORTER_ENDPOINT')}"
    ]
