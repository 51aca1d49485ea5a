"""Prometheus: scrape configs, alert rules and their `promtool test rules` unit tests."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from claimstream.core.settings import SERVICE_PORTS

from tests.unit.deploy.deploy_helpers import DEPLOY, exported_series, series_names

PROM = DEPLOY / "prometheus"
RULES = sorted((PROM / "rules").glob("*.rules.yml"))
RULE_TESTS = sorted((PROM / "tests").glob("*.test.yml"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus.local.yml"])
def test_scrape_config_is_valid(promtool: str, config: str) -> None:
    result = run(promtool, "check", "config", str(PROM / config))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_are_valid(promtool: str) -> None:
    assert RULES
    result = run(promtool, "check", "rules", *map(str, RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass(promtool: str) -> None:
    assert RULE_TESTS
    result = run(promtool, "test", "rules", *map(str, RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_can_fail(promtool: str, tmp_path) -> None:
    """A rule file with the DLQ threshold raised past the test's 10% must fail the same tests."""
    rules = (PROM / "rules" / "claimstream.rules.yml").read_text()
    assert "> 0.05" in rules
    broken = tmp_path / "rules"
    broken.mkdir()
    (broken / "claimstream.rules.yml").write_text(rules.replace("> 0.05", "> 0.5"))
    tests = tmp_path / "tests"
    tests.mkdir()
    for test in RULE_TESTS:
        (tests / test.name).write_text(test.read_text())
    result = run(promtool, "test", "rules", *[str(tests / t.name) for t in RULE_TESTS])
    assert result.returncode != 0
    assert "ClaimstreamDeadLettersHigh" in result.stdout + result.stderr


def test_every_alert_has_a_unit_test() -> None:
    alerts = {rule["alert"] for f in RULES for g in yaml.safe_load(f.read_text())["groups"]
              for rule in g["rules"] if "alert" in rule}
    tested = {case["alertname"] for f in RULE_TESTS for t in yaml.safe_load(f.read_text())["tests"]
              for case in t.get("alert_rule_test", [])}
    assert alerts == tested


def test_rules_query_only_exported_series() -> None:
    groups = [g for f in RULES for g in yaml.safe_load(f.read_text())["groups"]]
    recorded = {rule["record"] for g in groups for rule in g["rules"] if "record" in rule}
    allowed = exported_series() | recorded
    for group in groups:
        for rule in group["rules"]:
            unknown = series_names(rule["expr"]) - allowed
            assert not unknown, f"{rule.get('alert') or rule.get('record')} queries {unknown}"


def test_scrape_targets_use_each_services_metrics_port() -> None:
    compose = yaml.safe_load((PROM / "prometheus.yml").read_text())["scrape_configs"][0]
    assert {c["names"][0]: c["port"] for c in compose["dns_sd_configs"]} == SERVICE_PORTS
    local = yaml.safe_load((PROM / "prometheus.local.yml").read_text())["scrape_configs"][0]
    targets = {c["labels"]["service"]: c["targets"][0] for c in local["static_configs"]}
    assert targets == {service: f"127.0.0.1:{port}" for service, port in SERVICE_PORTS.items()}
