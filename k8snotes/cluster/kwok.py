"""The ``kwok`` backend: a real control plane with simulated nodes.

kwokctl's binary runtime runs etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok-controller as local processes, all bound to
127.0.0.1. Nodes and the containers of pods are simulated by kwok: the API,
scheduling, controllers and spreading of replicas are real; probes, logs and
exec are not (``real_pods`` is ``False``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from k8snotes.cluster.base import Backend, Capability, ClusterInfo
from k8snotes.processes import process_alive
from k8snotes.progress import step
from k8snotes.provision import binaries

NODE_COUNT = 3
"""Simulated nodes, so that scheduling and spreading show real behaviour."""

SIMULATED_LOG = (
    "2026-01-01T00:00:00.000000000Z stdout F "
    "[kwok] simulated pod: no container runs on a kwok node, this line stands in for its log\n"
)


_SIMULATED_BODY = "[kwok] simulated pod: no container runs on a kwok node"
SIMULATED_HTTP = (
    "read -r request; "
    "printf 'HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n"
    f"Content-Length: {len(_SIMULATED_BODY) + 1}\\r\\nConnection: close\\r\\n\\r\\n"
    f"{_SIMULATED_BODY}\\n'"
)
"""What a port-forward to a kwok pod answers: one plain HTTP response, saying so."""


def kwokctl_config(bin_dirs: dict[str, Path], log_file: Path) -> str:
    """The ``KwokctlConfiguration`` (plus a ``ClusterLogs`` rule) kwokctl reads with ``-c``.

    ``ClusterLogs``, ``ClusterAttach`` and ``ClusterPortForward`` rules make
    ``kubectl logs``, ``attach`` and ``port-forward`` answer for simulated pods,
    each saying it is simulated. They are read from the same file (kwok's CRDs stay off,
    so the file is the rule's source). Binds every component to 127.0.0.1 (by default they listen on every
    interface and etcd is unauthenticated) and points kwokctl at the cached
    binaries, so that it downloads nothing.
    """
    kube = bin_dirs["kubernetes"]
    options = {
        "runtime": "binary",
        "bindAddress": "127.0.0.1",
        "kubeApiserverBinary": str(kube / "kube-apiserver"),
        "kubeControllerManagerBinary": str(kube / "kube-controller-manager"),
        "kubeSchedulerBinary": str(kube / "kube-scheduler"),
        "kubectlBinary": str(kube / "kubectl"),
        "etcdBinary": str(bin_dirs["etcd"] / "etcd"),
        "kwokControllerBinary": str(bin_dirs["kwok"] / "kwok"),
    }
    docs = [
        {
            "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
            "kind": "KwokctlConfiguration",
            "options": options,
        },
        {
            "apiVersion": "kwok.x-k8s.io/v1alpha1",
            "kind": "ClusterAttach",
            "metadata": {"name": "simulated"},
            "spec": {"selector": {}, "attaches": [{"containers": [], "logsFile": str(log_file)}]},
        },
        {
            # Any port of any pod answers one HTTP response that says it is simulated.
            "apiVersion": "kwok.x-k8s.io/v1alpha1",
            "kind": "ClusterPortForward",
            "metadata": {"name": "simulated"},
            "spec": {"selector": {}, "forwards": [{"command": ["sh", "-c", SIMULATED_HTTP]}]},
        },
        {
            "apiVersion": "kwok.x-k8s.io/v1alpha1",
            "kind": "ClusterLogs",
            "metadata": {"name": "simulated"},
            "spec": {
                "selector": {},
                "logs": [{"containers": [], "logsFile": str(log_file), "follow": False}],
            },
        },
    ]
    return yaml.safe_dump_all(docs, sort_keys=False)


class KwokBackend(Backend):
    """Control plane as local processes, :data:`NODE_COUNT` simulated nodes."""

    name = "kwok"

    @property
    def workdir(self) -> Path:
        """``KWOK_WORKDIR``: where kwokctl keeps the cluster's PKI, logs and pids."""
        return self.state / "kwok"

    def _kwokctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = self.env()
        env["KWOK_WORKDIR"] = str(self.workdir)
        env["PATH"] = os.pathsep.join(
            [str(binaries.KUBERNETES.bin_dir), str(Path(sys.executable).parent), env["PATH"]]
        )
        return subprocess.run(
            [str(binaries.KWOK.path("kwokctl")), *args],
            timeout=300,
            env=env,
            capture_output=True,
            text=True,
            check=check,
        )

    def available(self) -> str | None:
        """kwok runs wherever the binaries can be fetched or built (Go is needed to build)."""
        if all(g.is_complete() for g in (binaries.KUBERNETES, binaries.ETCD, binaries.KWOK)):
            return None
        if subprocess.run(["which", "go"], timeout=10, capture_output=True).returncode != 0:
            return "binaries not cached and no Go toolchain to build them"
        return None

    def is_up(self) -> bool:
        """True when the apiserver answers ``/readyz`` on this cluster's kubeconfig."""
        if not self.kubeconfig.exists():
            return False
        proc = subprocess.run(
            [
                str(binaries.KUBERNETES.path("kubectl")),
                "get",
                "--raw=/readyz",
                "--request-timeout=3s",
            ],
            timeout=60,
            env=self.env(),
            capture_output=True,
            text=True,
        )
        return proc.returncode == 0

    def up(self) -> ClusterInfo:
        """Start the control plane and :data:`NODE_COUNT` Ready nodes."""
        bin_dirs = binaries.ensure_all(["kubernetes", "etcd", "kwok"])
        self.state.mkdir(parents=True, exist_ok=True)
        self.kubecache.mkdir(parents=True, exist_ok=True)
        log_file = self.state / "simulated.log"
        log_file.write_text(SIMULATED_LOG)
        config = self.state / "kwokctl.yaml"
        config.write_text(kwokctl_config(bin_dirs, log_file))
        try:
            self._start(config)
        except BaseException:
            self.down()  # never leave half a cluster running
            raise
        info = ClusterInfo(
            name=self.cluster_name,
            backend=self.name,
            kubeconfig=str(self.kubeconfig),
            context=f"kwok-{self.cluster_name}",
            capabilities=[Capability.API],
            real_pods=False,
        )
        info.save(self.state)
        return info

    def _start(self, config: Path) -> None:
        with step(f"starting kwok cluster {self.cluster_name}"):
            self._kwokctl(
                "create", "cluster", "--name", self.cluster_name,
                "--kubeconfig", str(self.kubeconfig), "-c", str(config), "--wait", "3m",
            )  # fmt: skip
            self._kwokctl(
                "scale", "node", "--name", self.cluster_name, "--replicas", str(NODE_COUNT)
            )
            self._wait_nodes_ready()

    def _wait_nodes_ready(self, timeout: float = 180) -> None:
        kubectl = str(binaries.KUBERNETES.path("kubectl"))
        deadline = time.monotonic() + timeout
        while True:
            proc = subprocess.run(
                [kubectl, "wait", "--for=condition=Ready", "node", "--all", "--timeout=10s"],
                timeout=30,
                env=self.env(),
                capture_output=True,
                text=True,
            )
            nodes = subprocess.run(
                [kubectl, "get", "nodes", "-o", "name"],
                timeout=30,
                env=self.env(),
                capture_output=True,
                text=True,
            ).stdout.split()
            if proc.returncode == 0 and len(nodes) >= NODE_COUNT:
                return
            if time.monotonic() > deadline:
                log = self.workdir / "clusters" / self.cluster_name / "logs" / "kwok-controller.log"
                tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
                raise RuntimeError(
                    f"kwok nodes not Ready after {timeout} s: {proc.stderr}\nkwok-controller:\n{tail}"
                )
            time.sleep(0.5)

    def _pids(self) -> list[int]:
        pids = []
        for pid_file in (self.workdir / "clusters" / self.cluster_name / "pids").glob("*.pid"):
            try:
                pids.append(int(pid_file.read_text().strip()))
            except ValueError:
                continue
        return pids

    def down(self) -> None:
        """Delete the cluster and wait until every process it ran has exited."""
        pids = self._pids()
        if (self.workdir / "clusters" / self.cluster_name).exists():
            self._kwokctl(
                "delete",
                "cluster",
                "--name",
                self.cluster_name,
                "--kubeconfig",
                str(self.kubeconfig),
                check=False,
            )
        _wait_gone(pids, timeout=15)
        for leftover in ("cluster.json", "kubeconfig"):
            (self.state / leftover).unlink(missing_ok=True)

    def load_image(self, image: str) -> None:
        """Nothing to load: kwok nodes run no containers, so any image name is accepted."""


def _wait_gone(pids: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(process_alive(p) for p in pids):
        if time.monotonic() > deadline:
            for p in pids:
                if process_alive(p):
                    os.kill(p, 9)
            break
        time.sleep(0.1)
