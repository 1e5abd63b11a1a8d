"""Namespace mode: a page's own namespace on the suite's cluster, named in a kubeconfig copy.

Used where pages cannot make their own cluster (kwok, an existing cluster, a
project without reader mode): the page's ``kubectl`` works in a fresh
namespace, labelled with the page, deleted when the page ends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from k8snotes.cluster.base import ClusterInfo

CREATED_BY_LABEL = "k8snotes.dev/created-by=k8snotes"
"""Label of every namespace the runner makes (so a leftover one is recognisable)."""


class PageNamespace:
    """A namespace of ``cluster`` for one page, and the kubeconfig copy whose context names it.

    Args:
        cluster: The suite's cluster.
        name: The namespace to make (``<page-slug>-<random>``).
        page_label: The page's slug, for the ``k8snotes.dev/page`` label.
        kubeconfig: Where to write the copy the page's shell uses.
    """

    def __init__(self, cluster: ClusterInfo, name: str, page_label: str, kubeconfig: Path) -> None:
        self.cluster = cluster
        self.name = name
        self.page_label = page_label
        self.kubeconfig = kubeconfig

    def _kubectl(
        self, *args: str, kubeconfig: str | Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["kubectl", "--kubeconfig", str(kubeconfig or self.kubeconfig), *args],
            # kubectl's discovery cache beside the copy, never in ~/.kube.
            env={**os.environ, "KUBECACHEDIR": str(self.kubeconfig.parent / "kubecache")},
            capture_output=True,
            text=True,
            timeout=60,
        )

    def create(self) -> None:
        """Copy the kubeconfig, make and label the namespace, make it the context's; wait for its ServiceAccount."""
        shutil.copy(self.cluster.kubeconfig, self.kubeconfig)
        self.kubeconfig.chmod(0o600)
        for args in (
            ("create", "namespace", self.name),
            (
                "label",
                "namespace",
                self.name,
                CREATED_BY_LABEL,
                f"k8snotes.dev/page={self.page_label}",
            ),
            ("config", "set-context", "--current", f"--namespace={self.name}"),
        ):
            proc = self._kubectl(*args)
            if proc.returncode != 0:
                raise RuntimeError(f"kubectl {' '.join(args)}: {proc.stderr}")
        # A namespace gets its default ServiceAccount a moment after creation.
        deadline = time.monotonic() + 30
        while (found := self._kubectl("get", "serviceaccount", "default")).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"namespace {self.name}: its default ServiceAccount did not appear in 30 s "
                    f"(a page's Pods could not start in it): {found.stderr.strip()}"
                )
            time.sleep(0.2)

    def delete(self) -> str | None:
        """Delete the namespace (not waiting); return the error, if any.

        Through the suite's kubeconfig: the page may have changed or emptied its
        own (a page that runs ``kind delete cluster`` leaves it with no current context).
        """
        proc = self._kubectl(
            "delete", "namespace", self.name, "--wait=false", "--ignore-not-found",
            kubeconfig=self.cluster.kubeconfig,
        )  # fmt: skip
        return None if proc.returncode == 0 else f"namespace {self.name}: {proc.stderr.strip()}"
