"""Reader mode without a cluster: page order, front matter, the leak check, clean-up after failure."""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs

import pytest

from k8snotes.check import inventory
from k8snotes.check.inventory import Inventory, new_lines
from k8snotes.markdown import parse_page
from k8snotes.markdown.blocks import PageError
from k8snotes.markdown.frontmatter import page_settings
from k8snotes.markdown.includes import Includes
from k8snotes.needs import Needs
from k8snotes.runner.kindshim import cluster_name
from k8snotes.runner.session import BlockFailure, BlockSkipped, PageSession
from k8snotes.runner.targets import ReaderTarget
from k8snotes.runner.urlshim import rewrite


def test_pages_run_after_what_they_need_and_dependents_follow_their_need() -> None:
    needs = {
        "concepts/a.md": ["concepts/prepare.md"],
        "concepts/prepare.md": [],
        "concepts/z.md": ["concepts/prepare.md"],
        "index.md": [],
        "tasks/1.md": [],
        "tasks/2.md": ["tasks/1.md"],
        "tasks/3.md": ["tasks/2.md"],
    }
    assert Needs(needs).order() == [
        "concepts/prepare.md",
        "concepts/a.md",
        "concepts/z.md",
        "index.md",
        "tasks/1.md",
        "tasks/2.md",
        "tasks/3.md",
    ]


def test_a_page_needing_two_pages_waits_for_both() -> None:
    needs = {"a.md": [], "b.md": [], "c.md": ["a.md", "b.md"]}
    order = Needs(needs).order()
    assert order.index("c.md") > max(order.index("a.md"), order.index("b.md"))


def test_front_matter_needs_and_keeps(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text("---\nneeds: tasks/one.md\nkeeps: ['docker image x:*']\n---\n# P\n")
    settings = page_settings(page)
    assert settings.needs == ["tasks/one.md"] and settings.keeps == ["docker image x:*"]
    page.write_text("---\nneeds: {a: 1}\n---\n# P\n")
    with pytest.raises(PageError, match="must be a list of strings"):
        page_settings(page)


def test_new_lines_are_leaks_unless_kept() -> None:
    before = Inventory(frozenset({"docker image a:1", "kube v1 Pod default/old"}), "uid-1")
    after = Inventory(
        frozenset({"docker image a:1", "docker image b:1", "kube v1 Pod default/web"}), "uid-1"
    )
    assert new_lines(before, after) == ["docker image b:1", "kube v1 Pod default/web"]
    assert new_lines(before, after, ["docker image b:*"]) == ["kube v1 Pod default/web"]


def test_a_cluster_the_page_made_counts_by_its_containers_not_its_objects() -> None:
    before = Inventory(frozenset(), "")
    after = Inventory(
        frozenset({"docker container kind-control-plane", "kube v1 Namespace kube-system"}), "u"
    )
    assert new_lines(before, after) == ["docker container kind-control-plane"]


class FakeApiServer(ThreadingHTTPServer):
    """Just enough of a Kubernetes API for the inventory's own tests: discovery and lists."""

    failing: set[str]
    requests: list[tuple[str, str]]
    objects: ClassVar[dict[str, list[dict[str, str]]]] = {
        "/api/v1/pods": [{"name": f"web-{i}", "namespace": "default"} for i in range(3)],
        "/api/v1/events": [{"name": "e", "namespace": "default"}],
        "/api/v1/namespaces": [{"name": "default"}, {"name": "kube-system"}],
        "/apis/apps/v1/deployments": [{"name": "web", "namespace": "default"}],
        "/apis/example.com/v2/widgets": [{"name": "w", "namespace": "team"}],
        "/apis/metrics.k8s.io/v1beta1/nodes": [{"name": "node-1"}],
    }


def _resource(plural: str, kind: str, verbs: tuple[str, ...] = ("get", "list")) -> dict:
    return {"resource": plural, "responseKind": {"group": "", "version": "", "kind": kind},
            "scope": "Namespaced", "verbs": list(verbs)}  # fmt: skip


DISCOVERY = {
    "/api": [("", [("v1", [_resource("pods", "Pod"), _resource("events", "Event"),
                           _resource("namespaces", "Namespace"),
                           _resource("bindings", "Binding", ("create",))])])],
    "/apis": [
        ("apps", [("v1", [_resource("deployments", "Deployment")])]),
        ("example.com", [("v2", [_resource("widgets", "Widget")]),
                         ("v1", [_resource("widgets", "Widget")])]),
        ("metrics.k8s.io", [("v1beta1", [_resource("nodes", "NodeMetrics")])]),
    ],
}  # fmt: skip


class FakeApiHandler(BaseHTTPRequestHandler):
    server: FakeApiServer

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        self.server.requests.append((self.path, self.headers.get("Accept", "")))
        params = parse_qs(query)
        if path == "/api/v1/namespaces/kube-system":
            body: object = {"metadata": {"name": "kube-system", "uid": "uid-1"}}
        elif path in DISCOVERY:
            body = {"kind": "APIGroupDiscoveryList", "items": [
                {"metadata": {"name": group}, "versions": [
                    {"version": v, "resources": resources} for v, resources in versions]}
                for group, versions in DISCOVERY[path]]}  # fmt: skip
        elif path in self.server.failing:
            self.send_response(500)
            self.end_headers()
            return
        elif path in self.server.objects:
            items = [{"metadata": m} for m in self.server.objects[path]]
            # pages of two, the token needing URL encoding
            start = int(params["continue"][0].removeprefix("a/b+=")) if "continue" in params else 0
            more = {"continue": f"a/b+={start + 2}"} if start + 2 < len(items) else {}
            body = {"kind": "PartialObjectMetadataList", "metadata": more,
                    "items": items[start:start + 2] or None}  # fmt: skip
        else:
            self.send_response(404)
            self.end_headers()
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def fake_api(tmp_path: Path) -> Iterator[tuple[FakeApiServer, dict[str, str]]]:
    server = FakeApiServer(("127.0.0.1", 0), FakeApiHandler)
    server.failing, server.requests = set(), []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    (home / ".kube" / "config").write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
        f"clusters: [{{name: fake, cluster: {{server: 'http://127.0.0.1:{server.server_port}'}}}}]\n"
        "users: [{name: fake, user: {token: t}}]\n"
        "contexts: [{name: fake, context: {cluster: fake, user: fake}}]\n"
    )
    try:
        yield server, {"HOME": str(home), "PATH": "/nonexistent"}
    finally:
        server.shutdown()
        server.server_close()


def test_the_inventory_lists_every_listable_type_as_metadata(
    fake_api: tuple[FakeApiServer, dict[str, str]],
) -> None:
    server, env = fake_api
    uid, lines = inventory.kube_lines(env)
    assert uid == "uid-1"
    assert lines == {
        "kube v1 Pod default/web-0",
        "kube v1 Pod default/web-1",
        "kube v1 Pod default/web-2",  # on a second page of the list
        "kube v1 Namespace default",
        "kube v1 Namespace kube-system",
        "kube apps/v1 Deployment default/web",
        "kube example.com/v2 Widget team/w",  # the preferred version only
    }  # events and metrics readings are not listed; bindings cannot be
    lists = [(path, accept) for path, accept in server.requests if "limit=" in path]
    assert all("as=PartialObjectMetadataList" in accept for _, accept in lists)
    assert "/api/v1/pods?limit=500&continue=a%2Fb%2B%3D2" in [path for path, _ in lists]


def test_a_listing_that_fails_after_the_page_is_a_leak(
    fake_api: tuple[FakeApiServer, dict[str, str]],
) -> None:
    server, env = fake_api
    before = inventory.take(env)
    server.failing.add("/apis/apps/v1/deployments")
    server.requests.clear()
    [failed] = new_lines(before, inventory.take(env))
    assert (
        failed
        == "could not look: /apis/apps/v1/deployments: GET /apis/apps/v1/deployments?limit=500: HTTP 500 b''"
    )
    assert [p for p, _ in server.requests].count("/apis/apps/v1/deployments?limit=500") == 2


UNREACHABLE_KUBECONFIG = (
    "apiVersion: v1\nkind: Config\ncurrent-context: gone\n"
    "clusters: [{name: gone, cluster: {server: 'http://127.0.0.1:9'}}]\n"
    "users: [{name: gone, user: {}}]\n"
    "contexts: [{name: gone, context: {cluster: gone, user: gone}}]\n"
)
"""A kubeconfig whose current context names a server nothing listens on."""


def test_no_kubeconfig_or_no_current_context_is_no_inventory(tmp_path: Path) -> None:
    assert inventory.kube_lines({"HOME": str(tmp_path)}) == ("", set())
    config = tmp_path / "config"
    config.write_text(  # what kind delete cluster leaves: no current context
        "apiVersion: v1\nkind: Config\ncurrent-context: ''\nclusters: []\nusers: []\ncontexts: []\n"
    )
    assert inventory.kube_lines({"KUBECONFIG": str(config)}) == ("", set())


def test_an_api_server_that_does_not_answer_fails_the_page(
    tmp_path: Path, fake_api: tuple[FakeApiServer, dict[str, str]]
) -> None:
    """Fail closed: a cluster the check cannot reach after the page is not a clean cluster."""
    _, env = fake_api
    before = inventory.take(env)
    config = tmp_path / "config"
    config.write_text(UNREACHABLE_KUBECONFIG)
    after = inventory.take({**env, "KUBECONFIG": str(config)})
    [blind] = new_lines(before, after)
    assert blind.startswith("could not look: the API server of the current context: ")
    # Blind before the page: the page fails too, even when the same line comes after it.
    assert new_lines(after, after) == [f"before the page, {blind}", blind]


def test_a_docker_listing_that_fails_is_a_line_of_its_own(tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "docker"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'permission denied on the socket' >&2\nexit 1\n")
    fake.chmod(0o755)
    lines = inventory.docker_lines({"PATH": str(fake.parent)})
    assert len(lines) == 4
    assert all(line.startswith("could not look: docker ") for line in lines), lines
    # An engine that is not running is a state to compare, not blindness.
    fake.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon at x' >&2\nexit 1\n")
    assert inventory.docker_lines({"PATH": str(fake.parent)}) == {"docker engine not running"}


def test_url_shim_and_kind_shim_helpers() -> None:
    args, notes = rewrite(["apply", "--filename=https://h/a.yaml"], {"https://h/a.yaml": "/c/a"})
    assert args == ["apply", "--filename=/c/a"] and len(notes) == 1
    assert rewrite(["apply", "-f", "https://other"], {}) == (["apply", "-f", "https://other"], [])
    assert cluster_name(["create", "cluster"]) == "kind"
    assert cluster_name(["create", "cluster", "--name=dev"]) == "dev"
    assert cluster_name(["create", "cluster", "--name", "x"]) == "x"


@pytest.fixture
def reader_page(tmp_path: Path) -> Path:
    (tmp_path / "mkdocs.yml").write_text("site_name: t\n")
    (tmp_path / "docs").mkdir()
    return tmp_path


def _session(root: Path, text: str) -> tuple[PageSession, list]:
    page = root / "docs" / "page.md"
    page.write_text(text)
    blocks = parse_page(page, Includes(root / "mkdocs.yml"), root)
    session = PageSession(Path("docs/page.md"), root, ReaderTarget(root / "home"), {"api"}, {}, "")
    return session, blocks


def test_reader_page_starts_in_an_empty_folder_with_the_readers_home(reader_page: Path) -> None:
    session, blocks = _session(
        reader_page,
        '# P\n\n```console\n$ ls -A | wc -l\n0\n$ echo "$HOME"; echo "${KUBECONFIG:-none}"\n'
        f"{reader_page}/home\nnone\n```\n",
    )
    try:
        session.run_block(blocks[0])
    finally:
        session.close()


def test_clean_up_blocks_run_after_a_failure(reader_page: Path) -> None:
    session, blocks = _session(
        reader_page,
        "# P\n\n```bash\nfalse\n```\n\n```bash\necho skipped\n```\n\n"
        "## Clean up\n\n```bash\necho cleaned > ~/cleaned\n```\n",
    )
    try:
        with pytest.raises(BlockFailure):
            session.run_block(blocks[0])
        with pytest.raises(BlockSkipped, match="an earlier block of this page failed"):
            session.run_block(blocks[1])
        session.run_block(blocks[2])
        assert (reader_page / "home" / "cleaned").read_text() == "cleaned\n"
    finally:
        session.close()


def test_a_process_the_page_left_running_is_a_leak(reader_page: Path) -> None:
    seconds = 300 + uuid.uuid4().int % 600
    session, blocks = _session(reader_page, f"# P\n\n```bash\nsetsid sleep {seconds} &\n```\n")
    try:
        session.run_block(blocks[0])
    finally:
        session.close()
    try:
        left = session.leaks([], settle=0)
        assert any(f"sleep {seconds}" in line for line in left), left
    finally:
        subprocess.run(["pkill", "-f", f"sleep {seconds}"], check=False)
    assert session.leaks([], settle=0) == []


def test_a_capability_the_backend_declares_but_the_probe_cannot_find_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fail closed: never turn what the cluster should offer into skipped blocks."""
    from k8snotes.cluster.base import ClusterInfo
    from k8snotes.runner import environment

    config = tmp_path / "config"
    config.write_text(UNREACHABLE_KUBECONFIG)
    monkeypatch.setattr(environment, "DECLARED_WAIT", 0.0)
    info = ClusterInfo("gone", "kind", str(config), "gone", ["api", "pods", "metrics"], True)
    with pytest.raises(RuntimeError, match="should offer api, metrics, pods, but the probe"):
        environment.page_environment(info)
