"""deploy/k8s: every kustomization builds, and what it builds is valid Kubernetes.

Built with `kubectl kustomize`; the core kinds are validated with
kubernetes-validate (strict: unknown fields fail). KEDA's ScaledObject and the
prometheus-operator's PodMonitor are CRDs that kubernetes-validate has no schema
for, so they are checked structurally.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from typing import Any

import pytest
import yaml
from claimstream.core.settings import ENV_PREFIX, SERVICE_PORTS, Settings

from tests.unit.deploy.deploy_helpers import DEPLOY, stage_input_topics

K8S = DEPLOY / "k8s"
VARIANTS = ["base", "overlays/hpa", "overlays/keda", "overlays/gpu", "overlays/monitoring"]
KUBERNETES_VERSION = "1.32.0"


@cache
def build(variant: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    result = subprocess.run([kubectl, "kustomize", str(K8S / variant)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    [only] = deployment["spec"]["template"]["spec"]["containers"]
    return only


@pytest.mark.parametrize("variant", VARIANTS)
def test_builds_and_validates(variant: str) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    for doc in build(variant):
        if doc["apiVersion"].startswith(("keda.sh/", "monitoring.coreos.com/")):
            continue  # CRDs: checked structurally (KEDA here, the PodMonitor in test_k8s_monitoring.py)
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_validation_catches_a_mistake() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    deployment = of_kind(build("base"), "Deployment")["claimstream-ner"]
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    container(broken)["livenessProbe"]["httpGet"]["prot"] = "metrics"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_a_deployment_service_and_disruption_budget_per_service() -> None:
    docs = build("base")
    names = {f"claimstream-{s}" for s in SERVICE_PORTS}
    for kind in ("Deployment", "Service", "PodDisruptionBudget"):
        assert set(of_kind(docs, kind)) == names, kind
    for service, port in SERVICE_PORTS.items():
        deployment = of_kind(docs, "Deployment")[f"claimstream-{service}"]
        c = container(deployment)
        assert c["args"] == ["serve", service]
        assert {"name": "metrics", "containerPort": port} in c["ports"]
        assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
        assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
        assert {"name": "models", "mountPath": "/models", "readOnly": True} in c["volumeMounts"]
        selector = of_kind(docs, "PodDisruptionBudget")[f"claimstream-{service}"]["spec"]["selector"]
        assert selector["matchLabels"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def test_settings_config_map_holds_real_settings() -> None:
    docs = build("base")
    [config] = [d for d in docs if d["kind"] == "ConfigMap"]
    data = config["data"]
    assert set(data) <= {ENV_PREFIX + name.upper() for name in Settings.__dataclass_fields__}
    assert data["CLAIMSTREAM_METRICS_HOST"] == "0.0.0.0"
    Settings.load(environ=data)
    for deployment in of_kind(docs, "Deployment").values():
        assert container(deployment)["envFrom"] == [{"configMapRef": {"name": config["metadata"]["name"]}}]


def test_keda_scales_each_stage_on_its_consumer_lag() -> None:
    docs = build("overlays/keda")
    deployments = of_kind(docs, "Deployment")
    scaled = of_kind(docs, "ScaledObject")
    settings = Settings()
    bootstrap = [d for d in docs if d["kind"] == "ConfigMap"][0]["data"]["CLAIMSTREAM_BOOTSTRAP"]
    assert set(scaled) == {f"claimstream-{s}" for s in stage_input_topics()}
    for stage, topic in stage_input_topics().items():
        spec = scaled[f"claimstream-{stage}"]["spec"]
        assert spec["scaleTargetRef"]["name"] in deployments
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= settings.partitions
        [trigger] = spec["triggers"]
        assert trigger["type"] == "kafka"
        meta = trigger["metadata"]
        assert meta["topic"] == topic
        assert meta["consumerGroup"] == f"{settings.group_prefix}-{stage}"
        assert meta["bootstrapServers"] == bootstrap
        assert int(meta["lagThreshold"]) > 0
        assert all(isinstance(v, str) for v in meta.values())  # KEDA wants strings


def test_hpa_targets_each_stage() -> None:
    docs = build("overlays/hpa")
    hpas = of_kind(docs, "HorizontalPodAutoscaler")
    assert {h["spec"]["scaleTargetRef"]["name"] for h in hpas.values()} == {
        f"claimstream-{s}" for s in stage_input_topics()
    }
    assert set(hpas) <= set(of_kind(docs, "Deployment"))


def test_gpu_overlay_gives_translate_and_only_translate_a_gpu() -> None:
    deployments = of_kind(build("overlays/gpu"), "Deployment")
    for name, deployment in deployments.items():
        limits = container(deployment)["resources"]["limits"]
        if name == "claimstream-translate":
            assert limits["nvidia.com/gpu"] == 1
            assert {"name": "CLAIMSTREAM_PROVIDER", "value": "cuda"} in container(deployment)["env"]
        else:
            assert "nvidia.com/gpu" not in limits, name


def test_the_models_volume_is_filled_by_a_job_and_read_by_the_pods() -> None:
    """The PVC's access mode lets its filler write while every pod mounts it read-only."""
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    docs = build("base")
    [pvc] = of_kind(docs, "PersistentVolumeClaim").values()
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    for deployment in of_kind(docs, "Deployment").values():
        claims = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if "persistentVolumeClaim" in v]
        assert claims == [{"name": "models", "persistentVolumeClaim": {
            "claimName": pvc["metadata"]["name"], "readOnly": True}}]
    job = yaml.safe_load((K8S / "jobs" / "export-models.yaml").read_text())
    kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)
    assert job["metadata"]["namespace"] == "claimstream"
    pod = job["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 10001  # the image's user, as the services run
    [volume] = [v for v in pod["volumes"] if "persistentVolumeClaim" in v]
    assert volume["persistentVolumeClaim"] == {"claimName": pvc["metadata"]["name"]}  # writable
    [c] = pod["containers"]
    assert "claimstream export-model" in " ".join(c["args"])
    assert {"name": "models", "mountPath": "/models"} in c["volumeMounts"]
