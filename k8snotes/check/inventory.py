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

An inventory is taken before every page and at least once after it, so it is
taken side by side and as little as it needs: the cluster's objects are listed
as metadata only, several types at once, with the Kubernetes Python client (no
kubectl process per inventory), beside the Docker listings. A listing that
fails twice becomes a line of its own (``could not look: ...``), and so does
an API server the kubeconfig's current context names but that does not
answer, or a Docker listing that fails: a check that could not look fails the
page, whether or not it could look before, instead of passing it.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil

MARKER = "K8SNOTES_PAGE_ID"
"""Environment variable every page shell carries; its processes are found by it."""

IGNORED_RESOURCES = {"events", "events.events.k8s.io"}
"""Types whose objects come and go on their own (a page's events are not a leak)."""

IGNORED_GROUPS = {"metrics.k8s.io"}
"""API groups whose objects are readings, not things a page made."""

LIST_THREADS = 8
"""Types listed at once (each a request for its objects' metadata)."""

DISCOVERY = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
"""Aggregated discovery: every group's versions and resources in one response (``/api``, ``/apis``)."""

OBJECT_METADATA = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
"""A list of objects as their metadata only: all the inventory reads, a fraction of the bytes."""

POLL_SECONDS = 0.5
"""Pause between two inventories while :func:`leaks` waits for deletions to finish."""

TAKE_SECONDS = 300.0
"""The bound of one inventory: a listing not done by then is a line saying so."""

ENGINE_DOWN = "docker engine not running"
"""The line of a Docker CLI whose engine does not answer."""

BLIND = "could not look: "
"""The start of a line saying what an inventory could not see; such a line always fails a page."""


@dataclass(frozen=True)
class Inventory:
    """What exists at one moment."""

    lines: frozenset[str]
    cluster: str = ""
    """The cluster the ``kube`` lines come from (its ``kube-system`` UID), ``""`` if none."""


def _run(args: list[str], env: Mapping[str, str], timeout: float = 60) -> str:
    """``args``' output; raises :class:`RuntimeError` when the command fails or times out."""
    try:
        proc = subprocess.run(
            args, env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"{' '.join(args[:3])}: {exc}") from exc
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args[:3])}: exit {proc.returncode}: {proc.stderr.strip()[:200]}"
        )
    return proc.stdout


def _kubeconfig(env: Mapping[str, str]) -> str | None:
    """The kubeconfig the shell's kubectl reads (``$KUBECONFIG``, else ``~/.kube/config``)."""
    if value := env.get("KUBECONFIG"):
        return value
    if home := env.get("HOME"):
        path = Path(home) / ".kube" / "config"
        return str(path) if path.is_file() else None
    return None


def _client(env: Mapping[str, str]) -> Any:
    """A client of the cluster the shell's current context names, or ``None``."""
    from kubernetes import client, config

    if (kubeconfig := _kubeconfig(env)) is None:
        return None
    settings = client.Configuration()
    settings.connection_pool_maxsize = LIST_THREADS
    try:
        config.load_kube_config(
            config_file=kubeconfig, client_configuration=settings, persist_config=False
        )
    except Exception:  # no such file, no current context, an invalid kubeconfig: no cluster
        return None
    return client.ApiClient(settings)


class ApiError(RuntimeError):
    """The API server answered with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _get(api: Any, path: str, accept: str, timeout: float = 20) -> dict[str, Any]:
    """``GET path`` as JSON; raises on an error status, a refused connection or a timeout."""
    response = api.call_api(
        "GET",
        api.configuration.host + path,
        header_params={"Accept": f"{accept},application/json"},
        _request_timeout=timeout,
    )
    response.read()
    if response.status != 200:
        raise ApiError(
            response.status, f"GET {path}: HTTP {response.status} {response.data[:200]!r}"
        )
    return dict(json.loads(response.data))


@dataclass(frozen=True)
class ListableType:
    """A resource type ``kubectl api-resources --verbs=list`` shows: its preferred version."""

    path: str
    """Where its objects are listed, across namespaces: ``/apis/apps/v1/deployments``."""
    api_version: str
    kind: str


def listable_types(api: Any) -> list[ListableType]:
    """Every listable type at its preferred version, from the aggregated discovery documents."""
    types = []
    for root in ("/api", "/apis"):
        groups = _get(api, root, DISCOVERY)
        if groups.get("kind") != "APIGroupDiscoveryList":
            raise RuntimeError(f"GET {root}: no aggregated discovery (Kubernetes 1.30 or later)")
        for group in groups.get("items", []):
            name = group.get("metadata", {}).get("name", "")
            if name in IGNORED_GROUPS or not group.get("versions"):
                continue
            preferred = group["versions"][0]  # the versions come in order of preference
            version = preferred["version"]
            api_version = f"{name}/{version}" if name else version
            for resource in preferred.get("resources", []):
                plural = resource["resource"]
                qualified = f"{plural}.{name}" if name else plural
                if "list" not in resource.get("verbs", []) or qualified in IGNORED_RESOURCES:
                    continue
                kind = resource["responseKind"]["kind"]
                types.append(ListableType(f"{root}/{api_version}/{plural}", api_version, kind))
    return types


def _object_lines(api: Any, kind: ListableType) -> set[str]:
    """One line per object of ``kind``; a listing that fails twice is a line saying so."""
    lines: set[str] = set()
    cont = ""
    while True:
        query = f"?limit=500&continue={quote(cont, safe='')}" if cont else "?limit=500"
        for attempt in range(2):
            try:
                page = _get(api, kind.path + query, OBJECT_METADATA, timeout=60)
                break
            except Exception as exc:
                if isinstance(exc, ApiError) and exc.status == 404:  # its CRD was deleted
                    return lines
                if attempt:
                    why = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
                    return {f"{BLIND}{kind.path}: {why}"}
        for item in page.get("items") or []:
            meta = item.get("metadata", {})
            where = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
            lines.add(f"kube {kind.api_version} {kind.kind} {where}")
        cont = page.get("metadata", {}).get("continue", "")
        if not cont:
            return lines


def kube_lines(env: Mapping[str, str]) -> tuple[str, set[str]]:
    """The cluster's identity and one line per object, through the shell's own kubeconfig.

    Each listable type's objects are listed as metadata only, :data:`LIST_THREADS`
    at a time, with the Kubernetes Python client (no kubectl process each time).
    """
    api = _client(env)
    if api is None:
        return "", set()
    with api:
        for attempt in range(2):
            try:
                kube_system = _get(api, "/api/v1/namespaces/kube-system", "application/json", 10)
                uid = str(kube_system["metadata"]["uid"])
                break
            except Exception as exc:
                # The current context names a cluster that does not answer. (A deleted kind
                # cluster leaves no current context: _client gives None, and no line.)
                if attempt:
                    why = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
                    return "", {f"{BLIND}the API server of the current context: {why}"}
        try:
            types = listable_types(api)
        except Exception as exc:
            return uid, {f"{BLIND}discovery: {str(exc)[:200]}"}
        with ThreadPoolExecutor(LIST_THREADS) as pool:
            return uid, set().union(*pool.map(lambda kind: _object_lines(api, kind), types))


def docker_lines(env: Mapping[str, str]) -> set[str]:
    """Containers, images, networks and volumes of the Docker engine the shell talks to."""
    if not shutil.which("docker", path=env.get("PATH")):
        return set()
    listings = (
        ("container", ["docker", "ps", "-a", "--format", "{{.Names}}"]),
        ("image", ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"]),
        ("network", ["docker", "network", "ls", "--format", "{{.Name}}"]),
        # Volumes no container uses: one that a container uses (kind's node keeps /var in
        # an anonymous volume) goes with its container, which the inventory lists.
        (
            "volume",
            ["docker", "volume", "ls", "--filter", "dangling=true", "--format", "{{.Name}}"],
        ),
    )

    def listed(listing: tuple[str, list[str]]) -> set[str]:
        what, args = listing
        try:
            return {f"docker {what} {name}" for name in _run(args, env).split()}
        except RuntimeError as exc:
            if "Cannot connect to the Docker daemon" in str(exc):
                return {ENGINE_DOWN}  # a state to compare (a page that stopped it), not blindness
            return {f"{BLIND}{exc}"}

    with ThreadPoolExecutor(len(listings)) as pool:
        lines = set().union(*pool.map(listed, listings))
    lines.discard("docker image <none>:<none>")
    return lines


def process_lines(page_id: str) -> set[str]:
    """Processes whose environment carries ``K8SNOTES_PAGE_ID=page_id``, with their ports.

    Read through psutil: each process's environment, command line and state, and the
    TCP sockets it listens on (in this process's network namespace, as ``ss -tlnp``).
    A process that cannot be read (gone, or another user's) is left out.
    """
    lines = set()
    for proc in psutil.process_iter():
        if proc.pid == os.getpid():
            continue
        try:
            if proc.environ().get(MARKER) != page_id:
                continue
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            command = " ".join(proc.cmdline()).strip()
            ports = sorted(
                c.laddr.port
                for c in proc.net_connections(kind="tcp")
                if c.status == psutil.CONN_LISTEN
            )
        except psutil.Error:
            continue
        listens = f" (listening on {', '.join(map(str, ports))})" if ports else ""
        lines.add(f"process {proc.pid} {command[:120]}{listens}")
    return lines


def take(env: Mapping[str, str], page_id: str = "") -> Inventory:
    """The inventory now, as the page's shell (``env``) sees the cluster and Docker."""
    # The processes first: the listings below run with the page's environment, marker too.
    processes = process_lines(page_id) if page_id else set()
    pool = ThreadPoolExecutor(2)
    try:
        kube = pool.submit(kube_lines, env)
        docker = pool.submit(docker_lines, env)
        lines = set(processes)
        cluster = ""
        try:
            cluster, objects = kube.result(timeout=TAKE_SECONDS)
            lines |= objects
        except TimeoutError:
            lines.add(f"{BLIND}the cluster's objects: not listed in {TAKE_SECONDS:.0f} s")
        try:
            lines |= docker.result(timeout=TAKE_SECONDS)
        except TimeoutError:
            lines.add(f"{BLIND}Docker: not listed in {TAKE_SECONDS:.0f} s")
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # never join a listing past its bound
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
    found = sorted(
        line for line in fresh if not any(fnmatch.fnmatchcase(line, p) for p in patterns)
    )
    blind = sorted(
        {f"before the page, {line}" for line in before.lines if line.startswith(BLIND)}
        | {line for line in after.lines if line.startswith(BLIND)}
    )
    return blind + [line for line in found if not line.startswith(BLIND)]


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
        time.sleep(POLL_SECONDS)
