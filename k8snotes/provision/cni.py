"""The pod network of the kind node image: a small stand-in for kindnetd.

Why it exists: kind's default CNI, kindnetd, cannot be built here (the Go
module proxy refuses its module), flannel's CNI plugin module is not served
either, and Debian's ``containernetworking-plugins`` has ``ptp``,
``host-local`` and ``portmap`` but no network daemon. What kindnetd does for a
kind cluster is small, and :data:`SCRIPT` does the same, every 10 s, with
Debian's CNI plugins in the node:

- it writes a ``ptp`` + ``host-local`` conflist for the node's ``spec.podCIDR``,
  without ``ipMasq``;
- it routes the other nodes' pod ranges to their node IPs;
- it masquerades what Pods send outside the cluster's pod range
  (``$POD_SUBNET``, which kind's manifest sets) and nothing else, as kindnetd's
  masquerade agent does, so a Pod on another node arrives with its own address
  (an nftables table ``ip k8snotes-cni``, which ``k8snotes-cni masquerade
  POD_SUBNET`` prints);
- it enforces NetworkPolicy with ``sigs.k8s.io/kube-network-policies``, the
  library kindnetd embeds, run as a second process with kindnetd's settings
  (queue 101, fail open) and the node's name: v0.8.0 with one source edit, the
  xtables ``NFQUEUE`` target in place of nftables' ``queue``, which this machine's
  kernel lacks (:mod:`k8snotes.provision.netpol`). It is started once the node
  has a name in the API, and again if it exits.

The image is tagged with kindnetd's name (:data:`KINDNETD_IMAGE`) so that
kind's own manifest, the one a reader's cluster runs, deploys it unchanged
(same DaemonSet, RBAC and mounts; ``kubectl get pods -A`` shows ``kindnet-*``
as on a reader's machine). kindnetd's conflist is the same (``ptp``,
``host-local``, ``portmap``, ``ipMasq: false``: ``images/kindnetd/cmd/kindnetd/cni.go``
of kind). What it does not do that kindnetd does: IPv6 and dual-stack.
"""

from __future__ import annotations

from k8snotes import versions
from k8snotes.provision import netpol

STAND_IN = (
    "its pod network is a stand-in for kindnetd (Debian's ptp, host-local and portmap CNI "
    "plugins, routes between nodes, masquerade of what leaves the pod range) that runs "
    f"kube-network-policies {versions.KUBE_NETWORK_POLICIES} for NetworkPolicy, as kindnetd "
    "does, built to queue packets with the xtables NFQUEUE target (this kernel has no "
    "nftables queue)"
)
"""What the test report says of this stand-in (through :data:`k8snotes.provision.nodeimage.DIFFERENCES`)."""

KINDNETD_IMAGE = "docker.io/kindest/kindnetd:v20260820-69b56db7"
"""kindnetd's image in kind v0.33.0's default CNI manifest (``nodeimage/const_cni.go``)."""

CONFLIST_NAME = "10-kindnet.conflist"

SCRIPT = r"""#!/bin/sh
# k8snotes-cni, a stand-in for kindnetd: writes the node's CNI conflist, routes to other
# nodes' pod ranges, masquerades what leaves the pod range, and runs kube-network-policies.
# Usage: k8snotes-cni run                        (in the DaemonSet pod, hostNetwork)
#        k8snotes-cni conflist NODES.json HOST_IP
#        k8snotes-cni routes NODES.json HOST_IP    (prints "POD_CIDR NODE_IP" per other node)
#        k8snotes-cni node-name NODES.json HOST_IP
#        k8snotes-cni masquerade POD_SUBNET         (prints the nftables ruleset)
set -eu

# podCIDR of the node whose InternalIP is $2, from a NodeList in file $1.
pod_cidr() {
  jq -r --arg ip "$2" '[.items[] | select(any(.status.addresses[]?;
    .type == "InternalIP" and .address == $ip)) | .spec.podCIDR // empty][0] // empty' "$1"
}

# Name of the node whose InternalIP is $2.
node_name() {
  jq -r --arg ip "$2" '[.items[] | select(any(.status.addresses[]?;
    .type == "InternalIP" and .address == $ip)) | .metadata.name][0] // empty' "$1"
}

conflist() {
  cidr=$(pod_cidr "$1" "$2")
  [ -n "$cidr" ] || return 1
  jq -n --arg cidr "$cidr" '{
    cniVersion: "0.4.0",
    name: "kindnet",
    plugins: [
      {type: "ptp", ipMasq: false, mtu: 1500,
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

# Pods' traffic to anything outside the pod range ($1: kind's POD_SUBNET, IPv4 parts of a
# comma list) leaves with the node's address; between Pods, addresses are kept.
masquerade() {
  v4=$(printf '%s\n' "$1" | tr ',' '\n' | tr -d ' ' | grep -v ':' | paste -sd, -) || true
  [ -n "$v4" ] || return 1
  printf '%s\n' \
    'table ip k8snotes-cni' \
    'delete table ip k8snotes-cni' \
    'table ip k8snotes-cni {' \
    '  chain postrouting {' \
    '    type nat hook postrouting priority srcnat; policy accept;' \
    "    ip saddr { $v4 } ip daddr != { $v4 } masquerade" \
    '  }' \
    '}'
}

# kube-network-policies for node $1, started again 5 s after it exits.
enforce() {
  while true; do
    kube-network-policies --hostname-override="$1" @ENFORCER_ARGS@ || true
    echo "kube-network-policies exited; starting it again in 5 s"
    sleep 5
  done
}

run() {
  : "${POD_SUBNET:?is set by kind's manifest}"
  sa=/var/run/secrets/kubernetes.io/serviceaccount
  api="https://${KUBERNETES_SERVICE_HOST}:${KUBERNETES_SERVICE_PORT}"
  dir=${CNI_CONF_DIR:-/etc/cni/net.d}
  nodes=$(mktemp)
  masq=$(mktemp)
  masquerade "$POD_SUBNET" >"$masq"
  enforcing=""
  trap 'exit 0' TERM INT
  while true; do
    if ! nft list table ip k8snotes-cni >/dev/null 2>&1; then
      if nft -f "$masq"; then
        echo "masquerading what leaves $POD_SUBNET"
      else
        echo "nft -f $masq failed"
      fi
    fi
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
      name=$(node_name "$nodes" "$HOST_IP")
      if [ -z "$enforcing" ] && [ -n "$name" ]; then
        enforce "$name" &
        enforcing=$name
        echo "started kube-network-policies for node $name"
      fi
    else
      echo "cannot list nodes from $api"
    fi
    sleep 10 &
    wait $! || true
  done
}

cmd=${1:-run}
case "$cmd" in
  run) run ;;
  conflist) conflist "$2" "$3" ;;
  routes) routes "$2" "$3" ;;
  node-name) node_name "$2" "$3" ;;
  masquerade) masquerade "$2" ;;
  *) echo "usage: $0 run|conflist NODES HOST_IP|routes NODES HOST_IP|node-name NODES HOST_IP|masquerade POD_SUBNET" >&2; exit 2 ;;
esac
""".replace("@ENFORCER_ARGS@", " ".join(netpol.ENFORCER_ARGS))
"""The network daemon (POSIX sh, curl, jq, iproute2 and nft; the API token of kind's
``kindnet`` account), which starts kube-network-policies."""

DOCKERFILE = """\
FROM debian:bookworm-slim
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
      ca-certificates curl jq iproute2 diffutils nftables \\
 && rm -rf /var/lib/apt/lists/*
COPY k8snotes-cni kube-network-policies /usr/local/bin/
RUN chmod 0755 /usr/local/bin/k8snotes-cni /usr/local/bin/kube-network-policies
CMD ["/usr/local/bin/k8snotes-cni", "run"]
"""
"""Image of the daemon and the enforcer (its binary comes from the build context, see
:func:`k8snotes.provision.nodeimage.component_specs`); kind's manifest sets no command, so
``CMD`` starts the daemon."""


def context() -> dict[str, str]:
    """Build context files of the image (besides the Dockerfile)."""
    return {"k8snotes-cni": SCRIPT}
