"""The kind backend: its configuration, the add-on manifests, and a real cluster."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from k8snotes.cluster import addons
from k8snotes.cluster.base import Capability
from k8snotes.cluster.kind import CGROUPV1_PATCH, KindBackend, cluster_config, port_free
from k8snotes.provision import docker, images


def test_cluster_config_matches_the_sites_kind_config() -> None:
    config = cluster_config()
    site = yaml.safe_load(
        (
            Path(__file__).parent.parent / "snippets/tasks/set-up-a-kind-cluster/kind-config.yaml"
        ).read_text()
    )
    assert config["kind"] == site["kind"] and config["apiVersion"] == site["apiVersion"]
    control_plane, worker = config["nodes"]  # type: ignore[misc]
    assert control_plane == site["nodes"][0]
    assert yaml.safe_load(control_plane["kubeadmConfigPatches"][0]) == yaml.safe_load(
        site["nodes"][0]["kubeadmConfigPatches"][0]
    )
    assert worker == {"role": "worker"}
    assert "kubeadmConfigPatches" not in config


def test_cluster_config_options() -> None:
    config = cluster_config(workers=2, host_port=8080, fail_cgroupv1_patch=True)
    nodes = config["nodes"]
    assert [n["role"] for n in nodes] == ["control-plane", "worker", "worker"]  # type: ignore[index,union-attr]
    assert nodes[0]["extraPortMappings"] == [  # type: ignore[index]
        {"containerPort": 80, "hostPort": 8080, "protocol": "TCP"}
    ]
    assert config["kubeadmConfigPatches"] == [CGROUPV1_PATCH]
    assert yaml.safe_load(CGROUPV1_PATCH) == {"kind": "KubeletConfiguration", "failCgroupV1": False}
    assert yaml.safe_load(yaml.safe_dump(config)) == config


def test_backend_names_and_files(tmp_path: Path) -> None:
    backend = KindBackend(state=tmp_path)
    assert backend.cluster_name == "k8snotes"
    assert backend.context == "kind-k8snotes"
    assert backend.kubeconfig.is_relative_to(tmp_path)
    env = backend.env()
    assert env["KUBECONFIG"] == str(backend.kubeconfig)
    assert env["KUBECACHEDIR"] == str(backend.kubecache)
    assert ".kube" not in env["KUBECONFIG"]


def test_port_free() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert not port_free(s.getsockname()[1], "127.0.0.1")


def _docs(text: str) -> list[dict[str, object]]:
    return [d for d in yaml.safe_load_all(text) if d]


def test_traefik_manifest() -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for d in _docs(addons.ingress_manifest() or "")}  # type: ignore[index]
    ingress_class = docs[("IngressClass", "traefik")]
    assert ingress_class["metadata"]["annotations"] == {  # type: ignore[index]
        "ingressclass.kubernetes.io/is-default-class": "true"
    }
    assert ingress_class["spec"]["controller"] == "traefik.io/ingress-controller"  # type: ignore[index]
    assert docs[("GatewayClass", "traefik")]["spec"] == {  # type: ignore[index]
        "controllerName": "traefik.io/gateway-controller"
    }
    pod = docs[("Deployment", "traefik")]["spec"]["template"]["spec"]  # type: ignore[index]
    assert pod["nodeSelector"] == {"ingress-ready": "true"}
    container = pod["containers"][0]
    # The page shows the short name; fully qualified, it is the image built here.
    assert "docker.io/library/" + container["image"] == addons.TRAEFIK_IMAGE
    assert {"name": "web", "containerPort": 80, "hostPort": 80, "protocol": "TCP"} in container[
        "ports"
    ]
    assert "--providers.kubernetesingress=true" in container["args"]
    assert "--providers.kubernetesgateway=true" in container["args"]


def test_metrics_server_manifest() -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for d in _docs(addons.METRICS_SERVER_MANIFEST)}  # type: ignore[index]
    container = docs[("Deployment", "metrics-server")]["spec"]["template"]["spec"]["containers"][0]  # type: ignore[index]
    assert "--kubelet-insecure-tls" in container["args"]
    assert container["image"] == addons.METRICS_SERVER_IMAGE
    assert docs[("APIService", "v1beta1.metrics.k8s.io")]["spec"]["service"] == {  # type: ignore[index]
        "name": "metrics-server",
        "namespace": "kube-system",
    }


WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: kubernetes.io/hostname
        whenUnsatisfiable: ScheduleAnyway
        labelSelector: {matchLabels: {app: web}}
      tolerations:
      - {key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}
      containers:
      - name: web
        image: k8snotes-test/web:1
        imagePullPolicy: IfNotPresent
        command: [python3, -m, http.server, "8080", --directory, /srv]
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules:
  - http:
      paths:
      - {path: /ingress, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web}
spec:
  gatewayClassName: traefik
  listeners: [{name: http, protocol: HTTP, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web}
spec:
  parentRefs: [{name: web}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /gateway}}]
    backendRefs: [{name: web, port: 80}]
"""


ONLY_CLIENTS = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-clients}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {role: client}}}]
"""


def _answers(backend: KindBackend, pod: str, ip: str) -> bool:
    """True when ``pod`` gets an HTTP answer from ``ip``:8080 within 3 s."""
    fetch = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=3)"
    url = f"http://{ip}:8080/"
    ran = backend.kubectl("exec", pod, "--", "python3", "-c", fetch, url, check=False)
    return ran.returncode == 0


def _becomes(predicate: Callable[[], bool], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(1)
    return False


def _network_policy_across_nodes(backend: KindBackend, pods: list[dict]) -> None:
    """A policy's pod selector matches a client on another node (its source is its Pod IP).

    The stand-in network daemon masquerades only what leaves the pod range: had it
    masqueraded traffic between nodes, the client's packets would come from its
    node's address, and the rule allowing ``role=client`` would never let them in.
    """
    client, server = sorted(pods, key=lambda p: p["spec"]["nodeName"])
    assert client["spec"]["nodeName"] != server["spec"]["nodeName"]
    name, ip = client["metadata"]["name"], server["status"]["podIP"]
    assert _becomes(lambda: _answers(backend, name, ip)), "no answer before any policy"
    backend.kubectl("apply", "-f", "-", input=ONLY_CLIENTS)
    assert _becomes(lambda: not _answers(backend, name, ip)), "the policy never blocked"
    backend.kubectl("label", "pod", name, "role=client")
    assert _becomes(lambda: _answers(backend, name, ip)), (
        "a client labelled role=client on another node is still blocked"
    )
    backend.kubectl("delete", "networkpolicy", "only-clients")


def _get(url: str, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return resp.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


@pytest.mark.cluster
@pytest.mark.docker
def test_real_cluster_with_addons(tmp_path: Path) -> None:
    """A cluster of its own (not the suite's), on host port 8081, created and deleted."""
    was_running = docker.engine_running()
    docker.ensure_engine()
    backend = KindBackend("k8snotes-it", state=tmp_path, host_port=8081)
    try:
        info = backend.up()
        assert info.real_pods and info.context == "kind-k8snotes-it"
        assert set(info.capabilities) >= {Capability.PODS, Capability.METRICS, Capability.INGRESS}
        assert backend.is_up()
        nodes = json.loads(backend.kubectl("get", "nodes", "-o", "json").stdout)["items"]
        assert len(nodes) == 2
        assert all(
            n["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://")
            for n in nodes
        )
        labelled = [n for n in nodes if n["metadata"]["labels"].get("ingress-ready") == "true"]
        assert [n["metadata"]["name"] for n in labelled] == ["k8snotes-it-control-plane"]

        images.build_image(
            "k8snotes-test/web:1",
            f"FROM {docker.BASE_IMAGE}\nRUN apt-get update && apt-get install -y --no-install-"
            "recommends python3 && rm -rf /var/lib/apt/lists/*\n"
            "RUN mkdir -p /srv/ingress /srv/gateway && echo hello-ingress > /srv/ingress/index.html"
            " && echo hello-gateway > /srv/gateway/index.html\n",
        )
        backend.load_image("k8snotes-test/web:1")
        backend.kubectl("apply", "-f", "-", input=WEB)
        backend.kubectl("rollout", "status", "deploy/web", "--timeout=120s")
        pods = json.loads(backend.kubectl("get", "pods", "-l", "app=web", "-o", "json").stdout)
        assert {p["spec"]["nodeName"] for p in pods["items"]} == {
            n["metadata"]["name"] for n in nodes
        }, "one replica per node"
        assert "hello-ingress" in _get("http://127.0.0.1:8081/ingress/")
        assert "hello-gateway" in _get("http://127.0.0.1:8081/gateway/")
        assert backend.wait_metrics(), "kubectl top nodes never answered"
        _network_policy_across_nodes(backend, pods["items"])
    finally:
        backend.down(stop_engine=False)
        left = subprocess.run(
            ["docker", "ps", "-a", "--filter", "label=io.x-k8s.kind.cluster=k8snotes-it", "-q"],
            capture_output=True,
            text=True,
        ).stdout
        images.remove("k8snotes-test/web:1")
        if not was_running:
            docker.stop_engine()
    assert left == ""
    assert not backend.kubeconfig.exists()


@pytest.mark.cluster
@pytest.mark.docker
def test_a_bring_up_that_fails_after_kind_create_deletes_the_cluster_it_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rollback: a cluster this bring-up made but could not finish is not left running."""
    was_running = docker.engine_running()
    docker.ensure_engine()
    backend = KindBackend(
        "k8snotes-rollback", state=tmp_path, workers=0, host_port=8082, addons_enabled=False
    )

    def never_ready(timeout: int = 300) -> None:
        raise RuntimeError("the nodes never became Ready")

    monkeypatch.setattr(backend, "wait_ready", never_ready)
    try:
        with pytest.raises(RuntimeError, match="never became Ready"):
            backend.up()
        left = subprocess.run(
            [
                "docker",
                "ps",
                "-a",
                "--filter",
                "label=io.x-k8s.kind.cluster=k8snotes-rollback",
                "-q",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    finally:
        if not was_running:  # what the test starts it stops (a run found it left running)
            docker.stop_engine()
    assert left == ""
