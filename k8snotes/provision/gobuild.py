"""Building binaries from Go module sources through the module proxy.

Each build gets a throw-away module under the project cache; the Go build and
module caches are shared by every build (``<cache>/go/``), so client-go and
apimachinery compile once for all binaries. Both caches are content-addressed:
pinned versions stay reproducible. A user's own Go caches are never touched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from k8snotes import paths, versions


class GoBuildError(RuntimeError):
    """A ``go`` command failed; the message holds the command and its output."""


class GoWorkspace:
    """A temporary Go module with its own caches, deleted on exit.

    Use it through :func:`workspace`.
    """

    def __init__(self, root: Path, shared: Path | None = None) -> None:
        self.root = root
        shared = shared or go_cache_dir()
        self.module = root / "src"
        self.module.mkdir(parents=True)
        self.env = {
            **os.environ,
            "GOPATH": str(shared / "path"),
            "GOMODCACHE": str(shared / "mod"),
            "GOCACHE": str(shared / "build"),
            "GOFLAGS": "-buildvcs=false -modcacherw",
            "GOPROXY": os.environ.get("GOPROXY", versions.GO_PROXY),
            "CGO_ENABLED": "0",
            "GOTOOLCHAIN": os.environ.get("GOTOOLCHAIN", "local"),
        }

    def go(self, *args: str, cwd: Path | None = None) -> str:
        """Run ``go ARGS`` in the module and return its stdout."""
        proc = subprocess.run(
            ["go", *args],
            timeout=3600,
            cwd=cwd or self.module,
            env=self.env,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise GoBuildError(
                f"go {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
            )
        return proc.stdout

    def init(self, name: str = "k8snotes.local/build") -> None:
        """Create the ``go.mod`` of the build module."""
        self.go("mod", "init", name)

    def download_json(self, module: str, version: str) -> dict[str, str]:
        """``go mod download -json MODULE@VERSION``: paths of its zip, dir and go.mod."""
        return json.loads(self.go("mod", "download", "-json", f"{module}@{version}"))

    def build(
        self, packages: Sequence[str], out_dir: Path, ldflags: str = "", tags: str = ""
    ) -> None:
        """``go build`` each package into ``out_dir`` (static, trimmed, stripped)."""
        out_dir.mkdir(parents=True, exist_ok=True)
        args = ["build", "-trimpath", "-o", str(out_dir) + "/"]
        if tags:
            args += ["-tags", tags]
        args += ["-ldflags", f"-s -w {ldflags}".strip()]
        self.go(*args, *packages)


def go_cache_dir() -> Path:
    """The Go caches shared by every build: ``<cache>/go/{build,mod,path}``."""
    return paths.cache_dir() / "go"


@contextmanager
def workspace(parent: Path) -> Iterator[GoWorkspace]:
    """A :class:`GoWorkspace` under ``parent``, removed with its caches afterwards."""
    parent.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="gobuild-", dir=parent))
    try:
        yield GoWorkspace(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


_STAGING = re.compile(r"^\s*(k8s\.io/[\w.-]+)\s*=>\s*\./staging/src/\1\s*$", re.M)


def staging_replaces(kubernetes_go_mod: str, staging_version: str) -> dict[str, str]:
    """The ``replace`` block that requiring ``k8s.io/kubernetes`` needs.

    ``k8s.io/kubernetes`` replaces each staging module with a folder of its own
    repository (``k8s.io/api => ./staging/src/k8s.io/api``), which a module
    that requires it cannot see. Read those lines from its own ``go.mod`` and
    map each module to its published version instead.
    """
    found = {
        m.group(1): f"{m.group(1)} {staging_version}" for m in _STAGING.finditer(kubernetes_go_mod)
    }
    if not found:
        raise GoBuildError("no staging replaces found in k8s.io/kubernetes go.mod")
    return found


def version_ldflags(git_version: str, packages: Sequence[str]) -> str:
    """``-X`` flags stamping a Kubernetes-style version into each version package.

    Without them every binary reports ``v0.0.0-master``.
    """
    major, minor = git_version.lstrip("v").split(".")[:2]
    fields = {
        "gitVersion": git_version,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
    }
    return " ".join(f"-X {pkg}.{key}={value}" for pkg in packages for key, value in fields.items())
