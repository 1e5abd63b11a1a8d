"""Where the project keeps what it provisions and what a run owns.

Nothing here points inside ``~/.kube``: every run gets its own kubeconfig and
kubectl cache under :func:`state_dir`.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Root of the build cache: ``$K8SNOTES_CACHE``, else ``$XDG_CACHE_HOME/k8snotes``.

    It lives outside the checkout so that a fresh clone on a warm machine
    builds nothing.
    """
    if env := os.environ.get("K8SNOTES_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "k8snotes"


def state_dir() -> Path:
    """Where running clusters and engines record themselves: ``$K8SNOTES_STATE``.

    Defaults to ``<cache>/state``. Kubeconfigs, kubectl caches and pid files of
    the project's clusters live here, never in ``~/.kube``.
    """
    if env := os.environ.get("K8SNOTES_STATE"):
        return Path(env)
    return cache_dir() / "state"


def project_root() -> Path:
    """The checkout this package was imported from (holds ``mkdocs.yml``)."""
    return Path(__file__).resolve().parent.parent
