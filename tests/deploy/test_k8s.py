"""The manifests agree with the service: settings, probes, shutdown timing, user, replicas.

Schema validation and checkov run in scripts/check-deploy.sh; here, what only we know.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.settings import Settings
from tests.deploy.dockerfile import ROOT, stages

K8S = ROOT / "k8s"
KUBECTL = ROOT / ".venv-tools/bin/kubectl"
CLOSE_ALLOWANCE_S = 4  # closing the MongoDB and Redis clients after the drain
SETTINGS = {f"CX_{name.upper()}" for name in Settings.model_fields}
# Keys the Secret template carries for features that read them under these names.
PENDING_SETTINGS: set[str] = set()


def render(overlay: str) -> list[dict[str, Any]]:
    if not KUBECTL.exists():
        pytest.skip("kubectl comes with `make tools` (.venv-tools)")
    out = subprocess.run([str(KUBECTL), "kustomize", str(K8S / "overlays" / overlay)],
                         capture_output=True, text=True, check=True, timeout=60)  # fmt: skip
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def find(docs: list[dict[str, Any]], kind: str, name: str = "cxgraph") -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].startswith(name)]
    assert len(found) == 1, (kind, name)
    return found[0]


def env_file() -> dict[str, str]:
    lines = (K8S / "base/settings.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_every_configured_and_secret_key_is_a_setting() -> None:
    secret = yaml.safe_load((K8S / "base/secret.template.yaml").read_text())
    assert set(env_file()) - SETTINGS == set()
    assert set(secret["stringData"]) - SETTINGS == PENDING_SETTINGS
    assert {"CX_MONGO_URI", "CX_REDIS_URL"} <= set(secret["stringData"])


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = only
    return result


@pytest.mark.parametrize("overlay", ["dev", "production"])
def test_termination_grace_covers_pre_stop_delay_grace_and_closing(overlay: str) -> None:
    docs = render(overlay)
    pod = find(docs, "Deployment")["spec"]["template"]["spec"]
    config = find(docs, "ConfigMap", "cxgraph-settings")["data"]
    pre_stop = container(find(docs, "Deployment"))["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    budget = (float(pre_stop[1]) + float(config["CX_SHUTDOWN_DELAY_S"])
              + float(config["CX_SHUTDOWN_GRACE_S"]))  # fmt: skip
    assert pod["terminationGracePeriodSeconds"] == math.ceil(budget) + CLOSE_ALLOWANCE_S == 30


@pytest.mark.parametrize("overlay", ["dev", "production"])
def test_probes_ports_and_user_match_the_service_and_the_image(overlay: str) -> None:
    docs = render(overlay)
    deployment = find(docs, "Deployment")
    c = container(deployment)
    config = find(docs, "ConfigMap", "cxgraph-settings")["data"]
    assert c["ports"] == [{"name": "http", "containerPort": int(config["CX_PORT"]),
                           "protocol": "TCP"}]  # fmt: skip
    assert c["startupProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    uid, gid = (int(x) for x in stages()[-1].user.split(":"))
    pod = deployment["spec"]["template"]["spec"]
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (uid, gid)
    assert pod["automountServiceAccountToken"] is False
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert {m["mountPath"] for m in c["volumeMounts"]} == {"/tmp"}
    (secret,) = [ref["secretRef"]["name"] for ref in c["envFrom"] if "secretRef" in ref]
    assert secret.startswith("cxgraph-secrets")  # dev generates it, with a hash suffix


def test_production_runs_several_replicas_in_production_mode() -> None:
    docs = render("production")
    assert find(docs, "Deployment")["spec"]["replicas"] >= 2
    assert find(docs, "HorizontalPodAutoscaler")["spec"]["minReplicas"] >= 2
    assert find(docs, "ConfigMap", "cxgraph-settings")["data"]["CX_ENV"] == "production"
    assert find(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    assert [d for d in docs if d["kind"] in ("StatefulSet", "Secret")] == []  # external DBs
    monitor = find(docs, "ServiceMonitor")  # no schema offline: check it by hand
    scrape = {"port": "http", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}
    assert monitor["spec"]["endpoints"] == [scrape]
    service = find(docs, "Service")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )


def test_dev_brings_its_own_single_node_databases() -> None:
    docs = render("dev")
    assert find(docs, "Deployment")["spec"]["replicas"] == 1
    assert find(docs, "StatefulSet", "mongodb")["spec"]["replicas"] == 1
    assert find(docs, "Deployment", "redis")["spec"]["replicas"] == 1
    secret = find(docs, "Secret", "cxgraph-secrets")
    assert set(secret["data"]) == {"CX_MONGO_URI", "CX_REDIS_URL", "CX_JWT_SECRET"}
    assert [d["kind"] for d in docs if d["kind"] == "ServiceMonitor"] == []


def test_every_overlay_is_checked() -> None:
    assert sorted(p.name for p in (K8S / "overlays").iterdir()) == ["dev", "production"]
    assert Path(ROOT / "scripts/check-deploy.sh").read_text().count("k8s/overlays/*/") == 1
