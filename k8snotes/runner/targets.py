"""Where a page's commands meet the cluster: the reader's machine, or a namespace of the suite's.

A page session (:class:`~k8snotes.runner.session.PageSession`) runs against
one of two targets, made for each page:

- :class:`ReaderTarget`: the reader's own conditions. ``HOME`` is the run's
  reader home, shared by the run's pages, so the kubeconfig that ``kind create
  cluster`` writes to ``~/.kube/config`` is the one later pages use (kind's
  default context and the ``default`` namespace, nothing injected). What the
  page leaves is found by the leak check (:mod:`k8snotes.check.inventory`).
- :class:`NamespaceTarget`: a copy of the suite's cluster's kubeconfig whose
  context names a fresh namespace of the page's own, deleted at the end; for
  backends where pages cannot make their own cluster (kwok, existing).
- :class:`ShellTarget`: no cluster at all, for pages whose blocks need none
  (and the plugin's own tests): an empty kubeconfig, never ``~/.kube``.
"""

from __future__ import annotations

import os
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from pathlib import Path

from k8snotes.check import inventory
from k8snotes.cluster.base import Capability, ClusterInfo
from k8snotes.runner.namespace import PageNamespace

__all__ = ["NamespaceTarget", "ReaderTarget", "ShellTarget", "Target"]


class Target(ABC):
    """What a page session needs to know of where its commands go (one object per page).

    Each target says whether Pods are real, the shell's home and what it adds to the shell's
    environment; opening, the leak check and closing do nothing unless a target needs them.
    """

    backend: str = ""
    """The backend's name, for the report."""

    @abstractmethod
    def real_pods(self, capabilities: set[str]) -> bool:
        """True when Pods really run (not simulated)."""

    @abstractmethod
    def home(self, tmp: Path) -> Path:
        """The page shell's ``HOME`` (``tmp`` is the page's own folder)."""

    @abstractmethod
    def env(self, tmp: Path, slug: str) -> dict[str, str]:
        """What the target adds to the page shell's environment."""

    def open(self, env: Mapping[str, str]) -> None:
        """Before the page's first block (``env``: the page shell's environment)."""
        return None  # most targets have nothing to make before a page

    def leaks(
        self, env: Mapping[str, str], page_id: str, keeps: Iterable[str], settle: float
    ) -> list[str] | None:
        """After the page's clean-up: what it left that ``keeps`` does not name; ``None``: no check.

        A namespace target has none: its namespace is deleted, whatever is in it.
        """
        return None

    def close(self) -> str | None:
        """Release what :meth:`open` made; the error, if any."""
        return None


class ReaderTarget(Target):
    """The reader's machine: the pages make their clusters; the leak check compares inventories.

    Args:
        home: The run's reader home, shared by its pages.
    """

    backend = "kind"

    def __init__(self, home: Path) -> None:
        self.reader_home = home
        self.before: inventory.Inventory | None = None

    def real_pods(self, capabilities: set[str]) -> bool:
        return True

    def home(self, tmp: Path) -> Path:
        return self.reader_home

    def env(self, tmp: Path, slug: str) -> dict[str, str]:
        return {}  # nothing injected: kind's default context and namespace

    def open(self, env: Mapping[str, str]) -> None:
        self.before = inventory.take(env)

    def leaks(
        self, env: Mapping[str, str], page_id: str, keeps: Iterable[str], settle: float
    ) -> list[str]:
        if self.before is None:
            raise RuntimeError("the leak check has no inventory from before the page")
        return inventory.leaks(self.before, env, page_id, keeps, settle)


class NamespaceTarget(Target):
    """A fresh namespace of the suite's cluster, named in a kubeconfig copy; deleted at the end.

    Args:
        cluster: The suite's cluster (or one a project's ``k8s_cluster`` fixture gives).
    """

    def __init__(self, cluster: ClusterInfo) -> None:
        if not cluster.kubeconfig:
            raise ValueError(f"the cluster {cluster.name!r} has no kubeconfig to copy")
        self.cluster = cluster
        self.backend = cluster.backend
        self.namespace: PageNamespace | None = None

    def real_pods(self, capabilities: set[str]) -> bool:
        return Capability.PODS in capabilities

    def home(self, tmp: Path) -> Path:
        return tmp / "home"

    def env(self, tmp: Path, slug: str) -> dict[str, str]:
        name = f"{slug}-{uuid.uuid4().hex[:5]}"
        kubeconfig = tmp / "kubeconfig"
        self.namespace = PageNamespace(self.cluster, name, slug, kubeconfig)
        return {
            "KUBECONFIG": str(kubeconfig),
            "KUBECACHEDIR": str(tmp / "kubecache"),
            "K8SNOTES_NAMESPACE": name,
        }

    def open(self, env: Mapping[str, str]) -> None:
        if self.namespace is not None:
            self.namespace.create()

    def close(self) -> str | None:
        return self.namespace.delete() if self.namespace is not None else None


class ShellTarget(Target):
    """No cluster: the page's shell blocks run with an empty kubeconfig and nothing to talk to.

    Args:
        backend: The name the project's ``k8s_cluster`` fixture gave, for the report.
    """

    def __init__(self, backend: str) -> None:
        self.backend = backend

    def real_pods(self, capabilities: set[str]) -> bool:
        return False

    def home(self, tmp: Path) -> Path:
        return tmp / "home"

    def env(self, tmp: Path, slug: str) -> dict[str, str]:
        return {"KUBECONFIG": os.devnull, "KUBECACHEDIR": str(tmp / "kubecache")}
