"""The ``kind`` backend: a real kind cluster (real pods) from the node image built here.

The suite's cluster is named ``k8snotes`` (never kind's default ``kind``, which
pages create themselves), and its kubeconfig is the backend's own file: kind
writes the new context into ``$KUBECONFIG``, so every kind command runs with
it pointing there, never at ``~/.kube/config``.

The cluster follows the site's ``kind-config.yaml``: a control plane labelled
``ingress-ready=true`` with port 80 mapped to the host, plus one worker. After
creation the add-ons of :mod:`k8snotes.cluster.addons` are loaded and applied.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from contextlib import AbstractContextManager
from pathlib import Path

import yaml

from k8snotes import locks, paths, records
from k8snotes.cluster import addons
from k8snotes.cluster.base import Backend, Capability, ClusterInfo
from k8snotes.locks import held
from k8snotes.progress import say, step
from k8snotes.provision import binaries, docker, images, nodeimage

KIND_NETWORK = "kind"
"""The Docker network kind puts every cluster on."""

CAPABILITIES = [
    Capability.API,
    Capability.PODS,
    Capability.DOCKER,
    Capability.METRICS,
    Capability.INGRESS,
    Capability.KIND,
]

INGRESS_LABEL_PATCH = """\
kind: InitConfiguration
nodeRegistration:
  kubeletExtraArgs:
    node-labels: "ingress-ready=true"
"""
"""The site's control-plane patch (``snippets/tasks/set-up-a-kind-cluster/kind-config.yaml``)."""

CGROUPV1_PATCH = """\
kind: KubeletConfiguration
failCgroupV1: false
"""
"""Lets the kubelet run on a cgroup v1 host, for node images that do not already allow it."""


def cluster_config(
    *, workers: int = 1, host_port: int = 80, fail_cgroupv1_patch: bool = False
) -> dict[str, object]:
    """The kind ``Cluster`` configuration of the test cluster.

    Args:
        workers: Number of worker nodes besides the control plane.
        host_port: Host port mapped to port 80 of the control-plane node.
        fail_cgroupv1_patch: Add a ``KubeletConfiguration`` patch with ``failCgroupV1: false``.

    Returns:
        The configuration, ready for ``yaml.safe_dump``.
    """
    control_plane: dict[str, object] = {
        "role": "control-plane",
        "kubeadmConfigPatches": [INGRESS_LABEL_PATCH],
        "extraPortMappings": [{"containerPort": 80, "hostPort": host_port, "protocol": "TCP"}],
    }
    config: dict[str, object] = {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "nodes": [control_plane] + [{"role": "worker"} for _ in range(workers)],
    }
    if fail_cgroupv1_patch:
        config["kubeadmConfigPatches"] = [CGROUPV1_PATCH]
    return config


def network_lock() -> AbstractContextManager[None]:
    """Lock held by k8snotes while it creates kind clusters or removes the ``kind`` network."""
    path = paths.state_dir() / "locks" / "kind-network.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    return held(path, "kind's network (another kind create or delete)", locks.BRING_UP)


def port_free(port: int, host: str = "0.0.0.0") -> bool:
    """True when nothing listens on ``host:port``."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


class KindBackend(Backend):
    """Real pods: a kind cluster of one control plane and one worker.

    Args:
        cluster_name: kind cluster name (``k8snotes``; never ``kind``).
        state: State root (default :func:`k8snotes.paths.state_dir`).
        workers: Worker nodes besides the control plane.
        host_port: Host port mapped to the ingress node's port 80 (default
            ``$K8SNOTES_KIND_HTTP_PORT`` or 80, as in the site's ``kind-config.yaml``).
        addons_enabled: Load metrics-server, Traefik and the Gateway API CRDs.
    """

    name = "kind"

    def __init__(
        self,
        cluster_name: str = "k8snotes",
        state: Path | None = None,
        *,
        workers: int = 1,
        host_port: int | None = None,
        addons_enabled: bool = True,
    ) -> None:
        super().__init__(cluster_name, state)
        self.workers = workers
        self.host_port = host_port or int(os.environ.get("K8SNOTES_KIND_HTTP_PORT", "80"))
        self.addons_enabled = addons_enabled

    @property
    def context(self) -> str:
        """kubectl context kind names after the cluster."""
        return f"kind-{self.cluster_name}"

    @property
    def config_file(self) -> Path:
        """The kind configuration written by :meth:`up`."""
        return self.state / "kind-config.yaml"

    def kind(self, *args: str, check: bool = True, timeout: float = 600) -> str:
        """Run the cached ``kind`` with ``KUBECONFIG`` at this backend's file."""
        exe = binaries.ensure(binaries.KIND) / "kind"
        proc = subprocess.run(
            [str(exe), *args], capture_output=True, text=True, env=self.env(), timeout=timeout
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"kind {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
        return proc.stdout

    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl v1.37 (from the cache) against this cluster only."""
        exe = binaries.ensure(binaries.KUBERNETES) / "kubectl"
        proc = subprocess.run(
            [str(exe), "--context", self.context, *args],
            capture_output=True,
            text=True,
            env=self.env(),
            input=input,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
        return proc

    def available(self) -> str | None:
        """``None`` when Docker answers or can be started here, else why not."""
        if docker.engine_running():
            return None
        if os.geteuid() != 0:
            return "no Docker engine answers and k8snotes is not root to start one"
        if not (shutil.which("dockerd") or shutil.which("apt-get")):
            return "no Docker engine, and neither dockerd nor apt-get to install one"
        return None

    def exists(self) -> bool:
        """True when kind lists this cluster."""
        if not docker.engine_running():
            return False
        out = self.kind("get", "clusters", check=False, timeout=60)
        return self.cluster_name in out.split()

    def is_up(self) -> bool:
        """True when the cluster answers on its kubeconfig."""
        if not self.kubeconfig.exists() or not docker.engine_running():
            return False
        try:
            proc = self.kubectl("get", "--raw", "/readyz", check=False, timeout=15)
        except subprocess.TimeoutExpired:
            return False
        return proc.returncode == 0

    def _record(self, key: str, value: object) -> None:
        # Called under the cluster's lock (up): one writer; written whole for any reader.
        path = self.state / "kind-backend.json"
        data = records.read_json(path) or {}
        data[key] = value
        records.write_json_atomic(path, data, indent=2)

    def _recorded(self, key: str) -> object:
        data = records.read_json(self.state / "kind-backend.json")
        return data.get(key) if data is not None else None

    def _network_exists(self) -> bool:
        proc = subprocess.run(
            ["docker", "network", "inspect", KIND_NETWORK],
            timeout=60,
            capture_output=True,
            text=True,
        )
        return proc.returncode == 0

    def _lock(self) -> AbstractContextManager[None]:
        self.state.mkdir(parents=True, exist_ok=True)
        return held(
            self.state / "kind-backend.lock",
            f"the kind cluster {self.cluster_name}",
            locks.BRING_UP,
        )

    def up(self) -> ClusterInfo:
        """Create the cluster (building what it needs), load the add-ons, wait until Ready.

        A cluster that is already up is reused. Concurrent callers (other
        processes) wait on a lock in the state folder.
        """
        with self._lock():
            return self._up()

    def _up(self) -> ClusterInfo:
        was_running = docker.engine_running()
        engine = docker.ensure_engine()
        if engine.started_here and not was_running:
            self._record("engine_started", True)
        if self.is_up():
            info = self.info()
            if info:
                return info
        image = nodeimage.ensure_node_image()
        addon_images = addons.ensure_images() if self.addons_enabled else []
        if self.exists() and not self.is_up():
            # Left by a run that was cut off (its engine killed, say): start afresh.
            with network_lock(), step(f"kind delete cluster --name {self.cluster_name} (stale)"):
                self.kind("delete", "cluster", "--name", self.cluster_name,
                          "--kubeconfig", str(self.kubeconfig))  # fmt: skip
        if not self.exists():
            if not port_free(self.host_port):
                raise RuntimeError(f"host port {self.host_port} is taken: the cluster maps it")
            carries = images.labels(image).get(nodeimage.CGROUPV1_LABEL) == "false"
            config = cluster_config(
                workers=self.workers, host_port=self.host_port, fail_cgroupv1_patch=not carries
            )
            self.config_file.write_text(yaml.safe_dump(config, sort_keys=False))
            start = time.monotonic()
            with network_lock(), step(f"kind create cluster --name {self.cluster_name}"):
                if not self._network_exists():
                    self._record("network_created", True)
                self.kind(
                    "create",
                    "cluster",
                    "--name",
                    self.cluster_name,
                    "--image",
                    image,
                    "--config",
                    str(self.config_file),
                    "--kubeconfig",
                    str(self.kubeconfig),
                )
            self._record("create_seconds", round(time.monotonic() - start, 1))
            created = True
        else:
            created = False
            if not self.kubeconfig.exists():
                self.kubeconfig.write_text(
                    self.kind("get", "kubeconfig", "--name", self.cluster_name)
                )
        try:
            self.wait_ready()
            if addon_images:
                self.install_addons(addon_images)
        except BaseException:
            if created:  # rollback: a cluster this call made and could not finish goes
                with network_lock(), step(f"kind delete cluster --name {self.cluster_name}"):
                    self.kind("delete", "cluster", "--name", self.cluster_name,
                              "--kubeconfig", str(self.kubeconfig), check=False)  # fmt: skip
            raise
        info = ClusterInfo(
            name=self.cluster_name,
            backend=self.name,
            kubeconfig=str(self.kubeconfig),
            context=self.context,
            capabilities=list(
                CAPABILITIES if self.addons_enabled else [*CAPABILITIES[:3], Capability.KIND]
            ),
            real_pods=True,
            created_by_run=os.environ.get("K8SNOTES_RUN_ID", ""),
        )
        info.save(self.state)
        return info

    def wait_ready(self, timeout: int = 300) -> None:
        """Wait until every node and every kube-system pod is Ready."""
        with step("waiting for nodes and kube-system pods"):
            deadline = time.monotonic() + timeout
            while True:
                nodes = self.kubectl("get", "nodes", "-o", "name", check=False).stdout.split()
                if len(nodes) >= 1 + self.workers:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("nodes did not register")
                time.sleep(1)
            self.kubectl("wait", "--for=condition=Ready", "nodes", "--all", f"--timeout={timeout}s")
            self._wait_pods("kube-system", deadline)

    def _wait_pods(self, namespace: str, deadline: float) -> None:
        while True:
            pods = json.loads(self.kubectl("get", "pods", "-n", namespace, "-o", "json").stdout)
            waiting = [
                p["metadata"]["name"]
                for p in pods["items"]
                if p["status"].get("phase") != "Succeeded"
                and not any(
                    c["type"] == "Ready" and c["status"] == "True"
                    for c in p["status"].get("conditions", [])
                )
            ]
            if pods["items"] and not waiting:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"pods in {namespace} not Ready: {waiting}")
            time.sleep(1)

    def install_addons(self, addon_images: list[str], timeout: int = 300) -> None:
        """Load the add-on images, apply the Gateway API CRDs and the add-ons, wait for them."""
        with step("loading add-ons (metrics-server, Traefik, Gateway API CRDs)"):
            self.load_image(*addon_images)
            self.kubectl("apply", "--server-side", "-f", str(addons.gateway_crds()))
            self.kubectl(
                "wait", "--for=condition=Established", "crd", "--all", f"--timeout={timeout}s"
            )
            self.kubectl("apply", "-f", "-", input=addons.METRICS_SERVER_MANIFEST)
            ingress = addons.ingress_manifest()
            if ingress:
                self.kubectl("apply", "-f", "-", input=ingress)
            for namespace, deploy in (
                ("kube-system", "metrics-server"),
                *([(addons.TRAEFIK_NAMESPACE, "traefik")] if ingress else []),
            ):
                self.kubectl(
                    "rollout",
                    "status",
                    "-n",
                    namespace,
                    f"deploy/{deploy}",
                    f"--timeout={timeout}s",
                )
            self.kubectl(
                "wait",
                "--for=condition=Available",
                "apiservice/v1beta1.metrics.k8s.io",
                f"--timeout={timeout}s",
            )

    def wait_metrics(self, timeout: float = 120) -> bool:
        """Wait until ``kubectl top nodes`` answers with figures (first scrape after ~15 s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.kubectl("top", "nodes", check=False).returncode == 0:
                return True
            time.sleep(3)
        return False

    def load_image(self, *images_: str) -> None:
        """``kind load docker-image --name CLUSTER IMAGE...``."""
        self.kind("load", "docker-image", "--name", self.cluster_name, *images_)

    def containers(self) -> list[str]:
        """Names of the Docker containers of this cluster."""
        if not docker.engine_running():
            return []
        out = docker.docker(
            "ps",
            "-a",
            "--filter",
            f"label=io.x-k8s.kind.cluster={self.cluster_name}",
            "--format",
            "{{.Names}}",
            check=False,
        )
        return out.split()

    def memory_mib(self) -> dict[str, float]:
        """Resident memory (anonymous RSS of the cgroup, MiB) of each node container."""
        result: dict[str, float] = {}
        for name in self.containers():
            cid = docker.docker("inspect", "--format", "{{.Id}}", name).strip()
            for stat, key in (
                (Path(f"/sys/fs/cgroup/memory/docker/{cid}/memory.stat"), "total_rss"),
                (Path(f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/memory.stat"), "anon"),
                (Path(f"/sys/fs/cgroup/docker/{cid}/memory.stat"), "anon"),
            ):
                if stat.exists():
                    for line in stat.read_text().splitlines():
                        field, _, value = line.partition(" ")
                        if field == key:
                            result[name] = round(int(value) / 2**20, 1)
                    break
        return result

    def down(self, *, stop_engine: bool = True) -> None:
        """Delete the cluster; remove the ``kind`` network and stop dockerd if ``up`` made them."""
        with self._lock():
            self._down(stop_engine)

    def _remove_network_if_unused(self) -> None:
        # The network is shared by every kind cluster (a page's own ones too): remove it
        # only when no kind cluster is left and nothing is attached.
        if not self._network_exists() or self.kind("get", "clusters", check=False).split():
            return
        attached = docker.docker(
            "network", "inspect", KIND_NETWORK, "--format", "{{len .Containers}}", check=False
        ).strip()
        if attached == "0":
            docker.docker("network", "rm", KIND_NETWORK, check=False)

    def _down(self, stop_engine: bool) -> None:
        if docker.engine_running():
            if self.exists() or self.containers():
                with step(f"kind delete cluster --name {self.cluster_name}"):
                    self.kind(
                        "delete",
                        "cluster",
                        "--name",
                        self.cluster_name,
                        "--kubeconfig",
                        str(self.kubeconfig),
                    )
            if self._recorded("network_created"):
                with network_lock():
                    self._remove_network_if_unused()
        for name in ("cluster.json", "kubeconfig", "kind-config.yaml"):
            (self.state / name).unlink(missing_ok=True)
        shutil.rmtree(self.kubecache, ignore_errors=True)
        engine_started = self._recorded("engine_started")
        (self.state / "kind-backend.json").unlink(missing_ok=True)
        if stop_engine and engine_started:
            if docker.stop_engine():
                say("stopped the dockerd this cluster started")
