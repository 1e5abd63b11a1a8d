"""What a page's shell gets besides the cluster: Docker, kind, the site's images.

This is where the runner meets the provisioning code: it starts a Docker
engine on demand (and stops it at the end if this run started it), builds
the images the site's pages run, and loads them into the cluster.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from filelock import FileLock

from k8snotes import paths
from k8snotes.cluster.base import Capability, ClusterInfo
from k8snotes.progress import step

SITE_IMAGES: dict[str, tuple[str, dict[str, str]]] = {
    "sample-app:1.0.0": ("snippets/app", {}),
    "sample-app:2.0.0": ("snippets/app", {"APP_VERSION": "2.0.0"}),
}
"""Images the pages use, built from ``snippets/`` before pages run: tag -> (folder, build args)."""

_ENGINE_MARK = "docker-started-by-run"


def _marker() -> Path:
    return paths.state_dir() / _ENGINE_MARK


def ensure_docker(run_id: str) -> bool:
    """Make a Docker engine answer (starting one if needed); False where none can run.

    When this run starts the engine, it says so in the state folder, so that
    :func:`release_environment` stops it at the end and leaves any other alone.
    """
    try:
        from k8snotes.provision import docker
    except ImportError:
        return False
    lock = paths.state_dir() / "locks" / "docker-run.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(lock)):
        if docker.engine_running():
            return True
        try:
            docker.ensure_engine()
            docker.ensure_base_image()
        except Exception as exc:
            (paths.state_dir() / "docker-unavailable").write_text(str(exc))
            return False
        _marker().write_text(run_id)
        return True


def release_environment(run_id: str) -> None:
    """Stop the Docker engine if this run started it and no kind node still runs on it."""
    marker = _marker()
    if not (marker.exists() and marker.read_text().strip() == run_id):
        return
    from k8snotes.provision import docker

    nodes = subprocess.run(
        ["docker", "ps", "-q", "--filter", "label=io.x-k8s.kind.cluster"],
        capture_output=True,
        text=True,
    ).stdout.split()
    if nodes:
        return
    docker.stop_engine()
    marker.unlink(missing_ok=True)


def build_site_images(root: Path) -> list[str]:
    """``docker build`` every image of :data:`SITE_IMAGES` (the layer cache makes repeats quick)."""
    built = []
    for tag, (folder, build_args) in SITE_IMAGES.items():
        args = ["docker", "build", "-q", "-t", tag]
        for key, value in build_args.items():
            args += ["--build-arg", f"{key}={value}"]
        with step(f"building {tag}"):
            subprocess.run([*args, str(root / folder)], check=True, capture_output=True, text=True)
        built.append(tag)
    return built


def prepare_cluster(info: ClusterInfo) -> None:
    """Run once when the suite's cluster comes up: load the site's images into it."""
    if not info.real_pods:
        return
    from k8snotes.cluster.registry import get_backend

    root = paths.project_root()
    if not (root / "snippets" / "app").exists():
        return
    backend = get_backend(info.backend)
    for tag in build_site_images(root):
        with step(f"loading {tag} into {info.name}"):
            backend.load_image(tag)


def page_environment(info: ClusterInfo) -> tuple[set[str], dict[str, str]]:
    """Capabilities a page can count on, and the environment its shell gets."""
    run_id = os.environ.get("K8SNOTES_RUN_ID", "manual")
    capabilities = set(info.capabilities)
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


def page_prelude(info: ClusterInfo) -> str:
    """Shell code run before a page's first block.

    Defines ``kind`` as a function that passes ``kind create cluster`` through
    :mod:`k8snotes.runner.kindshim` (the one change made to a page's commands,
    reported) and every other kind command through unchanged.
    """
    return r"""
kind() {
  if [ "$1 $2" = "create cluster" ]; then
    local __args
    mapfile -t __args < <(K8SNOTES_SHIM_DIR="$__K8SNOTES_META" python3 -m k8snotes.runner.kindshim "$@") || return
    command kind "${__args[@]}"
    return
  fi
  command kind "$@"
}
"""
