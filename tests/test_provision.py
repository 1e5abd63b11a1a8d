"""Provisioning without a network surprise: refused or missing downloads build instead; locks give up."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from k8snotes.locks import held
from k8snotes.provision import binaries
from k8snotes.provision.binaries import BinaryGroup


class _Release(http.server.BaseHTTPRequestHandler):
    """A release host: /ok/tool and /ok/tool.sha256 exist; /forbidden/* is 403; the rest 404."""

    body = b"#!/bin/sh\necho released\n"

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        if self.path.startswith("/forbidden/"):
            self.send_error(403)
        elif self.path == "/ok/tool":
            self._send(self.body)
        elif self.path in ("/ok/tool.sha256", "/bad/tool.sha256"):
            digest = hashlib.sha256(self.body if self.path.startswith("/ok") else b"x").hexdigest()
            self._send(f"{digest}  tool\n".encode())
        elif self.path == "/bad/tool":
            self._send(self.body)
        else:
            self.send_error(404)

    def _send(self, data: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def release_host() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Release)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _group(base: str, folder: str, sha: bool = True) -> BinaryGroup:
    def build(ws: object, out: Path, root: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "tool").write_text("#!/bin/sh\necho built\n")

    url = f"{base}/{folder}/tool"
    return BinaryGroup(
        "tool", "v1", ("tool",), build, {"tool": (url, url + ".sha256" if sha else "")}
    )


@pytest.mark.parametrize(
    ("folder", "sha", "source"),
    [
        ("ok", True, "release"),
        ("forbidden", True, "go-source"),  # 403
        ("missing", True, "go-source"),  # 404
        ("bad", True, "go-source"),  # checksum mismatch
        ("ok", False, "go-source"),  # no published checksum: never downloaded
    ],
)
def test_a_release_is_used_only_when_verified_else_built(
    release_host: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    folder: str,
    sha: bool,
    source: str,
) -> None:
    monkeypatch.setenv("K8SNOTES_CACHE", str(tmp_path))
    group = _group(release_host, folder, sha)
    monkeypatch.setattr(binaries, "workspace", lambda parent: _NoWorkspace())
    binaries.ensure(group)
    assert group.is_complete()
    assert (group.root / "complete.json").read_text().count(f'"source": "{source}"') == 1
    word = "released" if source == "release" else "built"
    assert word in group.path("tool").read_text()
    assert not (group.root / "bin.partial").exists()


class _NoWorkspace:
    def __enter__(self) -> object:
        return object()

    def __exit__(self, *exc: object) -> None:
        pass


def test_a_lock_held_elsewhere_times_out_with_a_message(tmp_path: Path) -> None:
    path = tmp_path / "build.lock"
    with held(path, "the tool build", 1):
        with pytest.raises(TimeoutError, match=r"gave up after 0 s waiting for the tool build"):
            with held(path, "the tool build", 0.2, thread_local=False):
                pass
