"""Fail closed (issue 25): every subprocess and every wait in ``k8snotes/`` has a bound.

An AST scan of every ``.py`` file under ``k8snotes/``; a finding names ``file:line``.
The rules:

``subprocess``
    ``subprocess.run`` / ``call`` / ``check_call`` / ``check_output`` (however imported:
    ``import subprocess as sp``, ``from subprocess import run as r``) without a
    ``timeout=`` keyword; ``timeout=None`` counts as missing. ``getoutput``,
    ``getstatusoutput``, ``os.system`` and ``os.popen`` take no timeout at all, so any
    call to them is a finding.
``wait``
    ``.wait()`` / ``.join()`` / ``.result()`` with no timeout, ``.communicate()``
    without ``timeout=``, on anything (a ``Popen``, a thread, an event, a future, a
    pexpect child...): no receiver is exempt, so there is no allowlist of names.
``docker``
    the project's ``docker(...)`` helper (``k8snotes/provision/docker.py``) called with
    ``timeout=None``; :func:`test_docker_helper_has_a_default_timeout` checks that its
    default is a number.
``popen``
    a ``subprocess.Popen`` bound to a local name that the function neither waits with a
    bound (``.wait(t)`` / ``.communicate(timeout=t)``) nor hands on (returns it, stores
    it in an attribute or a container, passes it to a call: then the receiver's waits are
    what this scan checks). ``with Popen(...) as p:`` waits without a bound on exit, so
    it needs a bounded wait inside too.
``poll-loop``
    a ``while`` loop whose body calls ``time.sleep`` and whose condition and body
    reference neither ``time.monotonic`` nor a name containing ``deadline``: a
    sleep-poll loop with no deadline. ``while True:`` loops are the usual case; a loop
    with a condition (``while not ready():``) is no more bounded, so it is checked too.
    (The body of a nested function does not count.)

A finding that is right as it is goes in :data:`ALLOWED`, with the reason; one in a
file being rewritten by someone else, in :data:`PENDING`. Run this file with
``python tests/test_bounds.py`` to list every finding, those two included.
"""

from __future__ import annotations

import ast
import inspect
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "k8snotes"

SUBPROCESS_CALLS = {
    "subprocess.run",
    "subprocess.call",
    "subprocess.check_call",
    "subprocess.check_output",
}
NEVER_BOUNDED = {"subprocess.getoutput", "subprocess.getstatusoutput", "os.system", "os.popen"}
POPEN = "subprocess.Popen"
DOCKER_HELPER = "k8snotes.provision.docker.docker"
SLEEP = "time.sleep"
MONOTONIC = "time.monotonic"

ALLOWED: dict[tuple[str, str, str], str] = {
    ("k8snotes/provision/docker.py", "_start_dockerd", "popen"): (
        "dockerd is a daemon, left running on purpose: its start is a deadline-bounded poll, "
        "its pid is recorded and stop_engine() ends it with terminate(pid, timeout)"
    ),
    ("k8snotes/runner/machines.py", "Machine.start", "popen"): (
        "a reader's machine's dockerd, a daemon left running on purpose: its start is a "
        "deadline-bounded poll, Machine.stop() ends it with docker.terminate(pid, timeout)"
    ),
    ("k8snotes/watch.py", "watch", "poll-loop"): (
        "`k8snotes watch` is interactive: it waits for the author's next save until Ctrl+C "
        "(tests pass rounds=); each run it starts is bounded (cli.py: timeout=3600)"
    ),
}
"""Findings that are right as they are: (file, enclosing function, rule) -> why."""

PENDING: set[tuple[str, str, str]] = set()
"""Offenders in files another engineer is rewriting now (issue 25): tolerated until then.

(file, enclosing function, rule), line-insensitive. Empty it as they are fixed:
:func:`test_pending_entries_are_still_offenders` fails on an entry that matches nothing.
"""


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    function: str
    rule: str
    detail: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.path, self.function, self.rule)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: [{self.rule}] {self.detail} (in {self.function})"


def _module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _aliases(tree: ast.Module, module: str, is_package: bool) -> dict[str, str]:
    """Local name -> dotted name, from every import in the file and its top-level defs."""
    names: dict[str, str] = {}
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names[statement.name] = f"{module}.{statement.name}"
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package[: len(package) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            for alias in node.names:
                names[alias.asname or alias.name] = f"{base}.{alias.name}"
    return names


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str | None:
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value, aliases)
        return f"{base}.{node.attr}" if base else None
    return None


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def _has_timeout(call: ast.Call, position: int | None = None) -> bool:
    """True when ``call`` passes a timeout that is not the literal ``None``."""
    value = _keyword(call, "timeout")
    if value is None and position is not None and len(call.args) > position:
        value = call.args[position]
    return value is not None and not _is_none(value)


def _walk_body(nodes: list[ast.stmt] | list[ast.expr]) -> Iterator[ast.AST]:
    """Every node under ``nodes``, not descending into nested functions, lambdas, classes."""
    stack: list[ast.AST] = list(nodes)
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef
            ):
                stack.append(child)


class _Scanner(ast.NodeVisitor):
    def __init__(self, path: str, aliases: dict[str, str], docker_default: bool) -> None:
        self.path = path
        self.aliases = aliases
        self.docker_default = docker_default
        self.scope: list[str] = []
        self.functions: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
        self.findings: list[Finding] = []

    def _add(self, node: ast.stmt | ast.expr, rule: str, detail: str) -> None:
        function = ".".join(self.scope) or "<module>"
        self.findings.append(Finding(self.path, node.lineno, function, rule, detail))

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.scope.append(node.name)
        self.functions.append(node)
        self.generic_visit(node)
        self.functions.pop()
        self.scope.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node: ast.Call) -> None:
        name = _dotted(node.func, self.aliases)
        source = ast.unparse(node.func)
        if name in SUBPROCESS_CALLS and not _has_timeout(node):
            self._add(node, "subprocess", f"{source}(...) without timeout=")
        elif name in NEVER_BOUNDED:
            self._add(node, "subprocess", f"{source}(...) cannot be given a timeout")
        elif name == DOCKER_HELPER:
            timeout = _keyword(node, "timeout")
            if timeout is not None and _is_none(timeout):
                self._add(node, "docker", f"{source}(...) with timeout=None")
            elif timeout is None and not self.docker_default:
                self._add(
                    node, "docker", f"{source}(...) without timeout=, and its default is None"
                )
        elif name == POPEN:
            self._check_popen(node, source)
        if isinstance(node.func, ast.Attribute):
            method = node.func.attr
            if method in ("wait", "join", "result") and not _has_timeout(node, position=0):
                self._add(node, "wait", f"{source}() without a timeout")
            elif method == "communicate" and not _has_timeout(node, position=1):
                self._add(node, "wait", f"{source}() without timeout=")
        self.generic_visit(node)

    def visit_While(self, node: ast.While) -> None:
        body = list(_walk_body(node.body))
        sleeps = any(
            isinstance(n, ast.Call) and _dotted(n.func, self.aliases) == SLEEP for n in body
        )
        if sleeps and not any(self._bounds(n) for n in [*_walk_body([node.test]), *body]):
            kind = "while True" if _is_true(node.test) else f"while {ast.unparse(node.test)}"
            self._add(node, "poll-loop", f"{kind}: sleeps with no deadline/time.monotonic check")
        self.generic_visit(node)

    def _bounds(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Name | ast.Attribute):
            if isinstance(node, ast.Attribute) and _dotted(node, self.aliases) == MONOTONIC:
                return True
            label = node.id if isinstance(node, ast.Name) else node.attr
            return "deadline" in label.lower()
        return False

    def _check_popen(self, call: ast.Call, source: str) -> None:
        if not self.functions:
            self._add(call, "popen", f"{source}(...) at module level")
            return
        function = self.functions[-1]
        parents = {
            child: parent
            for parent in _walk_body(function.body)
            for child in ast.iter_child_nodes(parent)
        }
        parent = parents.get(call)
        target: str | None = None
        in_with = False
        if isinstance(parent, ast.Assign) and len(parent.targets) == 1:
            if isinstance(parent.targets[0], ast.Name):
                target = parent.targets[0].id
        elif isinstance(parent, ast.AnnAssign) and isinstance(parent.target, ast.Name):
            target = parent.target.id
        elif isinstance(parent, ast.withitem) and isinstance(parent.optional_vars, ast.Name):
            target, in_with = parent.optional_vars.id, True
        elif isinstance(parent, ast.withitem | ast.Expr):
            self._add(call, "popen", f"{source}(...) is never waited with a bound")
            return
        if target is None:
            return  # handed on: returned, stored, passed to a call
        waited = handed_on = False
        for node in _walk_body(function.body):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == target
            ):
                method = node.func.attr
                if (method == "wait" and _has_timeout(node, position=0)) or (
                    method == "communicate" and _has_timeout(node, position=1)
                ):
                    waited = True
            elif isinstance(node, ast.Name) and node.id == target and node is not call:
                up = parents.get(node)
                if isinstance(
                    up, ast.Return | ast.Yield | ast.List | ast.Tuple | ast.Set | ast.Dict
                ):
                    handed_on = True
                elif isinstance(up, ast.Call) and node in up.args:
                    handed_on = True
                elif isinstance(up, ast.keyword):
                    handed_on = True
                elif (
                    isinstance(up, ast.Assign)
                    and node is up.value
                    and not all(isinstance(t, ast.Name) for t in up.targets)
                ):
                    handed_on = True
        if not waited and not (handed_on and not in_with):
            how = "with ... as " if in_with else ""
            self._add(call, "popen", f"{how}{target} = {source}(...) is never waited with a bound")


def _is_true(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value in (True, 1)


def _docker_helper_has_default(root: Path) -> bool:
    """True when ``docker()``'s ``timeout`` parameter defaults to something other than ``None``."""
    tree = ast.parse((root / "provision" / "docker.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "docker":
            args = node.args
            pairs = [
                *zip(args.args[len(args.args) - len(args.defaults) :], args.defaults, strict=True),
                *zip(args.kwonlyargs, args.kw_defaults, strict=True),
            ]
            return any(
                arg.arg == "timeout" and default is not None and not _is_none(default)
                for arg, default in pairs
            )
    raise AssertionError("no docker() helper in k8snotes/provision/docker.py")


def scan(root: Path = PACKAGE) -> list[Finding]:
    """Every finding under ``root``, in file and line order."""
    findings: list[Finding] = []
    docker_default = _docker_helper_has_default(root)
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        aliases = _aliases(tree, _module_name(path, root.parent), path.name == "__init__.py")
        scanner = _Scanner(path.relative_to(root.parent).as_posix(), aliases, docker_default)
        scanner.visit(tree)
        findings.extend(scanner.findings)
    return sorted(findings, key=lambda f: (f.path, f.line))


def test_every_subprocess_and_wait_has_a_bound() -> None:
    offenders = [str(f) for f in scan() if f.key not in PENDING and f.key not in ALLOWED]
    assert not offenders, "unbounded calls or waits:\n" + "\n".join(offenders)


def test_pending_entries_are_still_offenders() -> None:
    keys = {f.key for f in scan()}
    stale = sorted(PENDING - keys) + sorted(set(ALLOWED) - keys)
    assert not stale, f"fixed or moved, remove from PENDING/ALLOWED: {stale}"


def test_docker_helper_has_a_default_timeout() -> None:
    from k8snotes.provision import docker

    default = inspect.signature(docker.docker).parameters["timeout"].default
    assert isinstance(default, int | float) and default > 0, default


def test_a_stuck_docker_save_is_stopped_at_its_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``_save_cache`` streams ``docker save`` through a pipe: a timer bounds the read too."""
    from k8snotes.provision import docker, nodeimage

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "docker"
    fake.write_text("#!/bin/sh\nprintf partial\nexec sleep 300\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("K8SNOTES_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(docker, "TRANSFER_TIMEOUT", 1.0)
    start = time.monotonic()
    with pytest.raises(docker.DockerError, match="stopped after 1 s"):
        nodeimage._save_cache("key")
    assert time.monotonic() - start < 30
    assert not nodeimage.cached_archive("key").exists()


def test_the_scan_sees_each_kind_of_offender(tmp_path: Path) -> None:
    """The rules themselves, on a file made of offenders (and of calls that are fine)."""
    package = tmp_path / "k8snotes"
    (package / "provision").mkdir(parents=True)
    (package / "provision" / "docker.py").write_text(
        "import subprocess\n"
        "def docker(*args, timeout=None):\n"
        "    return subprocess.run(['docker', *args], timeout=timeout)\n"
    )
    (package / "bad.py").write_text(
        "import subprocess as sp\n"
        "import time\n"
        "from subprocess import check_output as co, Popen\n"
        "from k8snotes.provision import docker\n"
        "def f(proc, event):\n"
        "    sp.run(['true'])\n"
        "    co(['true'], timeout=None)\n"
        "    sp.call(['true'], timeout=5)\n"
        "    proc.wait()\n"
        "    proc.wait(5)\n"
        "    proc.communicate(b'in')\n"
        "    proc.communicate(timeout=5)\n"
        "    event.wait(None)\n"
        "    docker.docker('ps')\n"
        "    p = Popen(['docker', 'save', 'x'])\n"
        "    q = Popen(['true'])\n"
        "    q.wait(timeout=5)\n"
        "    while True:\n"
        "        time.sleep(1)\n"
        "    deadline = time.monotonic() + 5\n"
        "    while True:\n"
        "        if time.monotonic() > deadline:\n"
        "            break\n"
        "        time.sleep(1)\n"
        "    return Popen(['sleep', '1'])\n"
    )
    found = [(f.path.rsplit("/", 1)[1], f.line, f.rule) for f in scan(package)]
    assert found == [
        ("bad.py", 6, "subprocess"),
        ("bad.py", 7, "subprocess"),
        ("bad.py", 9, "wait"),
        ("bad.py", 11, "wait"),
        ("bad.py", 13, "wait"),
        ("bad.py", 14, "docker"),
        ("bad.py", 15, "popen"),
        ("bad.py", 18, "poll-loop"),
    ]


if __name__ == "__main__":
    for finding in scan():
        print(finding)
