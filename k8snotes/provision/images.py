"""Container images built locally (nothing can be pulled here) and image archives.

Every image is built with the legacy builder from a build context generated in
a temporary folder: a Dockerfile plus the files it copies. No ``# syntax=``
line and no ``FROM`` of an image that is not already present.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

from k8snotes import paths
from k8snotes.provision.docker import TRANSFER_TIMEOUT, DockerError, docker

Content = str | bytes | Path
"""A file of a build context: text, bytes, or a file to copy (mode kept)."""


def qualify(image: str) -> str:
    """The fully qualified form of an image name, as containerd and kind spell it.

    ``kindest/node:v1`` -> ``docker.io/kindest/node:v1``; ``debian`` ->
    ``docker.io/library/debian``; names with a registry host are unchanged.
    """
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return image
    if not rest:
        return f"docker.io/library/{image}"
    return f"docker.io/{image}"


def split_tag(image: str) -> tuple[str, str]:
    """``repo:tag`` -> (``repo``, ``tag``); the tag defaults to ``latest``."""
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon + 1 :]
    return image, "latest"


def build_image(
    tag: str,
    dockerfile: str,
    files: Mapping[str, Content] | None = None,
    *,
    extra_tags: tuple[str, ...] = (),
) -> str:
    """Build ``tag`` from ``dockerfile`` and ``files`` (paths relative to the context).

    Returns:
        ``tag``.
    """
    parent = paths.cache_dir() / "tmp"
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="context-", dir=parent) as tmp:
        context = Path(tmp)
        (context / "Dockerfile").write_text(dockerfile)
        for name, content in (files or {}).items():
            dest = context / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, Path):
                if content.is_dir():
                    shutil.copytree(content, dest, symlinks=True)
                else:
                    shutil.copy2(content, dest)
            elif isinstance(content, bytes):
                dest.write_bytes(content)
            else:
                dest.write_text(content)
        args = ["build", "--force-rm", "-t", tag]
        for extra in extra_tags:
            args += ["-t", extra]
        env = {**os.environ, "DOCKER_BUILDKIT": "0"}
        proc = subprocess.run(
            ["docker", *args, str(context)], timeout=1800, capture_output=True, text=True, env=env
        )
        if proc.returncode != 0:
            raise DockerError(
                f"docker build {tag} failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}"
            )
    return tag


def save(images: list[str], dest: Path) -> Path:
    """``docker save`` several images into one archive."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    docker("save", "-o", str(dest), *images, timeout=TRANSFER_TIMEOUT)
    return dest


def repositories(manifest: list[dict[str, object]]) -> dict[str, dict[str, str]]:
    """The legacy ``repositories`` map of a docker archive, with fully qualified names.

    Args:
        manifest: The parsed ``manifest.json`` of a ``docker save`` archive.

    Returns:
        ``{repo: {tag: image id}}`` for every RepoTag, names qualified with :func:`qualify`.
    """
    repos: dict[str, dict[str, str]] = {}
    for entry in manifest:
        config = str(entry.get("Config", ""))
        image_id = Path(config).name.removesuffix(".json")
        image_id = image_id.removeprefix("sha256:")
        tags = entry.get("RepoTags") or []
        for tag in tags if isinstance(tags, list) else []:
            repo, version = split_tag(qualify(str(tag)))
            repos.setdefault(repo, {})[version] = image_id
    return repos


def rewrite_archive(src: Path, dest: Path) -> Path:
    """Copy a ``docker save`` archive so that kind's node-image builder sees every image in it.

    kind reads only the first metadata entry of an archive (``repositories``
    or ``manifest.json``), and compares fully qualified names. The copy starts
    with a ``repositories`` entry listing every tag of ``manifest.json``,
    qualified; the other entries follow unchanged.
    """
    with tarfile.open(src) as tin:
        member = tin.getmember("manifest.json")
        handle = tin.extractfile(member)
        if handle is None:
            raise DockerError(f"{src}: no manifest.json")
        manifest = json.loads(handle.read())
        data = json.dumps(repositories(manifest)).encode()
        part = dest.with_name(dest.name + ".part")
        with tarfile.open(part, "w") as tout:
            info = tarfile.TarInfo("repositories")
            info.size = len(data)
            info.mode = 0o644
            tout.addfile(info, io.BytesIO(data))
            for m in tin.getmembers():
                if m.name == "repositories":
                    continue
                tout.addfile(m, tin.extractfile(m) if m.isfile() else None)
    part.rename(dest)
    return dest


def labels(image: str) -> dict[str, str]:
    """The labels of a local image (empty when it is absent or has none)."""
    proc = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", image],
        timeout=60,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        return {}
    return json.loads(proc.stdout.strip() or "null") or {}


def remove(*images: str) -> None:
    """Remove local images, ignoring those that are absent."""
    if images:
        subprocess.run(["docker", "image", "rm", "-f", *images], timeout=300, capture_output=True)
