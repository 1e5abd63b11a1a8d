"""Choosing a backend, and the suite's one shared cluster (safe across pytest-xdist workers).

Backends are the built-in ones (``kind``, ``kwok``, ``existing``) and any a
package registers under the ``k8snotes.backends`` entry point group: a
:class:`~k8snotes.cluster.base.Backend` subclass, made with no arguments, or
with ``context=NAME`` when the user names a context. Adding k3d or a remote
cluster is that one class::

    [project.entry-points."k8snotes.backends"]
    k3d = "mypkg.k3d:K3dBackend"
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib.metadata import entry_points

from k8snotes import locks, paths
from k8snotes.cluster.base import DEFAULT_CLUSTER_NAME, Backend, ClusterInfo
from k8snotes.cluster.existing import ExistingBackend
from k8snotes.cluster.kwok import KwokBackend
from k8snotes.locks import held

BACKENDS = ("kind", "kwok", "existing")
"""The built-in backends."""

ENTRY_POINT_GROUP = "k8snotes.backends"
"""The entry point group other packages register backends under."""


def backend_names() -> list[str]:
    """Every backend that can be chosen here: the built-in ones, then registered ones."""
    return [*BACKENDS, *sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))]


def docker_usable() -> bool:
    """True when a Docker engine answers, or can be installed and started here."""
    try:
        from k8snotes.provision import docker
    except ImportError:
        return False
    if docker.engine_running():
        return True
    return os.geteuid() == 0 and (os.path.exists("/usr/bin/apt-get") or bool(_which("dockerd")))


def _which(name: str) -> str | None:
    import shutil

    return shutil.which(name)


def default_backend_name() -> str:
    """``kind`` wherever a Docker engine runs (or can be started), else ``kwok``."""
    try:
        from k8snotes.cluster import kind  # noqa: F401
    except ImportError:
        return "kwok"
    return "kind" if docker_usable() else "kwok"


def get_backend(name: str | None = None, context: str | None = None) -> Backend:
    """The backend called ``name`` (default: :func:`default_backend_name`)."""
    name = name or default_backend_name()
    if name == "kwok":
        return KwokBackend(DEFAULT_CLUSTER_NAME)
    if name == "kind":
        from k8snotes.cluster.kind import KindBackend

        return KindBackend(DEFAULT_CLUSTER_NAME)
    if name == "existing":
        if not context:
            raise ValueError("the existing backend needs a context: --k8snotes-context NAME")
        return ExistingBackend(context)
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
        backend: Backend = ep.load()(**({"context": context} if context else {}))
        return backend
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(backend_names())}")


def shared_cluster(
    backend: Backend, run_id: str, prepare: Callable[[ClusterInfo], None] | None = None
) -> ClusterInfo:
    """The suite's cluster: reused when already up, else started and marked as this run's.

    A file lock makes concurrent callers (pytest-xdist workers) start it once;
    ``prepare`` (for example, loading the site's images) runs once, under the
    same lock, right after the cluster comes up.
    """
    lock_path = paths.state_dir() / "locks" / f"{backend.name}-{backend.cluster_name}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with held(lock_path, f"the {backend.name} cluster {backend.cluster_name}", locks.BRING_UP):
        info = backend.info()
        if info is not None and info.backend == backend.name and backend.is_up():
            return info
        if info is not None:
            backend.down()
        info = backend.up()
        info.created_by_run = run_id
        if prepare is not None:
            prepare(info)
        info.save(backend.state)
        return info


def release_cluster(backend: Backend, run_id: str) -> bool:
    """Tear the cluster down if this run started it; True when it did."""
    info = backend.info()
    if info is None or info.created_by_run != run_id:
        return False
    backend.down()
    return True
