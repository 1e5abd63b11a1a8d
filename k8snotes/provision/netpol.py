"""NetworkPolicy enforcement for the node image: kube-network-policies, with one source edit.

kind's kindnetd enforces NetworkPolicy with ``sigs.k8s.io/kube-network-policies``
(kind v0.24.0 and later): the first packet of each connection to or from a Pod
of the node is sent to an NFQUEUE, where the controller accepts or drops it by
the policies. This module builds that controller's command
(:data:`~k8snotes.versions.KUBE_NETWORK_POLICIES`, ``./cmd``) from the Go module
proxy; the stand-in for kindnetd (:mod:`k8snotes.provision.cni`) runs it.

The one change (:func:`patch_controller`): v0.8.0 sends packets to the queue
with the native nftables ``queue`` expression (``expr.Queue``, in the two rule
sets of ``pkg/networkpolicy/controller.go``), which needs the kernel's
``NFT_QUEUE``; the kernel of this machine lacks it and refuses the rule. The
patch builds the same verdict with the xtables ``NFQUEUE`` target through
``nft_compat`` (``expr.Target``, revision 3, ``xt_NFQ_info_v3``: the same queue
number, ``queues_total`` 1, the bypass flag when ``--fail-open`` is set, as
upstream sets the ``queue`` expression's), which ``iptables-nft -j NFQUEUE``
writes too. Everything else (the table, chains, sets, packet evaluation) is
upstream's. The edit is made on a copy of the downloaded module and fails if
the text it replaces is not found exactly twice.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from k8snotes import versions
from k8snotes.provision.gobuild import GoBuildError, GoWorkspace

MODULE = "sigs.k8s.io/kube-network-policies"

BINARY = "kube-network-policies"

CONTROLLER = "pkg/networkpolicy/controller.go"
"""The file of the module the patch edits (relative to the module's root)."""

QUEUE_RULE = """\
	queue := &expr.Queue{Num: uint16(c.config.QueueID)}
	if c.config.FailOpen {
		queue.Flag = expr.QueueFlagBypass
	}
"""
"""The text replaced: how v0.8.0 makes the queue verdict of each of its two rule sets."""

XT_QUEUE_RULE = """\
	queue := k8snotesXtNFQueue(uint16(c.config.QueueID), c.config.FailOpen) // k8snotes: NFT_QUEUE missing
"""
"""What replaces it: the same verdict through the xtables target."""

XT_NFQUEUE_FILE = "pkg/networkpolicy/zz_k8snotes_xt_nfqueue.go"

XT_NFQUEUE_GO = """\
package networkpolicy

// Added by k8snotes (k8snotes/provision/netpol.py): the kernel of its test machine has no
// NFT_QUEUE, so the native nftables queue expression is refused; the xtables NFQUEUE
// target (through nft_compat) gives packets to the same queue.

import (
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
)

// k8snotesXtNFQueue is `-j NFQUEUE --queue-num num [--queue-bypass]`: revision 3 of the
// target, whose info is struct xt_NFQ_info_v3 { __u16 queuenum; __u16 queues_total;
// __u16 flags; } in host byte order, padded to 8 bytes (XT_ALIGN).
func k8snotesXtNFQueue(num uint16, bypass bool) *expr.Target {
	var flags uint16
	if bypass {
		flags = 0x01 // NFQ_FLAG_BYPASS
	}
	info := make([]byte, 0, 8)
	info = append(info, binaryutil.NativeEndian.PutUint16(num)...)
	info = append(info, binaryutil.NativeEndian.PutUint16(1)...) // queues_total
	info = append(info, binaryutil.NativeEndian.PutUint16(flags)...)
	info = append(info, 0, 0)
	payload := xt.Unknown(info)
	return &expr.Target{Name: "NFQUEUE", Rev: 3, Info: &payload}
}
"""
"""The Go file added beside ``controller.go``."""

NFQUEUE_ID = 101
"""The queue kindnetd gives kube-network-policies (``QueueID: 101`` in kind's
``images/kindnetd/cmd/kindnetd/main.go``)."""

ENFORCER_ARGS = (
    f"--nfqueue-id={NFQUEUE_ID}",
    "--fail-open",
    "--disable-nri",
    "--netfilter-bug-1766-fix=false",
    "--metrics-bind-address=127.0.0.1:9080",
)
"""Flags the stand-in for kindnetd runs the enforcer with, besides ``--hostname-override``.

kindnetd's settings (queue 101, ``FailOpen: true``: a packet passes when no enforcer
listens); no NRI (Debian bookworm's containerd 1.6 has none); no workaround for netfilter
bug 1766, which kindnetd turns on (the flag's help: "not needed for kernels 6.12+"; this
machine runs 6.18); the metrics on the node's loopback only. :func:`build` checks that v0.8.0's ``cmd/main.go``
defines each flag."""

QUEUE_RULES = 2
"""How many times v0.8.0's ``controller.go`` builds the queue verdict (postrouting, prerouting)."""


class PatchError(RuntimeError):
    """The source to patch is not the one the patch was written for."""


def patch_controller(text: str) -> str:
    """``controller.go`` with its queue verdicts made by :data:`XT_QUEUE_RULE`.

    Raises :class:`PatchError` unless :data:`QUEUE_RULE` occurs exactly
    :data:`QUEUE_RULES` times, or if ``expr.Queue`` is still used afterwards.
    """
    found = text.count(QUEUE_RULE)
    if found != QUEUE_RULES:
        raise PatchError(
            f"{CONTROLLER}: expected the queue rule {QUEUE_RULES} times, found it {found} times"
        )
    patched = text.replace(QUEUE_RULE, XT_QUEUE_RULE)
    if "expr.Queue" in patched:
        raise PatchError(f"{CONTROLLER}: expr.Queue is still used after the patch")
    return patched


def patch_digest() -> str:
    """Short hash of the patch: part of the cache folder, so a changed patch rebuilds."""
    h = hashlib.sha256()
    for part in (QUEUE_RULE, XT_QUEUE_RULE, XT_NFQUEUE_FILE, XT_NFQUEUE_GO):
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:8]


def patch_module(root: Path) -> None:
    """Apply the patch to a writable copy of the module at ``root``."""
    controller = root / CONTROLLER
    controller.write_text(patch_controller(controller.read_text()))
    (root / XT_NFQUEUE_FILE).write_text(XT_NFQUEUE_GO)


def check_flags(main_go: str) -> None:
    """Raise :class:`PatchError` unless ``cmd/main.go`` defines every flag the stand-in passes."""
    names = [a.lstrip("-").split("=", 1)[0] for a in ENFORCER_ARGS] + ["hostname-override"]
    missing = [n for n in names if f'"{n}",' not in main_go]
    if missing:
        raise PatchError(f"cmd/main.go defines no flag {', '.join(missing)}")


def build(ws: GoWorkspace, out: Path, root: Path) -> None:
    """Download the module, patch a copy of it, ``go build ./cmd`` as :data:`BINARY` in ``out``."""
    ws.init()
    info = ws.download_json(MODULE, versions.KUBE_NETWORK_POLICIES)
    src = ws.root / "kube-network-policies"
    # The module cache is read-only and shared: the edit is made on a copy.
    shutil.copytree(Path(info["Dir"]), src)
    for p in [src, *src.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    if not (src / "cmd" / "main.go").exists():
        raise GoBuildError(f"{MODULE}@{versions.KUBE_NETWORK_POLICIES} has no cmd/main.go")
    check_flags((src / "cmd" / "main.go").read_text())
    patch_module(src)
    out.mkdir(parents=True, exist_ok=True)
    ws.go("build", "-trimpath", "-ldflags", "-s -w", "-o", str(out / BINARY), "./cmd", cwd=src)
