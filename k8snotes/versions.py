"""Every pinned version of what the project provisions, in one place.

Change a version here and the cache key of everything built from it changes
with it, so a warm machine rebuilds exactly what the change touches.
"""

from __future__ import annotations

KUBERNETES = "v1.37.2"
"""Kubernetes release the test clusters run (control plane, kubelet, kubeadm)."""

KUBERNETES_STAGING = "v0.37.2"
"""Version of the ``k8s.io/*`` staging modules that match :data:`KUBERNETES`."""

ETCD = "v3.7.0"
"""etcd version that Kubernetes v1.37.2 pins."""

KWOK = "v0.8.0"
"""kwok and kwokctl."""

KIND = "v0.33.0"
"""kind, the Kubernetes-in-Docker tool readers use."""

KUBE_NETWORK_POLICIES = "v0.8.0"
"""sigs.k8s.io/kube-network-policies, the NetworkPolicy enforcer kindnetd embeds, run by the
node image's stand-in for kindnetd (the Go module proxy lists v0.7.0 and v0.8.0 here)."""

CRICTL = "v1.37.0"
"""cri-tools' crictl, which ``kind load`` needs inside the node."""

COREDNS = "v1.14.6"
"""CoreDNS, the version kubeadm v1.37.2 deploys."""

PAUSE = "3.10.2"
"""The pause (sandbox) image tag kubeadm v1.37.2 expects."""

LOCAL_PATH_PROVISIONER = "v0.0.30"
"""Rancher's local-path-provisioner, kind's default StorageClass provisioner."""

METRICS_SERVER = "v0.9.0"
"""metrics-server, so ``kubectl top`` answers."""

HELM = "v4.3.1"
"""Helm, the package manager readers install for the Helm page."""

TRAEFIK = "v3.6.12"
"""Traefik, the ingress controller and Gateway API implementation (v3.7.x does not build here)."""

GATEWAY_API = "v1.4.0"
"""Gateway API CRDs: the version Traefik :data:`TRAEFIK` requires in its ``go.mod``."""

DEBIAN_SUITE = "bookworm"
"""Debian release the base image (``debian:bookworm-slim``) is made from."""

GO_PROXY = "https://proxy.golang.org"
"""Where Go module sources come from when release binaries cannot be fetched."""
