"""The interface every cluster backend implements, and the record of a running cluster.

A backend is created with a cluster name and a state folder of its own
(``<state>/clusters/<backend>-<name>``); everything it writes (kubeconfig, kubectl
cache, logs, pid files) goes there. Nothing reads or writes ``~/.kube``.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from k8snotes import paths, records

DEFAULT_CLUSTER_NAME = "k8snotes"
"""Name of the suite's cluster (never kind's default ``kind``, which pages create)."""


class Capability:
    """Names of what a backend can do, used by blocks' ``requires=``."""

    API = "api"
    """A real kube-apiserver, etcd, controller manager and scheduler."""
    PODS = "pods"
    """Pods run real containers (probes, logs, exec, DNS are real)."""
    DOCKER = "docker"
    """A Docker engine is available to the page's shell."""
    METRICS = "metrics"
    """The metrics API answers (``kubectl top``)."""
    INGRESS = "ingress"
    """An ingress / Gateway API controller answers on host port 80."""
    KIND = "kind"
    """The page may run ``kind`` commands (own clusters, ``kind load``)."""


@dataclass
class ClusterInfo:
    """What a running cluster records about itself in its state folder."""

    name: str
    backend: str
    kubeconfig: str
    context: str
    capabilities: list[str]
    real_pods: bool
    created_by_run: str = ""

    def save(self, folder: Path) -> None:
        """Write ``cluster.json`` into ``folder`` (atomically: a reader sees it whole)."""
        records.write_json_atomic(folder / "cluster.json", self.__dict__, indent=2)

    @classmethod
    def load(cls, folder: Path) -> ClusterInfo | None:
        """Read ``cluster.json`` from ``folder``, or ``None`` when absent."""
        path = folder / "cluster.json"
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text()))


class Backend(ABC):
    """A way of running a Kubernetes cluster for the tests."""

    name: str = ""
    """Backend name used on the command line (``kwok``, ``kind``, ``existing``)."""

    def __init__(self, cluster_name: str = DEFAULT_CLUSTER_NAME, state: Path | None = None) -> None:
        self.cluster_name = cluster_name
        self.state = (state or paths.state_dir()) / "clusters" / f"{self.name}-{cluster_name}"

    @property
    def kubeconfig(self) -> Path:
        """The kubeconfig file of this cluster (in the state folder)."""
        return self.state / "kubeconfig"

    @property
    def kubecache(self) -> Path:
        """kubectl's discovery cache for this cluster (``KUBECACHEDIR``)."""
        return self.state / "kubecache"

    def env(self) -> dict[str, str]:
        """Environment that points kubectl and clients at this cluster only."""
        return {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "KUBECACHEDIR": str(self.kubecache),
        }

    @abstractmethod
    def available(self) -> str | None:
        """``None`` when this backend can run here, else why not (for ``doctor``)."""

    @abstractmethod
    def up(self) -> ClusterInfo:
        """Create the cluster (provisioning what it needs) and wait until nodes are Ready."""

    @abstractmethod
    def down(self) -> None:
        """Delete the cluster and stop every process it started."""

    @abstractmethod
    def is_up(self) -> bool:
        """True when the cluster answers on its kubeconfig."""

    @abstractmethod
    def load_image(self, image: str) -> None:
        """Make a local Docker image available to the cluster's nodes."""

    def info(self) -> ClusterInfo | None:
        """The record written by :meth:`up`, if the cluster was started."""
        return ClusterInfo.load(self.state)
