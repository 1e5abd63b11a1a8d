"""The kind node image for :data:`~k8snotes.versions.KUBERNETES`, built here if it cannot be pulled.

Steps (all from Go module sources and Debian packages, nothing pulled):

1. kind's own base image definition (``images/base`` of the kind module: the
   entrypoint, containerd config, kubelet unit and drop-ins, sysctls) rebuilt on
   ``debian:bookworm-slim`` with Debian's systemd, containerd 1.6, runc and CNI
   plugins (:func:`base_dockerfile`), plus crictl and a ``ctr`` shim.
2. The images kubeadm and kind's default manifests need: the control plane on
   an empty base, kube-proxy with iptables, etcd, CoreDNS, pause, the pod
   network (:mod:`k8snotes.provision.cni`, a stand-in for kindnetd that runs
   kube-network-policies, :mod:`k8snotes.provision.netpol`), local-path-provisioner
   and its helper.
3. A Kubernetes "server tarball" holding kubeadm, kubelet, kubectl and those
   images, then ``kind build node-image --type file``.

The result is saved (``docker save``) under ``<cache>/kind-node/<version>/<key>.tar.gz``,
where the key hashes every pinned version and every file that defines the
image, so a warm machine only ``docker load``\\ s it, and a change rebuilds it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
from pathlib import Path

from k8snotes import locks, paths, versions
from k8snotes.locks import held
from k8snotes.progress import say, step
from k8snotes.provision import binaries, cni, docker, images, netpol
from k8snotes.provision.gobuild import workspace

NODE_IMAGE = f"kindest/node:{versions.KUBERNETES}"
"""Tag of the node image: kind's name, so a machine that can pull the official one uses it."""

BASE_IMAGE_REPO = "k8snotes/kind-base"
"""Intermediate base image (removed once the node image is built)."""

KEY_LABEL = "io.k8snotes.node-image.key"
"""Label holding the build key on a node image built here."""

CGROUPV1_LABEL = "io.k8snotes.kubelet.fail-cgroupv1"
"""Label saying the image's kubelet already runs with ``--fail-cgroupv1=false``."""

DIFFERENCES = (
    "its kubelet runs with --fail-cgroupv1=false (this host uses cgroup v1)",
    cni.STAND_IN,
)
"""How the node image built here differs from kind's own: the kind shim's note, which the
test report lists, names each."""

REGISTRY = "registry.k8s.io"

STORAGE_PROVISIONER_IMAGE = "docker.io/kindest/local-path-provisioner:v20260820-69b56db7"
"""kind v0.33.0's provisioner image name (``const_storage.go``); built from
local-path-provisioner :data:`~k8snotes.versions.LOCAL_PATH_PROVISIONER`, as kind's own is."""

STORAGE_HELPER_IMAGE = "docker.io/kindest/local-path-helper:v20260131-7181c60a"
"""kind v0.33.0's helper image name: a shell with ``mkdir``/``rm`` for volume directories."""

PACKAGES = (
    # as kind's images/base, minus fuse-overlayfs (rootless only), nfs-common and
    # open-iscsi (network storage e2e tests), plus Debian's container runtime and CNI plugins
    "systemd conntrack iptables nftables iproute2 ethtool util-linux mount kmod "
    "libseccomp2 pigz e2fsprogs bash ca-certificates curl jq procps "
    "containerd runc containernetworking-plugins"
)

CTR_SHIM = r"""#!/bin/sh
# ctr shim: kind v0.33 calls `ctr info` and `ctr images import --label=...`, which
# containerd 1.6's ctr (Debian bookworm) lacks: map `info` to `version`, drop --label
# on import, pass everything else to the real ctr unchanged.
real=${K8SNOTES_REAL_CTR:-/usr/bin/ctr}
cmd=""
for a in "$@"; do
  case "$a" in
    -*) ;;
    *) cmd=$a; break ;;
  esac
done
if [ "$cmd" = info ]; then
  exec "$real" version
fi
case " $* " in
  *" import "*)
    for a in "$@"; do
      shift
      case "$a" in
        --label=*) ;;
        *) set -- "$@" "$a" ;;
      esac
    done
    ;;
esac
exec "$real" "$@"
"""


def kind_base_dir() -> Path:
    """kind's ``images/base`` from the kind module, cached under the kind binary group."""
    dest = binaries.KIND.root / "src" / "images" / "base"
    if (dest / "Dockerfile").exists():
        return dest
    with step(f"downloading sigs.k8s.io/kind@{versions.KIND} for images/base"):
        with workspace(paths.cache_dir() / "tmp") as ws:
            ws.init()
            info = ws.download_json("sigs.k8s.io/kind", versions.KIND)
            part = dest.with_name("base.partial")
            shutil.rmtree(part, ignore_errors=True)
            part.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(Path(info["Dir"]) / "images" / "base", part)
            for p in [part, *part.rglob("*")]:
                p.chmod(0o755 if p.is_dir() else 0o644)
            part.rename(dest)
    return dest


def kind_files(base: Path) -> list[str]:
    """Files of kind's ``images/base/files``, relative to it, sorted."""
    root = base / "files"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _executable(rel: str) -> bool:
    return rel.startswith(("usr/local/bin/", "kind/bin/"))


def base_dockerfile(files: list[str], key: str) -> str:
    """The node base image: kind's ``images/base`` on Debian packages.

    Args:
        files: kind's files (from :func:`kind_files`), copied to the same paths.
        key: Build key stored as a label.
    """
    executables = " ".join("/" + f for f in files if _executable(f))
    pause = f"{REGISTRY}/pause:{versions.PAUSE}"
    return f"""\
FROM {docker.BASE_IMAGE}
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {PACKAGES} \\
 && rm -rf /var/lib/apt/lists/*
# kind's files after the packages (else dpkg stops at a config-file prompt)
COPY files/ /
RUN chmod 0755 /kind /kind/bin {executables} \\
 && find /lib/systemd/system/sysinit.target.wants/ -name "systemd-tmpfiles-setup.service" -delete \\
 && rm -f /lib/systemd/system/multi-user.target.wants/* \\
 && rm -f /etc/systemd/system/*.wants/* \\
 && rm -f /lib/systemd/system/local-fs.target.wants/* \\
 && rm -f /lib/systemd/system/sockets.target.wants/*udev* \\
 && rm -f /lib/systemd/system/sockets.target.wants/*initctl* \\
 && rm -f /lib/systemd/system/basic.target.wants/* \\
 && echo "ReadKMsg=no" >> /etc/systemd/journald.conf \\
 && ln -sf /usr/lib/systemd/systemd /sbin/init \\
 && systemctl enable kubelet.service containerd.service undo-mount-hacks.service \\
 && systemctl mask systemd-binfmt.service \\
 && mkdir -p /etc/kubernetes/manifests
# Debian's containerd where kind's unit expects it, CNI plugins where kind's config looks,
# kind's base runtime spec, the local pause tag, restrict_oom_score_adj (root may lack
# CAP_SYS_RESOURCE, so negative OOM scores fail) and a kubelet that accepts cgroup v1.
RUN ln -sf /usr/bin/containerd /usr/local/bin/containerd \\
 && mkdir -p /opt/cni/bin && for p in /usr/lib/cni/*; do ln -sf "$p" /opt/cni/bin/; done \\
 && /usr/bin/ctr oci spec \\
    | jq '.hooks.createContainer[.hooks.createContainer | length] |= . + \\
          {{"path": "/kind/bin/mount-product-files.sh"}}' \\
    | jq 'del(.process.rlimits)' > /etc/containerd/cri-base.json \\
 && sed -i -e 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' \\
      -e 's#sandbox_image = .*#sandbox_image = "{pause}"#' /etc/containerd/config.toml \\
 && grep -q 'restrict_oom_score_adj = true' /etc/containerd/config.toml \\
 && sed -i 's#^KUBELET_EXTRA_ARGS=.*#& --fail-cgroupv1=false#' /etc/default/kubelet \\
 && containerd --version && runc --version
COPY crictl ctr /usr/local/bin/
RUN chmod 0755 /usr/local/bin/crictl /usr/local/bin/ctr
ENV container=docker
STOPSIGNAL SIGRTMIN+3
LABEL {KEY_LABEL}="{key}" {CGROUPV1_LABEL}="false"
ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]
"""


def scratch_dockerfile(binary: str, entrypoint: bool = False, user: str = "") -> str:
    """A static binary on an empty base, on ``PATH`` (``/usr/local/bin``)."""
    lines = [
        "FROM scratch",
        f"COPY {binary} /usr/local/bin/{binary}",
        "ENV PATH=/usr/local/bin:/usr/bin:/bin",
    ]
    if user:
        lines.append(f"USER {user}")
    if entrypoint:
        lines.append(f'ENTRYPOINT ["/usr/local/bin/{binary}"]')
    return "\n".join(lines) + "\n"


def slim_dockerfile(packages: str, binary: str = "") -> str:
    """``debian:bookworm-slim`` with Debian packages (and a binary on ``PATH``)."""
    text = (
        f"FROM {docker.BASE_IMAGE}\n"
        "RUN apt-get update \\\n"
        " && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "
        f"{packages} \\\n"
        " && rm -rf /var/lib/apt/lists/*\n"
    )
    if binary:
        text += f"COPY {binary} /usr/local/bin/{binary}\n"
    return text


def required_images() -> list[str]:
    """``kubeadm config images list`` for the pinned version (kubeadm from the cache)."""
    kubeadm = binaries.ensure(binaries.KUBERNETES) / "kubeadm"
    out = subprocess.run(
        [str(kubeadm), "config", "images", "list", "--kubernetes-version", versions.KUBERNETES],
        timeout=120,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def component_specs(kubeadm_images: list[str]) -> dict[str, tuple[str, dict[str, str]]]:
    """Every image the node holds besides the base: tag -> (Dockerfile, binary name -> group).

    Args:
        kubeadm_images: The list from :func:`required_images`.
    """

    def tag(name: str) -> str:
        found = [i for i in kubeadm_images if images.split_tag(i)[0].endswith("/" + name)]
        if not found:
            raise RuntimeError(f"kubeadm lists no {name} image: {kubeadm_images}")
        return found[0]

    specs: dict[str, tuple[str, dict[str, str]]] = {}
    for cmd in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        specs[tag(cmd)] = (scratch_dockerfile(cmd), {cmd: "kubernetes"})
    specs[tag("etcd")] = (scratch_dockerfile("etcd"), {"etcd": "etcd"})
    specs[tag("kube-proxy")] = (
        slim_dockerfile("iptables conntrack nftables kmod", "kube-proxy"),
        {"kube-proxy": "kubernetes"},
    )
    coredns = 'FROM scratch\nCOPY coredns /coredns\nEXPOSE 53 53/udp\nENTRYPOINT ["/coredns"]\n'
    specs[tag("coredns")] = (coredns, {"coredns": "coredns"})
    pause = 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n'
    specs[tag("pause")] = (pause, {"pause": "pause"})
    specs[cni.KINDNETD_IMAGE] = (cni.DOCKERFILE, {netpol.BINARY: "kube-network-policies"})
    specs[STORAGE_PROVISIONER_IMAGE] = (
        scratch_dockerfile("local-path-provisioner", entrypoint=True),
        {"local-path-provisioner": "local-path-provisioner"},
    )
    specs[STORAGE_HELPER_IMAGE] = (f"FROM {docker.BASE_IMAGE}\n", {})
    return specs


KEY_VERSIONS = (
    "KUBERNETES",
    "ETCD",
    "KIND",
    "CRICTL",
    "COREDNS",
    "PAUSE",
    "LOCAL_PATH_PROVISIONER",
    "DEBIAN_SUITE",
    "KUBE_NETWORK_POLICIES",
)
"""Pinned versions that go into the node image (add-ons are loaded later, not baked in)."""


def build_key(base: Path, specs: dict[str, tuple[str, dict[str, str]]]) -> str:
    """Hash of everything that defines the node image: versions, kind's files, Dockerfiles."""
    h = hashlib.sha256()
    pinned = {name: getattr(versions, name) for name in KEY_VERSIONS}
    h.update(json.dumps(pinned, sort_keys=True).encode())
    for rel in sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file()):
        h.update(rel.encode() + b"\0" + (base / rel).read_bytes() + b"\0")
    h.update(base_dockerfile(kind_files(base), "").encode())
    h.update(CTR_SHIM.encode() + cni.SCRIPT.encode())
    h.update(binaries.KUBE_NETWORK_POLICIES.version.encode())  # carries the patch's hash
    h.update(json.dumps(specs, sort_keys=True).encode())
    return h.hexdigest()[:16]


def cached_archive(key: str) -> Path:
    """Where the saved node image of build ``key`` lives."""
    return paths.cache_dir() / "kind-node" / versions.KUBERNETES / f"{key}.tar.gz"


def _compile_pause(dest: Path) -> Path:
    src = binaries.KUBERNETES.root / "src" / "pause.c"
    subprocess.run(
        [
            "gcc",
            "-Os",
            "-static",
            "-Wall",
            f"-DVERSION=v{versions.PAUSE}",
            "-o",
            str(dest),
            str(src),
        ],
        timeout=300,
        check=True,
        capture_output=True,
    )
    subprocess.run(["strip", str(dest)], timeout=60, check=False, capture_output=True)
    return dest


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def _server_tarball(work: Path, specs: dict[str, tuple[str, dict[str, str]]]) -> Path:
    """kind's ``--type file`` input: binaries, and image archives it reads tags from."""
    kube_bin = binaries.KUBERNETES.bin_dir
    by_name = {images.split_tag(t)[0].rsplit("/", 1)[1]: t for t in specs}
    archives: dict[str, Path] = {}
    for cmd in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        archives[cmd] = images.save([by_name[cmd]], work / f"{cmd}.raw.tar")
    # kind only reads the four control-plane archives: every other image rides along in
    # kube-proxy's, so that kind's builder finds them all and pulls nothing.
    others = [t for t in specs if images.split_tag(t)[0].rsplit("/", 1)[1] not in archives]
    archives["kube-proxy"] = images.save(others, work / "kube-proxy.raw.tar")
    tarball = work / "kubernetes-server.tar.gz"
    with tarfile.open(tarball, "w:gz", compresslevel=1) as tar:
        _add_bytes(tar, "kubernetes/version", f"{versions.KUBERNETES}\n".encode())
        for binary in ("kubeadm", "kubelet", "kubectl"):
            tar.add(kube_bin / binary, f"kubernetes/server/bin/{binary}")
        for name, raw in archives.items():
            fixed = images.rewrite_archive(raw, work / f"{name}.tar")
            raw.unlink()
            tar.add(fixed, f"kubernetes/server/bin/{name}.tar")
            fixed.unlink()
    return tarball


def build_node_image(key: str, base: Path, specs: dict[str, tuple[str, dict[str, str]]]) -> str:
    """Build :data:`NODE_IMAGE` from scratch (no cache); intermediate images are removed."""
    groups = {
        name: binaries.ensure(binaries.GROUPS[name])
        for name in (
            "kubernetes",
            "etcd",
            "coredns",
            "crictl",
            "local-path-provisioner",
            "kind",
            "kube-network-policies",
        )
    }
    docker.ensure_base_image()
    base_tag = f"{BASE_IMAGE_REPO}:{key}"
    built: list[str] = []
    parent = paths.cache_dir() / "tmp"
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nodeimage-", dir=parent) as tmp:
        work = Path(tmp)
        try:
            with step("building the kind base image on debian:bookworm-slim"):
                files: dict[str, images.Content] = {
                    "files": base / "files",
                    "ctr": CTR_SHIM,
                    "crictl": groups["crictl"] / "crictl",
                }
                images.build_image(base_tag, base_dockerfile(kind_files(base), key), files)
                built.append(base_tag)
            pause = _compile_pause(work / "pause")
            with step(f"building {len(specs)} component images"):
                for tag, (dockerfile, needs) in specs.items():
                    context: dict[str, images.Content] = {}
                    for binary, group in needs.items():
                        context[binary] = pause if group == "pause" else groups[group] / binary
                    if tag == cni.KINDNETD_IMAGE:
                        context.update(cni.context())
                    images.build_image(tag, dockerfile, context)
                    built.append(tag)
            with step("packing the server tarball"):
                tarball = _server_tarball(work, specs)
            with step(f"kind build node-image {NODE_IMAGE}"):
                proc = subprocess.run(
                    [
                        str(groups["kind"] / "kind"),
                        "build",
                        "node-image",
                        "--type",
                        "file",
                        str(tarball),
                        "--base-image",
                        base_tag,
                        "--image",
                        NODE_IMAGE,
                    ],
                    timeout=1800,
                    capture_output=True,
                    text=True,
                    env={**os.environ, "TMPDIR": str(work)},
                )
                if proc.returncode != 0:
                    raise docker.DockerError(
                        f"kind build node-image failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
                    )
        finally:
            images.remove(*built)
    return NODE_IMAGE


def _save_cache(key: str) -> Path:
    dest = cached_archive(key)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    with step(f"saving {NODE_IMAGE} to the cache"):
        with part.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as gz:
            proc = subprocess.Popen(["docker", "save", NODE_IMAGE], stdout=subprocess.PIPE)
            # The read blocks as long as docker save does: a timer kills it at the bound.
            started = time.monotonic()
            watchdog = threading.Timer(docker.TRANSFER_TIMEOUT, proc.kill)
            watchdog.start()
            try:
                assert proc.stdout is not None
                shutil.copyfileobj(proc.stdout, gz, 1 << 20)
                code = proc.wait(timeout=docker.TRANSFER_TIMEOUT)
            finally:
                watchdog.cancel()
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10)
            if code != 0:
                late = time.monotonic() - started >= docker.TRANSFER_TIMEOUT
                why = f"stopped after {docker.TRANSFER_TIMEOUT:.0f} s" if late else f"exit {code}"
                raise docker.DockerError(f"docker save {NODE_IMAGE} failed ({why})")
    part.rename(dest)
    for old in dest.parent.glob("*.tar.gz"):
        if old != dest:
            old.unlink()
    return dest


def node_image_key() -> tuple[str, Path, dict[str, tuple[str, dict[str, str]]]]:
    """The build key, kind's base folder and the component specs of the node image."""
    base = kind_base_dir()
    specs = component_specs(required_images())
    return build_key(base, specs), base, specs


def _try_pull(image: str) -> bool:
    try:
        proc = subprocess.run(["docker", "pull", image], capture_output=True, timeout=600)
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == 0


def ensure_node_image(*, allow_pull: bool = True) -> str:
    """Make the node image present in the engine and return its tag.

    A node image of the current key already in the engine, or one pulled from
    a registry, is used as it is (and saved to the cache if it is not there);
    else the cached archive is loaded; else the image is built (slow: several
    minutes cold) and saved to the cache.
    """
    docker.ensure_engine()
    folder = paths.state_dir() / "docker"
    folder.mkdir(parents=True, exist_ok=True)
    with held(folder / "node-image.lock", "the kind node image build", locks.BUILD):
        key, base, specs = node_image_key()
        found = images.labels(NODE_IMAGE)
        if found.get(KEY_LABEL) == key:
            if not cached_archive(key).exists():
                # In the engine but not in the cache (a cleared cache, an engine of the
                # user's): saved, so that another engine (a reader's machine) can load it.
                _save_cache(key)
            return NODE_IMAGE
        if not found and allow_pull and _try_pull(NODE_IMAGE):
            return NODE_IMAGE
        archive = cached_archive(key)
        if archive.exists():
            with step(f"loading {NODE_IMAGE} from {archive.name}"):
                docker.docker("load", "-i", str(archive), timeout=docker.TRANSFER_TIMEOUT)
            return NODE_IMAGE
        start = time.monotonic()
        build_node_image(key, base, specs)
        say(f"node image built in {time.monotonic() - start:.0f} s")
        _save_cache(key)
    return NODE_IMAGE


def status() -> str:
    """One line for ``k8snotes doctor``: whether the node image is present, cached or missing."""
    if not docker.engine_running():
        return "no Docker engine answers"
    key, _, _ = node_image_key()
    if images.labels(NODE_IMAGE).get(KEY_LABEL) == key:
        return f"{NODE_IMAGE} present (build {key})"
    if cached_archive(key).exists():
        return f"{NODE_IMAGE} cached in {cached_archive(key)} (loads in about 15 s)"
    if images.labels(NODE_IMAGE) or docker.image_present(NODE_IMAGE):
        return f"{NODE_IMAGE} present, not built here (pulled, or an older build)"
    return f"{NODE_IMAGE} not built yet (several minutes on first use)"
