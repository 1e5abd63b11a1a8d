"""The cluster's binaries: fetched from a release host when one answers, else built from source.

Layout of the cache (see :func:`k8snotes.paths.cache_dir`)::

    <cache>/kubernetes/v1.37.2/bin/{kube-apiserver,...,kubeadm,kubectl}
    <cache>/etcd/v3.7.0/bin/etcd
    <cache>/kwok/v0.8.0/bin/{kwok,kwokctl}
    <cache>/kind/v0.33.0/bin/kind
    <cache>/coredns/v1.14.6/bin/coredns          (and crictl, local-path-provisioner,
    <cache>/traefik/v3.6.12/bin/traefik           metrics-server the same way)
    <cache>/gateway-api/v1.4.0/bin/standard-install.yaml
    <cache>/kube-network-policies/v0.8.0+xt.<patch>/bin/kube-network-policies

A group is complete when its ``complete.json`` exists; a warm cache builds
nothing.
"""

from __future__ import annotations

import hashlib
import platform
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from k8snotes import locks, paths, records, versions
from k8snotes.locks import held
from k8snotes.progress import say, step
from k8snotes.provision import netpol
from k8snotes.provision.gobuild import GoWorkspace, staging_replaces, version_ldflags, workspace

ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())

KUBERNETES_COMMANDS = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "kubeadm",
    "kubectl",
)
"""Commands built from ``k8s.io/kubernetes``."""


@dataclass(frozen=True)
class BinaryGroup:
    """Binaries that come from one source at one version.

    Attributes:
        name: Cache folder name (``kubernetes``, ``etcd`` ...).
        version: Pinned version, from :mod:`k8snotes.versions`.
        binaries: File names that end up in ``bin/``.
        build: Builds the binaries from Go module sources into a folder.
        releases: Map of binary name to (URL, SHA-256 URL) of an official release.
    """

    name: str
    version: str
    binaries: tuple[str, ...]
    build: Callable[[GoWorkspace, Path, Path], None]
    releases: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        """``<cache>/<name>/<version>``."""
        return paths.cache_dir() / self.name / self.version

    @property
    def bin_dir(self) -> Path:
        """Where this group's binaries live."""
        return self.root / "bin"

    def path(self, binary: str) -> Path:
        """Absolute path of one of this group's binaries."""
        if binary not in self.binaries:
            raise KeyError(f"{binary} is not part of {self.name}")
        return self.bin_dir / binary

    def is_complete(self) -> bool:
        """True when every binary is in the cache."""
        return (self.root / "complete.json").exists() and all(
            (self.bin_dir / b).exists() for b in self.binaries
        )


def _build_kubernetes(ws: GoWorkspace, out: Path, root: Path) -> None:
    version = versions.KUBERNETES
    ws.init()
    info = ws.download_json("k8s.io/kubernetes", version)
    replaces = staging_replaces(Path(info["GoMod"]).read_text(), versions.KUBERNETES_STAGING)
    with (ws.module / "go.mod").open("a") as gomod:
        gomod.write("\nreplace (\n")
        gomod.writelines(f"\t{mod} => {target}\n" for mod, target in sorted(replaces.items()))
        gomod.write(")\n")
    packages = [f"k8s.io/kubernetes/cmd/{cmd}" for cmd in KUBERNETES_COMMANDS]
    ws.go("get", *(f"{p}@{version}" for p in packages))
    ldflags = version_ldflags(
        version, ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"]
    )
    ws.build(packages, out, ldflags=ldflags, tags="selinux,notest,grpcnotrace")
    # Sources the kind node image needs later (the pause container).
    src = root / "src"
    src.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(info["Dir"]) / "build" / "pause" / "linux" / "pause.c", src / "pause.c")


def _build_etcd(ws: GoWorkspace, out: Path, root: Path) -> None:
    # `go install go.etcd.io/etcd/server/v3@...` fails on etcd's relative replaces;
    # requiring it from a module of our own works (its root package is etcd's main).
    ws.init()
    ws.go("get", f"go.etcd.io/etcd/server/v3@{versions.ETCD}")
    ws.build(["go.etcd.io/etcd/server/v3"], out)
    # go names the binary after the last path element that is not a major version.
    (out / "server").rename(out / "etcd")


def _go_install(*packages: str, ldflags: str = "") -> Callable[[GoWorkspace, Path, Path], None]:
    def build(ws: GoWorkspace, out: Path, root: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        ws.env["GOBIN"] = str(out)
        ws.go("install", "-trimpath", "-ldflags", f"-s -w {ldflags}".strip(), *packages)

    return build


def _gh(repo: str, version: str, asset: str, sums: str) -> tuple[str, str]:
    base = f"https://github.com/{repo}/releases/download/{version}"
    return f"{base}/{asset}", f"{base}/{sums}"


KUBERNETES = BinaryGroup(
    "kubernetes",
    versions.KUBERNETES,
    KUBERNETES_COMMANDS,
    _build_kubernetes,
    {
        cmd: (
            f"https://dl.k8s.io/release/{versions.KUBERNETES}/bin/linux/{ARCH}/{cmd}",
            f"https://dl.k8s.io/release/{versions.KUBERNETES}/bin/linux/{ARCH}/{cmd}.sha256",
        )
        for cmd in KUBERNETES_COMMANDS
    },
)
ETCD = BinaryGroup("etcd", versions.ETCD, ("etcd",), _build_etcd)
KWOK = BinaryGroup(
    "kwok",
    versions.KWOK,
    ("kwok", "kwokctl"),
    _go_install(
        f"sigs.k8s.io/kwok/cmd/kwok@{versions.KWOK}",
        f"sigs.k8s.io/kwok/cmd/kwokctl@{versions.KWOK}",
        ldflags=f"-X sigs.k8s.io/kwok/pkg/consts.Version={versions.KWOK.lstrip('v')}",
    ),
    {
        name: _gh("kubernetes-sigs/kwok", versions.KWOK, f"{name}-linux-{ARCH}", "")
        for name in ("kwok", "kwokctl")
    },
)
KIND = BinaryGroup(
    "kind",
    versions.KIND,
    ("kind",),
    _go_install(f"sigs.k8s.io/kind@{versions.KIND}"),
    {
        "kind": _gh(
            "kubernetes-sigs/kind",
            versions.KIND,
            f"kind-linux-{ARCH}",
            f"kind-linux-{ARCH}.sha256sum",
        )
    },
)


def gomod_replaces(go_mod: str) -> list[str]:
    """The ``replace`` directives of a ``go.mod``, one ``old => new`` string each.

    Handles both the single-line form and ``replace ( ... )`` blocks. A module
    that requires another one must repeat its replaces (Go ignores the
    dependency's own), which is why ``go install`` refuses such modules.
    """
    found: list[str] = []
    in_block = False
    for raw in go_mod.splitlines():
        line = raw.split("//", 1)[0].strip()
        if in_block:
            if line == ")":
                in_block = False
            elif "=>" in line:
                found.append(line)
        elif line.startswith("replace"):
            rest = line[len("replace") :].strip()
            if rest == "(":
                in_block = True
            elif "=>" in rest:
                found.append(rest)
    return found


def gomod_require(go_mod: str, module: str) -> str | None:
    """The version ``go_mod`` requires of ``module``, or ``None``."""
    for raw in go_mod.splitlines():
        parts = raw.split("//", 1)[0].split()
        if parts[:1] == ["require"]:
            parts = parts[1:]
        if len(parts) == 2 and parts[0] == module:
            return parts[1]
    return None


TRAEFIK_MODULE = "github.com/traefik/traefik/v3"


def _build_traefik(ws: GoWorkspace, out: Path, root: Path) -> None:
    # `go install` refuses Traefik (its go.mod has replace lines): require it from a
    # module of our own that imports its main package and repeats its replaces.
    ws.init()
    info = ws.download_json(TRAEFIK_MODULE, versions.TRAEFIK)
    go_mod = Path(info["GoMod"]).read_text()
    wanted = gomod_require(go_mod, "sigs.k8s.io/gateway-api")
    if wanted != versions.GATEWAY_API:
        raise RuntimeError(
            f"Traefik {versions.TRAEFIK} requires gateway-api {wanted}, "
            f"versions.GATEWAY_API says {versions.GATEWAY_API}"
        )
    with (ws.module / "go.mod").open("a") as f:
        f.write("\nreplace (\n" + "".join(f"\t{r}\n" for r in gomod_replaces(go_mod)) + ")\n")
    (ws.module / "tools.go").write_text(
        f'//go:build tools\n\npackage tools\n\nimport _ "{TRAEFIK_MODULE}/cmd/traefik"\n'
    )
    ws.go("get", f"{TRAEFIK_MODULE}@{versions.TRAEFIK}")
    ws.go("mod", "tidy")
    ws.build(
        [f"{TRAEFIK_MODULE}/cmd/traefik"],
        out,
        ldflags=f"-X {TRAEFIK_MODULE}/pkg/version.Version={versions.TRAEFIK}",
    )


def _fetch_gateway_crds(ws: GoWorkspace, out: Path, root: Path) -> None:
    # The release asset standard-install.yaml is not in the module zip; it is the
    # standard channel's CRD files joined.
    ws.init()
    info = ws.download_json("sigs.k8s.io/gateway-api", versions.GATEWAY_API)
    crds = sorted((Path(info["Dir"]) / "config" / "crd" / "standard").glob("gateway*.yaml"))
    if not crds:
        raise RuntimeError(f"no CRDs in sigs.k8s.io/gateway-api@{versions.GATEWAY_API}")
    out.mkdir(parents=True, exist_ok=True)
    text = "".join(
        ("" if i == 0 else "---\n") + c.read_text().rstrip("\n") + "\n" for i, c in enumerate(crds)
    )
    (out / "standard-install.yaml").write_text(text)


COREDNS = BinaryGroup(
    "coredns",
    versions.COREDNS,
    ("coredns",),
    _go_install(f"github.com/coredns/coredns@{versions.COREDNS}"),
)
CRICTL = BinaryGroup(
    "crictl",
    versions.CRICTL,
    ("crictl",),
    _go_install(
        f"sigs.k8s.io/cri-tools/cmd/crictl@{versions.CRICTL}",
        ldflags=f"-X sigs.k8s.io/cri-tools/pkg/version.Version={versions.CRICTL}",
    ),
)
LOCAL_PATH_PROVISIONER = BinaryGroup(
    "local-path-provisioner",
    versions.LOCAL_PATH_PROVISIONER,
    ("local-path-provisioner",),
    _go_install(
        f"github.com/rancher/local-path-provisioner@{versions.LOCAL_PATH_PROVISIONER}",
        ldflags=f"-X main.VERSION={versions.LOCAL_PATH_PROVISIONER}",
    ),
)
METRICS_SERVER = BinaryGroup(
    "metrics-server",
    versions.METRICS_SERVER,
    ("metrics-server",),
    _go_install(
        f"sigs.k8s.io/metrics-server/cmd/metrics-server@{versions.METRICS_SERVER}",
        ldflags=version_ldflags(
            versions.METRICS_SERVER,
            ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"],
        ),
    ),
)
HELM = BinaryGroup(
    "helm",
    versions.HELM,
    ("helm",),
    # The variables helm's Makefile stamps for a tagged release (its Git commit is not in
    # the module zip, so `helm version` shows an empty GitCommit).
    _go_install(
        f"helm.sh/helm/v4/cmd/helm@{versions.HELM}",
        ldflags=f"-X helm.sh/helm/v4/internal/version.version={versions.HELM} "
        "-X helm.sh/helm/v4/internal/version.gitTreeState=clean",
    ),
)
"""Helm: its releases are tarballs (get.helm.sh), so it is built from Go module sources."""
TRAEFIK = BinaryGroup("traefik", versions.TRAEFIK, ("traefik",), _build_traefik)
KUBE_NETWORK_POLICIES = BinaryGroup(
    "kube-network-policies",
    f"{versions.KUBE_NETWORK_POLICIES}+xt.{netpol.patch_digest()}",
    (netpol.BINARY,),
    netpol.build,
)
"""The NetworkPolicy enforcer, patched to queue packets through the xtables NFQUEUE target
(:mod:`k8snotes.provision.netpol`); the patch's hash is part of its version, so a new patch
rebuilds it."""
GATEWAY_API = BinaryGroup(
    "gateway-api", versions.GATEWAY_API, ("standard-install.yaml",), _fetch_gateway_crds
)
"""Not a binary: the Gateway API CRDs, cached the same way."""

GROUPS: dict[str, BinaryGroup] = {
    g.name: g
    for g in (
        KUBERNETES,
        ETCD,
        KWOK,
        KIND,
        COREDNS,
        CRICTL,
        LOCAL_PATH_PROVISIONER,
        METRICS_SERVER,
        HELM,
        TRAEFIK,
        GATEWAY_API,
        KUBE_NETWORK_POLICIES,
    )
}
"""Every binary group, by name."""


def host_answers(url: str, timeout: float = 3.0) -> bool:
    """True when an HTTP(S) host answers at all within ``timeout`` seconds."""
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout)
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False
    return True


def download_verified(url: str, sha_url: str, dest: Path, timeout: float = 60.0) -> None:
    """Download ``url`` to ``dest``, checking it against the SHA-256 at ``sha_url``.

    An empty ``sha_url`` means the release publishes no checksum for the asset.
    The file appears at ``dest`` only once complete and verified.
    """
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        data = resp.read()
    if sha_url:
        with urllib.request.urlopen(sha_url, timeout=timeout) as resp:
            expected = resp.read().decode().split()[0]
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise RuntimeError(f"checksum mismatch for {url}: {actual} != {expected}")
    tmp = dest.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.chmod(0o755)
    tmp.rename(dest)


def _fetch_releases(group: BinaryGroup, out: Path) -> bool:
    """Download ``group``'s release binaries into ``out``; False means: build them instead.

    Only assets with a published SHA-256 are downloaded (the Go build is verified by
    the Go checksum database, an unverified download by nothing). A host that does
    not answer, refuses (403), lacks the asset (404) or serves a file whose checksum
    does not match leads to the Go build too, and says so.
    """
    if not group.releases or not all(b in group.releases for b in group.binaries):
        return False
    if not all(sha for _, sha in group.releases.values()):
        say(f"{group.name}: its releases publish no checksum: building it")
        return False
    first_url = next(iter(group.releases.values()))[0]
    if not host_answers(first_url):
        return False
    out.mkdir(parents=True, exist_ok=True)
    try:
        for binary in group.binaries:
            url, sha_url = group.releases[binary]
            download_verified(url, sha_url, out / binary)
    except (OSError, RuntimeError) as exc:  # HTTPError (403, 404) is an OSError
        say(f"{group.name}: download failed ({exc}): building it instead")
        shutil.rmtree(out, ignore_errors=True)
        return False
    return True


def ensure(group: BinaryGroup, *, allow_download: bool = True) -> Path:
    """Make ``group``'s binaries present in the cache and return their folder.

    A complete cache returns at once. Otherwise an official release is
    downloaded if its host answers, else the group is built from Go module
    sources in a throw-away workspace whose caches are deleted afterwards.
    """
    if group.is_complete():
        return group.bin_dir
    root = group.root
    root.mkdir(parents=True, exist_ok=True)
    # One build at a time per group, across processes (xdist workers, a CLI run).
    with held(root / "build.lock", f"the {group.name} build", locks.BUILD):
        if group.is_complete():
            return group.bin_dir
        _provision(group, allow_download)
    return group.bin_dir


def _provision(group: BinaryGroup, allow_download: bool) -> None:
    root = group.root
    staging = root / "bin.partial"
    shutil.rmtree(staging, ignore_errors=True)
    start = time.monotonic()
    source = "release"
    if not (allow_download and _fetch_releases(group, staging)):
        source = "go-source"
        with step(f"building {group.name} {group.version} from Go module sources"):
            with workspace(paths.cache_dir() / "tmp") as ws:
                group.build(ws, staging, root)
    shutil.rmtree(group.bin_dir, ignore_errors=True)
    staging.rename(group.bin_dir)
    missing = [b for b in group.binaries if not (group.bin_dir / b).exists()]
    if missing:
        raise RuntimeError(f"{group.name}: build did not produce {missing}")
    # Written whole or not at all: its existence is what says the group is complete.
    records.write_json_atomic(
        root / "complete.json",
        {"source": source, "version": group.version, "seconds": round(time.monotonic() - start, 1)},
    )


def ensure_all(names: list[str] | None = None) -> dict[str, Path]:
    """:func:`ensure` every group named (all by default); returns their bin folders."""
    result = {}
    for name in names or list(GROUPS):
        group = GROUPS[name]
        if group.is_complete():
            say(f"{name} {group.version}: cached")
        result[name] = ensure(group)
    return result
