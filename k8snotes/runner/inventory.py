"""The leak check: what exists before a page and after its clean-up.

An inventory is a set of lines, one per thing a page could leave behind:

- ``kube <apiVersion> <Kind> <namespace>/<name>`` (or ``<name>`` when
  cluster-scoped): every object of every resource type ``kubectl
  api-resources --verbs=list`` names, in the current context's cluster;
- ``docker container NAME``, ``docker image REPO:TAG``, ``docker network
  NAME``, ``docker volume NAME``;
- ``process PID COMMAND``: a process still running that the page's shell
  started (found by the marker every page shell carries in its environment),
  with the ports it listens on.

A page's front matter ``keeps`` lists patterns (``fnmatch``, e.g. ``docker
image sample-app:*``) of what it leaves on purpose. Anything else new after the
page is a leak. Objects a clean-up deleted can take a moment to go (Pods of a
deleted Deployment, a released volume): :func:`leaks` polls until they do.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

MARKER = "K8SNOTES_PAGE_ID"
"""Environment variable every page shell carries; its processes are found by it."""

IGNORED_RESOURCES = {"events", "events.events.k8s.io"}
"""Types whose objects come and go on their own (a page's events are not a leak)."""

IGNORED_GROUPS = {"metrics.k8s.io"}
"""API groups whose objects are readings, not things a page made."""


@dataclass(frozen=True)
class Inventory:
    """What exists at one moment."""

    lines: frozenset[str]
    cluster: str = ""
    """The cluster the ``kube`` lines come from (its ``kube-system`` UID), ``""`` if none."""


def _run(args: list[str], env: Mapping[str, str], timeout: float = 60) -> str:
    try:
        proc = subprocess.run(
            args, env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout if proc.returncode == 0 else ""


def kube_lines(env: Mapping[str, str]) -> tuple[str, set[str]]:
    """The cluster's identity and one line per object, through the shell's own kubeconfig."""
    if not shutil.which("kubectl", path=env.get("PATH")):
        return "", set()
    uid = _run(
        ["kubectl", "get", "namespace", "kube-system", "-o", "jsonpath={.metadata.uid}",
         "--request-timeout=10s"],
        env, timeout=20,
    ).strip()  # fmt: skip
    if not uid:
        return "", set()
    types = [
        t
        for t in _run(["kubectl", "api-resources", "--verbs=list", "-o", "name"], env).split()
        if t not in IGNORED_RESOURCES and t.partition(".")[2] not in IGNORED_GROUPS
    ]
    if not types:
        return uid, set()
    out = _run(
        ["kubectl", "get", ",".join(types), "--all-namespaces", "--no-headers",
         "--ignore-not-found", "-o",
         "custom-columns=V:.apiVersion,K:.kind,NS:.metadata.namespace,N:.metadata.name"],
        env, timeout=120,
    )  # fmt: skip
    lines = set()
    for row in out.splitlines():
        parts = row.split()
        if len(parts) != 4:
            continue
        version, kind, namespace, name = parts
        where = name if namespace == "<none>" else f"{namespace}/{name}"
        lines.add(f"kube {version} {kind} {where}")
    return uid, lines


def docker_lines(env: Mapping[str, str]) -> set[str]:
    """Containers, images, networks and volumes of the Docker engine the shell talks to."""
    if not shutil.which("docker", path=env.get("PATH")):
        return set()
    lines = set()
    for what, args in (
        ("container", ["docker", "ps", "-a", "--format", "{{.Names}}"]),
        ("image", ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"]),
        ("network", ["docker", "network", "ls", "--format", "{{.Name}}"]),
        # Volumes no container uses: one that a container uses (kind's node keeps /var in
        # an anonymous volume) goes with its container, which the inventory lists.
        (
            "volume",
            ["docker", "volume", "ls", "--filter", "dangling=true", "--format", "{{.Name}}"],
        ),
    ):
        lines |= {f"docker {what} {name}" for name in _run(args, env).split()}
    lines.discard("docker image <none>:<none>")
    return lines


def _listening_ports() -> dict[str, set[int]]:
    """Socket inode -> port, for every TCP socket listening on this host."""
    ports: dict[str, set[int]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[3] == "0A":  # LISTEN
                ports.setdefault(fields[9], set()).add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def process_lines(page_id: str) -> set[str]:
    """Processes whose environment carries ``K8SNOTES_PAGE_ID=page_id``, with their ports."""
    needle = f"{MARKER}={page_id}".encode()
    listening = _listening_ports()
    lines = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            inodes = {
                os.readlink(fd).removeprefix("socket:[").rstrip("]")
                for fd in (entry / "fd").iterdir()
                if os.readlink(fd).startswith("socket:[")
            }
        except OSError:
            continue
        if state == "Z":
            continue
        ports = sorted(p for inode in inodes for p in listening.get(inode, ()))
        listens = f" (listening on {', '.join(map(str, ports))})" if ports else ""
        lines.add(f"process {entry.name} {command[:120]}{listens}")
    return lines


def take(env: Mapping[str, str], page_id: str = "") -> Inventory:
    """The inventory now, as the page's shell (``env``) sees the cluster and Docker."""
    cluster, kube = kube_lines(env)
    lines = kube | docker_lines(env) | (process_lines(page_id) if page_id else set())
    return Inventory(frozenset(lines), cluster)


def new_lines(before: Inventory, after: Inventory, keeps: Iterable[str] = ()) -> list[str]:
    """What ``after`` holds that ``before`` did not and no ``keeps`` pattern covers.

    When the page made the cluster itself (another cluster, or none, before),
    the cluster's own objects are not the page's doing: only its Docker
    containers are, and ``keeps`` names them.
    """
    patterns = list(keeps)
    fresh = set(after.lines - before.lines)
    if after.cluster != before.cluster:
        fresh = {line for line in fresh if not line.startswith("kube ")}
    return sorted(line for line in fresh if not any(fnmatch.fnmatchcase(line, p) for p in patterns))


def leaks(
    before: Inventory,
    env: Mapping[str, str],
    page_id: str,
    keeps: Iterable[str] = (),
    settle: float = 60.0,
) -> list[str]:
    """What the page left, after waiting up to ``settle`` seconds for deletions to finish."""
    keeps = list(keeps)
    deadline = time.monotonic() + settle
    while True:
        left = new_lines(before, take(env, page_id), keeps)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(2)
