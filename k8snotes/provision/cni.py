"""The pod network of the kind node image: a small stand-in for kindnetd.

Why it exists: kind's default CNI, kindnetd, cannot be built here (the Go
module proxy refuses its module), flannel's CNI plugin module is not served
either, and Debian's ``containernetworking-plugins`` has ``ptp``,
``host-local`` and ``portmap`` but no network daemon. What kindnetd does for a
kind cluster is small: write a ``ptp`` + ``host-local`` conflist for the
node's ``spec.podCIDR`` and route the other nodes' pod ranges to their node IPs.
:data:`SCRIPT` does exactly that (every 10 s), with Debian's CNI plugins in the node.

The image is tagged with kindnetd's name (:data:`KINDNETD_IMAGE`) so that
kind's own manifest, the one a reader's cluster runs, deploys it unchanged
(same DaemonSet, RBAC and mounts; ``kubectl get pods -A`` shows ``kindnet-*``
as on a reader's machine). Unlike kindnetd it has no NetworkPolicy support,
and traffic between nodes is masqueraded (``ipMasq`` of ``ptp``).
"""

from __future__ import annotations

KINDNETD_IMAGE = "docker.io/kindest/kindnetd:v20260820-69b56db7"
"""kindnetd's image in kind v0.33.0's default CNI manifest (``nodeimage/const_cni.go``)."""

CONFLIST_NAME = "10-kindnet.conflist"

SCRIPT = r"""#!/bin/sh
# k8snotes-cni: writes the node's CNI conflist and routes to other nodes' pod ranges.
# Usage: k8snotes-cni run                      (in the DaemonSet pod, hostNetwork)
#        k8snotes-cni conflist NODES.json HOST_IP
#        k8snotes-cni routes NODES.json HOST_IP  (prints "POD_CIDR NODE_IP" per other node)
set -eu

# podCIDR of the node whose InternalIP is $2, from a NodeList in file $1.
pod_cidr() {
  jq -r --arg ip "$2" '[.items[] | select(any(.status.addresses[]?;
    .type == "InternalIP" and .address == $ip)) | .spec.podCIDR // empty][0] // empty' "$1"
}

conflist() {
  cidr=$(pod_cidr "$1" "$2")
  [ -n "$cidr" ] || return 1
  jq -n --arg cidr "$cidr" '{
    cniVersion: "0.4.0",
    name: "kindnet",
    plugins: [
      {type: "ptp", ipMasq: true, mtu: 1500,
       ipam: {type: "host-local", dataDir: "/run/cni-ipam-state",
              routes: [{dst: "0.0.0.0/0"}], ranges: [[{subnet: $cidr}]]}},
      {type: "portmap", capabilities: {portMappings: true}}
    ]}'
}

routes() {
  jq -r --arg ip "$2" '.items[] | select(.spec.podCIDR != null)
    | ([.status.addresses[]? | select(.type == "InternalIP") | .address][0]) as $node
    | select($node != null and $node != $ip) | "\(.spec.podCIDR) \($node)"' "$1"
}

run() {
  sa=/var/run/secrets/kubernetes.io/serviceaccount
  api="https://${KUBERNETES_SERVICE_HOST}:${KUBERNETES_SERVICE_PORT}"
  dir=${CNI_CONF_DIR:-/etc/cni/net.d}
  nodes=$(mktemp)
  while true; do
    if curl -sSf --max-time 10 --cacert "$sa/ca.crt" \
        -H "Authorization: Bearer $(cat "$sa/token")" "$api/api/v1/nodes" >"$nodes"; then
      if conflist "$nodes" "$HOST_IP" >"$dir/.k8snotes-cni.tmp"; then
        if ! cmp -s "$dir/.k8snotes-cni.tmp" "$dir/10-kindnet.conflist"; then
          mv "$dir/.k8snotes-cni.tmp" "$dir/10-kindnet.conflist"
          echo "wrote $dir/10-kindnet.conflist for $(pod_cidr "$nodes" "$HOST_IP")"
        fi
      else
        echo "no podCIDR yet for the node with InternalIP $HOST_IP"
      fi
      rm -f "$dir/.k8snotes-cni.tmp"
      routes "$nodes" "$HOST_IP" | while read -r cidr via; do
        ip route replace "$cidr" via "$via" || echo "route $cidr via $via failed"
      done
    else
      echo "cannot list nodes from $api"
    fi
    sleep 10
  done
}

cmd=${1:-run}
case "$cmd" in
  run) run ;;
  conflist) conflist "$2" "$3" ;;
  routes) routes "$2" "$3" ;;
  *) echo "usage: $0 run|conflist NODES HOST_IP|routes NODES HOST_IP" >&2; exit 2 ;;
esac
"""
"""The network daemon (POSIX sh, curl and jq; the API token of kind's ``kindnet`` account)."""

DOCKERFILE = """\
FROM debian:bookworm-slim
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
      ca-certificates curl jq iproute2 diffutils \\
 && rm -rf /var/lib/apt/lists/*
COPY k8snotes-cni /usr/local/bin/k8snotes-cni
RUN chmod 0755 /usr/local/bin/k8snotes-cni
CMD ["/usr/local/bin/k8snotes-cni", "run"]
"""
"""Image of the daemon; kind's manifest sets no command, so ``CMD`` starts it."""


def context() -> dict[str, str]:
    """Build context files of the image (besides the Dockerfile)."""
    return {"k8snotes-cni": SCRIPT}
