"""The kwok backend for real: a v1.37.2 control plane on loopback, Ready nodes, clean shutdown."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from k8snotes.cluster.kwok import NODE_COUNT, KwokBackend, kwokctl_config, process_alive

pytestmark = pytest.mark.cluster


def kubectl(backend: KwokBackend, *args: str) -> str:
    return subprocess.run(
        ["kubectl", *args], env=backend.env(), capture_output=True, text=True, check=True
    ).stdout


def test_config_binds_loopback_and_names_local_binaries(tmp_path: Path) -> None:
    text = kwokctl_config(
        {"kubernetes": Path("/k"), "etcd": Path("/e"), "kwok": Path("/w")}, tmp_path / "log"
    )
    assert "bindAddress: 127.0.0.1" in text
    assert "kubeApiserverBinary: /k/kube-apiserver" in text and "etcdBinary: /e/etcd" in text


def test_cluster_lifecycle(tmp_path: Path) -> None:
    kube_home = Path.home() / ".kube"
    before = sorted(p.name for p in kube_home.rglob("*")) if kube_home.exists() else None
    backend = KwokBackend("kwok-lifecycle-test", state=tmp_path)
    info = backend.up()
    try:
        assert info.real_pods is False and backend.is_up()
        nodes = json.loads(kubectl(backend, "get", "nodes", "-o", "json"))["items"]
        assert len(nodes) == NODE_COUNT
        assert all(
            any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
            for n in nodes
        )
        assert "Server Version: v1.37.2" in kubectl(backend, "version")
        # Listening sockets of the cluster's processes: loopback only.
        running = {str(p) for p in backend._pids()}
        sockets = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
        ours = [line for line in sockets.splitlines() if any(f"pid={p}," in line for p in running)]
        assert ours and all(line.split()[3].startswith("127.0.0.1:") for line in ours)
        # Replicas spread over the nodes.
        kubectl(
            backend, "create", "deployment", "spread", "--image=sample-app:1.0.0", "--replicas=6"
        )
        kubectl(backend, "rollout", "status", "deployment/spread", "--timeout=60s")
        pods = json.loads(kubectl(backend, "get", "pods", "-l", "app=spread", "-o", "json"))[
            "items"
        ]
        per_node = Counter(p["spec"]["nodeName"] for p in pods)
        assert len(per_node) == NODE_COUNT and max(per_node.values()) <= 3
        # kubectl logs and port-forward answer for a simulated pod, and say so.
        name = pods[0]["metadata"]["name"]
        assert "simulated pod" in kubectl(backend, "logs", name)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        forward = subprocess.Popen(
            ["kubectl", "port-forward", f"pod/{name}", f"{port}:8080"], env=backend.env(),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            body = ""
            for _ in range(50):
                got = subprocess.run(["curl", "-s", "--max-time", "3", f"http://127.0.0.1:{port}/"],
                                     capture_output=True, text=True)  # fmt: skip
                if got.returncode == 0:
                    body = got.stdout
                    break
                time.sleep(0.2)
            assert "[kwok] simulated pod" in body
        finally:
            forward.terminate()
            forward.wait(10)
    finally:
        pids = backend._pids()
        backend.down()
    assert pids, "no process of the cluster was found while it ran"
    assert not any(process_alive(p) for p in pids)
    assert not backend.kubeconfig.exists()
    after = sorted(p.name for p in kube_home.rglob("*")) if kube_home.exists() else None
    assert after == before
