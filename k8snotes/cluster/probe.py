"""What a running cluster can do, found by asking it, not by the backend's name.

Called after bring-up (and for a cluster the user names), so a block's
``requires=`` is judged against what the cluster really offers: a kwok cluster
whose kubelets are simulated has no ``pods``; a cluster without metrics-server
has no ``metrics``, whatever made it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping

from k8snotes.cluster.base import Capability

PROBE_TIMEOUT = 15.0
"""Seconds each probe may take (the request itself is bounded at 5 s by kubectl)."""


def _kubectl(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(
            ["kubectl", "--request-timeout=5s", *args],
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
        )
    except (subprocess.TimeoutExpired, FileNotFoundError):
        return None


def _ok(env: Mapping[str, str], *args: str) -> str | None:
    proc = _kubectl(env, *args)
    return proc.stdout if proc is not None and proc.returncode == 0 else None


def probe_capabilities(env: Mapping[str, str]) -> set[str]:
    """The capabilities of the cluster ``env``'s kubeconfig points at (its current context).

    - ``api``: the API server answers ``/readyz``;
    - ``pods``: a node's kubelet answers ``/healthz`` through the API server's
      node proxy (a real kubelet runs the Pods; kwok's simulated nodes have none);
    - ``metrics``: the metrics API lists nodes (``kubectl top`` works);
    - ``ingress``: an IngressClass exists (a controller that serves Ingress).

    ``docker`` and ``kind`` belong to the machine, not the cluster: see
    :func:`k8snotes.runner.environment.page_environment`.
    """
    found: set[str] = set()
    if _ok(env, "get", "--raw=/readyz") is None:
        return found
    found.add(Capability.API)
    nodes = (_ok(env, "get", "nodes", "-o", "name") or "").split()
    if nodes:
        node = nodes[0].removeprefix("node/")
        if (_ok(env, "get", f"--raw=/api/v1/nodes/{node}/proxy/healthz") or "").strip() == "ok":
            found.add(Capability.PODS)
    if _ok(env, "get", "--raw=/apis/metrics.k8s.io/v1beta1/nodes") is not None:
        found.add(Capability.METRICS)
    if (_ok(env, "get", "ingressclasses", "-o", "name") or "").strip():
        found.add(Capability.INGRESS)
    return found
