"""What a page's shell gets besides the cluster: Docker, kind, the site's images.

This is where the runner meets the provisioning code: it starts a Docker
engine on demand (and stops it at the end if this run started it), builds
the images the site's pages run, and loads them into the cluster.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from k8snotes import locks, paths, records
from k8snotes.cluster.base import Capability, ClusterInfo
from k8snotes.locks import held
from k8snotes.progress import step
from k8snotes.site import Site, load_site

if TYPE_CHECKING:
    from k8snotes.runner.machines import Machine

_ENGINE_MARK = "docker-started-by-run"

RELEASE_SWEEPS = 5
"""At most this many passes of :meth:`ReaderRun.release` (see there)."""

RELEASE_SETTLE = 3.0
"""Seconds between two passes of :meth:`ReaderRun.release`."""

DECLARED_WAIT = 90.0
"""How long the probe may take to find what the cluster's backend declares (add-ons starting)."""


def _marker() -> Path:
    return paths.state_dir() / _ENGINE_MARK


def ensure_docker(run_id: str) -> bool:
    """Make a Docker engine answer (starting one if needed); False where none can run here.

    "None can run here" is this machine's design (no engine answers, and none
    can be installed and started: not root, no apt, no dockerd), and blocks
    that need Docker are skipped for it. An engine that could run but fails to
    start is an error, never a skip.

    When this run starts the engine, it says so in the state folder, so that
    :func:`release_environment` stops it at the end and leaves any other alone.
    """
    from k8snotes.cluster.registry import docker_usable

    if not docker_usable():
        return False
    from k8snotes.provision import docker

    lock = paths.state_dir() / "locks" / "docker-run.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with held(lock, "the Docker engine of this run", locks.BRING_UP):
        if docker.engine_running():
            return True
        try:
            docker.ensure_engine()
        except Exception as exc:
            raise RuntimeError(f"a Docker engine can run here but did not start: {exc}") from exc
        _marker().write_text(run_id)
        docker.ensure_base_image()
        return True


def release_environment(run_id: str) -> None:
    """Stop the Docker engine if this run started it and no kind node still runs on it."""
    marker = _marker()
    if not (marker.exists() and marker.read_text().strip() == run_id):
        return
    from k8snotes.provision import docker

    nodes = subprocess.run(
        ["docker", "ps", "-q", "--filter", "label=io.x-k8s.kind.cluster"],
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout.split()
    if nodes:
        return
    docker.stop_engine()
    marker.unlink(missing_ok=True)


def build_site_images(site: Site) -> list[str]:
    """``docker build`` every image the site names (the layer cache makes repeats quick)."""
    built = []
    for tag, image in site.images.items():
        args = ["docker", "build", "-q", "-t", tag]
        for key, value in image.args.items():
            args += ["--build-arg", f"{key}={value}"]
        with step(f"building {tag}"):
            subprocess.run(
                [*args, str(image.context)],
                check=True,
                capture_output=True,
                text=True,
                timeout=1200,
            )
        built.append(tag)
    return built


def prepare_cluster(info: ClusterInfo) -> None:
    """Run once when the suite's cluster comes up: load the site's images into it.

    Only a kind cluster can be loaded from here; a kwok cluster has no real pods,
    and an existing cluster's nodes must pull what pages run (nothing is done).
    """
    if not info.real_pods or info.backend != "kind":
        return
    from k8snotes.cluster.registry import get_backend

    backend = get_backend(info.backend)
    for tag in build_site_images(load_site()):
        with step(f"loading {tag} into {info.name}"):
            backend.load_image(tag)


def page_environment(info: ClusterInfo) -> tuple[set[str], dict[str, str]]:
    """Capabilities a page can count on, and the environment its shell gets.

    The cluster's capabilities are probed (:func:`~k8snotes.cluster.probe.probe_capabilities`),
    whatever the backend declared; ``docker`` and ``kind`` are the machine's.
    """
    from k8snotes.cluster.probe import probe_capabilities

    if not info.kubeconfig:
        raise ValueError(f"the cluster {info.name!r} has no kubeconfig: nothing to probe")
    run_id = os.environ.get("K8SNOTES_RUN_ID", "manual")
    probe_env = {
        **os.environ,
        "KUBECONFIG": info.kubeconfig,
        "KUBECACHEDIR": str(Path(info.kubeconfig).parent / "kubecache"),
    }
    declared = set(info.capabilities) - {Capability.DOCKER, Capability.KIND}
    deadline = time.monotonic() + DECLARED_WAIT
    while True:
        capabilities = probe_capabilities(probe_env)
        missing = declared - capabilities
        if not missing:
            break
        if time.monotonic() >= deadline:
            # Fail closed: what the backend says its cluster offers, the pages count on.
            raise RuntimeError(
                f"the {info.backend} cluster {info.name!r} should offer "
                f"{', '.join(sorted(missing))}, but the probe did not find "
                f"{'it' if len(missing) == 1 else 'them'} in {DECLARED_WAIT:.0f} s"
            )
        time.sleep(2)
    env: dict[str, str] = {}
    path = os.environ.get("PATH", "")
    if ensure_docker(run_id):
        capabilities.add(Capability.DOCKER)
        from k8snotes.provision import binaries

        kind_bin = binaries.KIND.bin_dir
        if binaries.KIND.is_complete():
            path = os.pathsep.join([str(kind_bin), path])
            capabilities.add(Capability.KIND)
            image = _kind_node_image()
            if image:
                env["K8SNOTES_KIND_IMAGE"] = image
            else:
                capabilities.discard(Capability.KIND)
    env["PATH"] = path
    return capabilities, env


def _kind_node_image() -> str | None:
    try:
        from k8snotes.provision import nodeimage
    except ImportError:
        return None
    tag = (
        getattr(nodeimage, "NODE_IMAGE", None)
        or getattr(nodeimage, "node_image_tag", lambda: None)()
    )
    return tag if tag and shutil.which("docker") else None


def page_prelude() -> str:
    """Shell code run before a page's first block: the two shims, as shell functions.

    ``kind create cluster`` goes through :mod:`k8snotes.runner.kindshim` and a
    ``kubectl`` command naming an ``https://`` URL through
    :mod:`k8snotes.runner.urlshim`; every other command runs unchanged. Each
    change they make is printed and listed in the test report. They run on the
    runner's own Python (by its full path): the page's ``python3`` is the reader's.
    """
    python = shlex.quote(sys.executable)
    return rf"""
kind() {{
  if [ "$1 $2" = "create cluster" ]; then
    K8SNOTES_SHIM_DIR="$__K8SNOTES_META" {python} -m k8snotes.runner.kindshim "$@"
    return
  fi
  command kind "$@"
}}
kubectl() {{
  case " $* " in
    *https://*) {python} -m k8snotes.runner.urlshim "$@"; return ;;
  esac
  command kubectl "$@"
}}
"""


def reader_path(path: str) -> str:
    """``path`` (a ``PATH``) without the runner's own virtualenv, as a reader's terminal has it.

    The runner's Python packages (the ``kubernetes`` client among them) are not
    the reader's: a page that uses one installs it, as the reader does.

    ```python
    import sys
    from pathlib import Path

    from k8snotes.runner.environment import reader_path

    own = str(Path(sys.prefix) / "bin")
    assert own not in reader_path(f"/usr/local/bin:{own}:/usr/bin").split(":")
    ```
    """
    if sys.prefix == sys.base_prefix:
        return path
    own = (Path(sys.prefix) / "bin").resolve()
    return os.pathsep.join(p for p in path.split(os.pathsep) if p and Path(p).resolve() != own)


READER_CLUSTER = "kind"
"""The cluster a reader's ``kind create cluster`` makes: the pages make it, the run owns it."""


def release_urls() -> dict[str, str]:
    """Release URLs the pages fetch manifests from, mapped to the same files in the cache."""
    from k8snotes import versions
    from k8snotes.cluster import addons

    components = paths.cache_dir() / "manifests" / f"metrics-server-{versions.METRICS_SERVER}.yaml"
    components.parent.mkdir(parents=True, exist_ok=True)
    components.write_text(addons.metrics_server_components())
    return {
        "https://github.com/kubernetes-sigs/gateway-api/releases/download/"
        f"{versions.GATEWAY_API}/standard-install.yaml": str(addons.gateway_crds()),
        "https://github.com/kubernetes-sigs/metrics-server/releases/download/"
        f"{versions.METRICS_SERVER}/components.yaml": str(components),
    }


class ReaderRun:
    """The reader's machine for one run: a home of its own, Docker, kind, the shims.

    Pages make their cluster themselves (``kind create cluster``); this only
    provides what a reader installs before the first page (Docker, kind,
    kubectl) and what this machine lacks (a registry: the node image and the
    add-on images are built here). What the pages' kind clusters are, the run
    records, and :meth:`release` deletes any a page did not.

    ``machine``: another reader's machine (:mod:`k8snotes.runner.machines`)
    that this process has entered; ``None`` for the host. :meth:`release`
    stops it.
    """

    def __init__(self, run_id: str, machine: Machine | None = None) -> None:
        self.run_id = run_id
        self.machine = machine
        self.machine_index = machine.index if machine else 1
        self.root = paths.state_dir() / "reader" / run_id / f"machine-{self.machine_index}"
        self.home = self.root / "home"
        self.created = self.root / "created-clusters"
        self.containers_before: set[str] | None = None
        """The engine's containers before the first page: what :meth:`release` leaves alone."""
        self.networks_before: set[str] | None = None
        """The engine's networks before the first page (kind makes its ``kind`` network)."""
        self.left: list[str] = []
        self._found = False
        """What :meth:`release` found left by the pages and deleted."""

    def prepare(self) -> tuple[set[str], dict[str, str]]:
        """Make Docker, kind and the images ready; the capabilities and env pages get."""
        from k8snotes.cluster import addons
        from k8snotes.provision import binaries, nodeimage

        if self.machine is not None:
            from k8snotes.provision import docker

            docker.ensure_base_image()  # the machine's own engine: the same base as the host's
        elif not ensure_docker(self.run_id):
            raise RuntimeError("reader mode needs Docker, and no Docker engine can run here")
        kind_dir = binaries.ensure(binaries.KIND)
        kube_dir = binaries.ensure(binaries.KUBERNETES)
        helm_dir = binaries.ensure(binaries.HELM)
        env_path = os.pathsep.join(
            [str(kind_dir), str(kube_dir), str(helm_dir), reader_path(os.environ.get("PATH", ""))]
        )
        existing = subprocess.run(
            [str(kind_dir / "kind"), "get", "clusters"], capture_output=True, text=True, timeout=60
        ).stdout.split()
        if READER_CLUSTER in existing and not self.created.exists():
            raise RuntimeError(
                f"a kind cluster named {READER_CLUSTER!r} already runs here, and this run did "
                "not make it. The pages make their own (kind's default name), and the tests "
                "never touch a cluster they did not create: delete it (kind delete cluster) "
                "or run on another backend (--k8snotes-backend kwok)."
            )
        image = nodeimage.ensure_node_image()
        preload = addons.ensure_images()
        self.containers_before = set(_docker_list("ps", "--all", "--quiet", "--no-trunc"))
        self.networks_before = set(_docker_list("network", "ls", "--quiet", "--no-trunc"))
        self.home.mkdir(parents=True, exist_ok=True)
        self.created.touch()
        url_map = self.root / "urls.json"
        records.write_json_atomic(url_map, release_urls(), indent=2)
        env = {
            "PATH": env_path,
            "K8SNOTES_KIND_IMAGE": image,
            "K8SNOTES_PRELOAD_IMAGES": " ".join(preload),
            "K8SNOTES_CREATED_CLUSTERS": str(self.created),
            "K8SNOTES_URL_MAP": str(url_map),
        }
        # What a kind cluster offers (the kind backend's declaration): Docker and kind
        # were made ready above; the API, real Pods, metrics and an ingress controller
        # come from the set-up pages the reader runs (Prepare a cluster). Nothing is
        # probed, because no cluster runs yet, and nothing is skipped for it: a block
        # that needs one of them fails when a set-up page did not provide it.
        from k8snotes.cluster.kind import CAPABILITIES

        capabilities = set(CAPABILITIES)
        return capabilities, env

    def release(self) -> None:
        """Delete the kind clusters and the containers the pages made and left.

        What was deleted is in :attr:`left`. Raises when something could not
        be deleted; the reader's folder goes whatever happened. (The machine,
        when there is one, is stopped by its own release on the run's stack.)
        """
        try:
            if not self.created.exists():
                return
            # A node whose `docker run` was in flight when an interrupt killed kind is
            # created by the engine a moment later: sweep until a pass, some seconds after
            # the one before it, finds nothing.
            for sweep in range(RELEASE_SWEEPS):
                problems = self._sweep()
                if problems:
                    raise RuntimeError("; ".join(problems))
                if sweep and not self._found:
                    return
                time.sleep(RELEASE_SETTLE)
            raise RuntimeError(
                f"the pages' containers kept coming back after {RELEASE_SWEEPS} sweeps"
            )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _sweep(self) -> list[str]:
        """One pass of :meth:`release`: what could not be deleted (:attr:`_found`: anything found)."""
        from k8snotes.provision import binaries

        self._found = False
        kind = binaries.KIND.bin_dir / "kind"
        running = subprocess.run(
            [str(kind), "get", "clusters"], capture_output=True, text=True, timeout=60
        ).stdout.split()
        problems = []
        for name in sorted(set(self.created.read_text().split())):
            if name in running:
                self._found = True
                deleted = subprocess.run(
                    [str(kind), "delete", "cluster", "--name", name],
                    capture_output=True,
                    text=True,
                    timeout=300,
                    env={**os.environ, "KUBECONFIG": str(self.home / ".kube" / "config")},
                )
                if deleted.returncode != 0:
                    problems.append(f"kind delete cluster --name {name}: {deleted.stderr}")
                self.left.append(f"kind cluster {name}")
        for before, listing, remove, what in (
            (self.containers_before, ("ps", "--all", "--quiet", "--no-trunc"),
             ("rm", "--force", "--volumes"), "container"),
            (self.networks_before, ("network", "ls", "--quiet", "--no-trunc"),
             ("network", "rm"), "network"),
        ):  # fmt: skip
            if before is None:
                continue
            new = sorted(set(_docker_list(*listing)) - before)
            if not new:
                continue
            self._found = True
            removed = subprocess.run(
                ["docker", *remove, *new], capture_output=True, text=True, timeout=120
            )
            if removed.returncode != 0:
                problems.append(f"docker {' '.join(remove)}: {removed.stderr.strip()}")
            if what == "container":  # a network a page's cluster made is expected
                self.left.append(f"{len(new)} container(s)")
        return problems


def _docker_list(*args: str) -> list[str]:
    """What ``docker ARGS`` lists (IDs) on the engine this process talks to."""
    listed = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60)
    if listed.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {listed.stderr.strip()}")
    return listed.stdout.split()
