"""docker-compose.yml: the compose-spec schema, and that it matches the CLI, the settings and the ports.

No Docker engine runs here, so this is as far as it can be checked without one.
"""

from __future__ import annotations

import dataclasses
import json
import re
from importlib import resources
from typing import Any

import jsonschema
import pytest
import yaml
from claimstream.cli.main import build_parser
from claimstream.core.settings import ENV_PREFIX, SERVICE_PORTS, Settings

from tests.unit.deploy.deploy_helpers import REPO

COMPOSE: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
CLAIMSTREAM = {name: s for name, s in SERVICES.items() if s.get("image", "").startswith("claimstream:")}
SETTING_VARS = {ENV_PREFIX + f.name.upper() for f in dataclasses.fields(Settings)}


def test_matches_the_compose_spec_schema() -> None:
    vendor = pytest.importorskip("check_jsonschema.builtin_schemas.vendor", reason="check-jsonschema is not installed")
    schema = json.loads(resources.files(vendor).joinpath("compose-spec.json").read_text())
    jsonschema.validate(COMPOSE, schema)


def test_schema_check_rejects_a_broken_file() -> None:
    vendor = pytest.importorskip("check_jsonschema.builtin_schemas.vendor", reason="check-jsonschema is not installed")
    schema = json.loads(resources.files(vendor).joinpath("compose-spec.json").read_text())
    broken = {**COMPOSE, "services": {**SERVICES, "kafka": {**SERVICES["kafka"], "ports": "29092"}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_one_container_per_service_and_the_topic_init() -> None:
    commands = {name: s["command"] for name, s in CLAIMSTREAM.items()}
    served = sorted({c[1] for c in commands.values() if c[0] == "serve"})
    assert served == sorted(SERVICE_PORTS)
    assert commands["topics"] == ["topics", "create"]
    for name, service in CLAIMSTREAM.items():
        if name != "topics":
            assert service["depends_on"] == {"topics": {"condition": "service_completed_successfully"}}


@pytest.mark.parametrize("name", sorted(CLAIMSTREAM))
def test_every_command_is_a_real_cli_command(name: str) -> None:
    args = build_parser().parse_args(CLAIMSTREAM[name]["command"])  # exits (SystemExit) when it is not
    assert callable(args.func)


@pytest.mark.parametrize("name", sorted(CLAIMSTREAM))
def test_environment_names_real_settings(name: str) -> None:
    env = CLAIMSTREAM[name]["environment"]
    assert set(env) <= SETTING_VARS, set(env) - SETTING_VARS
    assert env["CLAIMSTREAM_BOOTSTRAP"] == "kafka:9092"
    assert env["CLAIMSTREAM_METRICS_HOST"] == "0.0.0.0"
    Settings.load(environ={k: re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(v)) for k, v in env.items()})


def test_each_service_exposes_its_metrics_port() -> None:
    for name, service in CLAIMSTREAM.items():
        if service["command"][0] == "serve":
            assert service["expose"] == [str(SERVICE_PORTS[service["command"][1]])], name
    gateway = SERVICES["gateway"]
    assert gateway["environment"]["CLAIMSTREAM_GRPC_HOST"] == "0.0.0.0"
    assert f"{gateway['environment']['CLAIMSTREAM_GRPC_PORT']}:50051" in gateway["ports"]


def test_kafka_runs_in_kraft_mode_with_the_official_image() -> None:
    kafka = SERVICES["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "PLAINTEXT://kafka:9092" in kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert int(kafka["environment"]["KAFKA_MESSAGE_MAX_BYTES"]) >= Settings().max_message_bytes


def test_translate_gets_a_gpu_only_in_the_gpu_profile() -> None:
    gpu = SERVICES["translate-gpu"]
    assert gpu["profiles"] == ["gpu"]
    [device] = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert "profiles" not in SERVICES["translate"] and "deploy" not in SERVICES["translate"]
    assert gpu["command"] == SERVICES["translate"]["command"]


def test_models_come_from_a_volume() -> None:
    assert "models" in COMPOSE["volumes"]
    for name, service in CLAIMSTREAM.items():
        if service["command"][0] == "serve":
            assert "models:/models:ro" in service["volumes"], name


def test_prometheus_and_grafana_mount_the_shipped_config() -> None:
    volumes = SERVICES["prometheus"]["volumes"]
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in volumes
    assert "./deploy/prometheus/rules:/etc/prometheus/rules:ro" in volumes
    for mount in volumes + SERVICES["grafana"]["volumes"]:
        source = mount.split(":")[0]
        if source.startswith("./"):
            assert (REPO / source).exists(), mount


def test_dockerfile_runs_the_cli_and_dockerignore_keeps_the_context_small() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["claimstream"]' in dockerfile
    for needed in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.M):
        for path in needed.split():
            assert (REPO / path).exists(), path
    ignored = (REPO / ".dockerignore").read_text().split()
    assert ".venv" in ignored and "services" not in ignored
