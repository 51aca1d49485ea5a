"""Kubernetes monitoring: the PodMonitor overlay and the annotation scrape job give every claimstream pod's
targets the labels the alert rules and the dashboard select on (job="claimstream", service=<component>).

Prometheus's relabeling is applied here, in a few lines, to the pods `kubectl kustomize` builds: promtool
cannot check prometheus.k8s.yml on this machine (Debian's build has no Kubernetes discovery), and no cluster
runs here. What the rules then make of those labels is tested by promtool
(deploy/prometheus/tests/claimstream.k8s.test.yml).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from claimstream.core.settings import SERVICE_PORTS

from tests.unit.deploy.deploy_helpers import DEPLOY
from tests.unit.deploy.test_k8s import build, container, of_kind

RULES = DEPLOY / "prometheus" / "rules" / "claimstream.rules.yml"
K8S_SCRAPE = DEPLOY / "prometheus" / "prometheus.k8s.yml"


def sanitize(name: str) -> str:
    """Kubernetes discovery's form of a label or annotation name in __meta_* labels."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def discovered(deployment: dict[str, Any], index: int) -> dict[str, str]:
    """The labels Prometheus's pod discovery gives the `metrics` port of a pod of `deployment`."""
    template = deployment["spec"]["template"]
    port = next(p for p in container(deployment)["ports"] if p["name"] == "metrics")
    labels = {
        "__address__": f"10.42.0.{index}:{port['containerPort']}",
        "__metrics_path__": "/metrics",
        "__meta_kubernetes_namespace": deployment["metadata"]["namespace"],
        "__meta_kubernetes_pod_name": f"{deployment['metadata']['name']}-abc12",
        "__meta_kubernetes_pod_container_port_name": port["name"],
    }
    for name, value in template["metadata"].get("labels", {}).items():
        labels[f"__meta_kubernetes_pod_label_{sanitize(name)}"] = value
    for name, value in template["metadata"].get("annotations", {}).items():
        labels[f"__meta_kubernetes_pod_annotation_{sanitize(name)}"] = value
    return labels


def relabel(labels: dict[str, str], configs: list[dict[str, Any]]) -> dict[str, str] | None:
    """Prometheus's replace and keep actions (None: the target was dropped); snake_case or camelCase keys."""
    labels = dict(labels)
    for raw in configs:
        config = {re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), key): value for key, value in raw.items()}
        value = config.get("separator", ";").join(labels.get(s, "") for s in config.get("source_labels", []))
        match = re.fullmatch(config.get("regex", "(.*)"), value)
        action = config.get("action", "replace")
        if action == "keep":
            if not match:
                return None
        elif action == "replace":
            if match:
                replacement = re.sub(r"\$(\d+)", r"\\\1", config.get("replacement", "$1"))
                labels[config["target_label"]] = match.expand(replacement)
        else:
            raise AssertionError(f"relabel action {action!r} not simulated")
    return labels


def missing_rule_services() -> set[str]:
    """The services ClaimstreamStageMissing looks for."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    [rule] = [r for g in groups for r in g["rules"] if r.get("alert") == "ClaimstreamStageMissing"]
    assert 'job="claimstream"' in rule["expr"]
    return set(re.findall(r'service="([^"]+)"', rule["expr"]))


@pytest.fixture(scope="module")
def monitoring() -> list[dict[str, Any]]:
    return build("overlays/monitoring")


def test_the_pod_monitor_selects_every_pod_on_its_metrics_port(monitoring) -> None:
    [monitor] = of_kind(monitoring, "PodMonitor").values()
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    deployments = of_kind(monitoring, "Deployment")
    assert monitor["metadata"]["namespace"] == {d["metadata"]["namespace"] for d in deployments.values()}.pop()
    [endpoint] = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["path"] == "/metrics" and endpoint["honorLabels"] is True
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert set(deployments) == {f"claimstream-{s}" for s in SERVICE_PORTS}
    for deployment in deployments.values():
        assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        assert endpoint["port"] in {p["name"] for p in container(deployment)["ports"]}


def test_pod_monitor_relabeling_yields_the_labels_the_rules_want(monitoring) -> None:
    [monitor] = of_kind(monitoring, "PodMonitor").values()
    [endpoint] = monitor["spec"]["podMetricsEndpoints"]
    targets = []
    for i, deployment in enumerate(of_kind(monitoring, "Deployment").values()):
        # The operator's own relabeling first: job = <namespace>/<PodMonitor name>, then the endpoint's.
        meta = {**discovered(deployment, i), "job": f"{monitor['metadata']['namespace']}/{monitor['metadata']['name']}"}
        target = relabel(meta, endpoint["relabelings"])
        assert target is not None
        targets.append(target)
    assert {t["job"] for t in targets} == {"claimstream"}
    assert {t["service"] for t in targets} == missing_rule_services() == set(SERVICE_PORTS)


def test_annotation_scrape_job_yields_the_labels_the_rules_want(monitoring) -> None:
    [job] = yaml.safe_load(K8S_SCRAPE.read_text())["scrape_configs"]
    assert job["honor_labels"] is True and job["kubernetes_sd_configs"] == [{"role": "pod"}]
    targets = {}
    for i, deployment in enumerate(of_kind(monitoring, "Deployment").values()):
        target = relabel({**discovered(deployment, i), "job": job["job_name"]}, job["relabel_configs"])
        assert target is not None, deployment["metadata"]["name"]
        targets[target["service"]] = target
    assert set(targets) == missing_rule_services() == set(SERVICE_PORTS)
    for service, target in targets.items():
        assert target["job"] == "claimstream"
        assert target["__address__"].endswith(f":{SERVICE_PORTS[service]}")
        assert target["__metrics_path__"] == "/metrics"
        assert target["namespace"] == "claimstream" and target["pod"].startswith(f"claimstream-{service}-")


def test_the_annotation_job_leaves_unannotated_pods_alone() -> None:
    [job] = yaml.safe_load(K8S_SCRAPE.read_text())["scrape_configs"]
    other = {"__address__": "10.42.9.9:8080", "__meta_kubernetes_pod_label_app_kubernetes_io_name": "web"}
    assert relabel({**other, "job": job["job_name"]}, job["relabel_configs"]) is None
