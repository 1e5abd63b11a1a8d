"""A page's scenario: its working directory, namespace, kubeconfig and shell, block by block.

The session knows the cluster only through a :class:`~k8snotes.cluster.base.ClusterInfo`
(kubeconfig, capabilities); it knows nothing of how the cluster was made.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import kubernetes_validate
import yaml

from k8snotes.cluster.base import ClusterInfo
from k8snotes.markdown.blocks import Block
from k8snotes.plan import plan
from k8snotes.runner import inventory
from k8snotes.runner.output import output_diff, output_matches
from k8snotes.runner.shell import Result, ShellSession, kill_group

DEFAULT_TIMEOUT = 60.0
KUBERNETES_SCHEMA_VERSION = "1.37.0"


_HEREDOC = re.compile(r"<<-?\s*(['\"]?)(?P<tag>\w+)\1[^\n]*\n.*?\n(?P=tag)(?:\n|$)", re.S)
_INTERACTIVE = re.compile(r"(?:\s-it\b|\s-ti\b|--tty\b|\s-t\s.*-i\b|\bkubectl\s+edit\b)")


class BlockFailure(Exception):
    """A block did not do what the page says; the message is the full report."""


class BlockSkipped(Exception):
    """A block was not run; the message is the reason (counted in the summary)."""


@dataclass
class Outcome:
    """How one block went, for the report."""

    block: Block
    status: str  # "passed", "failed", "skipped"
    reason: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def page_slug(page: Path) -> str:
    """A DNS-1123 label for the page (``tasks/make-it-a-deployment.md`` -> ``make-it-a-deployment``)."""
    slug = re.sub(r"[^a-z0-9-]+", "-", page.with_suffix("").name.lower()).strip("-")
    return slug[:40].strip("-") or "page"


_MISSING_FILE = re.compile(
    r'the path "(?P<a>[^"]+)" does not exist'
    r"|(?:open|lstat|stat) (?P<b>\S+): (?:no such file or directory|file does not exist)"
    r"|(?P<c>[\w./-]+): No such file or directory"
)


def missing_files(output: str) -> list[str]:
    """Files a command's output says do not exist (``kubectl -f``, ``cat``, ``docker build``).

    ```python
    from k8snotes.runner.session import missing_files

    out = 'error: the path "pod.yaml" does not exist'
    assert missing_files(out) == ["pod.yaml"]
    ```
    """
    found = []
    for m in _MISSING_FILE.finditer(output):
        name = m["a"] or m["b"] or m["c"]
        if name and name not in found:
            found.append(name)
    return found


def failure_report(
    block: Block,
    result: Result,
    expected: str | None = None,
    expected_line: int | None = None,
    expected_exit: int = 0,
) -> str:
    """The report of a failing command: page and line, command, exit code, output, expected.

    When the output says a file does not exist, the report says so first: the
    page never handed that file to the reader (no block before this one writes it).
    """
    lines = [
        f"{block.location}: file never handed to the reader: {name} "
        "(no block before this one on the page, or on a page it needs, writes it)"
        for name in missing_files(result.output)
    ]
    lines += [
        f"{block.location}: {block.language} block failed",
        "command:",
        *("    " + c for c in result.command.splitlines()),
    ]
    if result.timed_out:
        lines.append("exit code: none: timed out, process group killed")
    else:
        lines.append(f"exit code: {result.exit_code} (expected {expected_exit})")
    lines += ["output:", *("    " + o for o in (result.output.rstrip() or "(none)").splitlines())]
    if expected is not None:
        lines += ["", output_diff(expected, result.output, expected_line or block.line)]
    return "\n".join(lines)


def split_console(text: str) -> list[tuple[str, str, int]]:
    """``$ ``-prompted commands of a console block with their expected output.

    Returns ``(command, expected_output, offset_of_first_output_line)``;
    a command continues on the next line while a line ends with ``\\``.
    """
    pairs: list[tuple[str, str, int]] = []
    lines = text.rstrip("\n").split("\n")
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            raise ValueError(f"console block line {i + 1} is output with no $ command before it")
        cmd = [lines[i][2:]]
        while cmd[-1].endswith("\\") and i + 1 < len(lines):
            i += 1
            cmd.append(lines[i].removeprefix("> "))
        i += 1
        start = i
        while i < len(lines) and not lines[i].startswith("$ "):
            i += 1
        pairs.append(("\n".join(cmd), "\n".join(lines[start:i]), start))
    return pairs


def wait_port(port: int, timeout: float, proc: subprocess.Popen[bytes]) -> bool:
    """Wait until 127.0.0.1:``port`` accepts a connection (False if ``proc`` died first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


class PageSession:
    """Runs one page's blocks in order, as a reader's terminal would.

    Two ways to meet the cluster:

    - **reader** (``cluster=None``, ``home`` given): the reader's own conditions.
      ``HOME`` is the run's reader home, shared by the pages of the run, so the
      kubeconfig that ``kind create cluster`` writes to ``~/.kube/config`` is the
      one later pages use: kind's default context and the ``default``
      namespace, nothing injected. The page makes its cluster, or starts from
      the state the pages it ``needs`` made.
    - **namespace** (``cluster`` given): a copy of the cluster's kubeconfig whose
      context names a fresh namespace of the page's own, deleted at the end; for
      backends where pages cannot make their own cluster (kwok, existing).

    Either way the page starts in an empty working directory, as a reader does.

    Args:
        page: The page, relative to the project root (``docs/tasks/x.md``).
        root: The project root.
        cluster: The cluster to run against in namespace mode, ``None`` in reader mode.
        capabilities: What this environment offers (cluster's plus ``docker``...).
        extra_env: Added to the page's shell environment.
        prelude: Shell code run before the first block.
        home: The reader's home (reader mode).
    """

    def __init__(
        self,
        page: Path,
        root: Path,
        cluster: ClusterInfo | None,
        capabilities: set[str],
        extra_env: dict[str, str] | None = None,
        prelude: str = "",
        home: Path | None = None,
    ) -> None:
        if cluster is None and home is None:
            raise ValueError("reader mode needs the reader's home")
        self.page = page
        self.root = root
        self.cluster = cluster
        self.backend = cluster.backend if cluster else "kind"
        self.real_pods = cluster.real_pods if cluster else True
        self.capabilities = capabilities
        self.tmp = Path(tempfile.mkdtemp(prefix=f"k8snotes-{page_slug(page)}-"))
        self.workdir = self.tmp / "work"
        self.workdir.mkdir()
        self.meta_dir = self.tmp / "meta"
        self.home = home or self.tmp / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.page_id = uuid.uuid4().hex[:12]
        self.namespace = f"{page_slug(page)}-{uuid.uuid4().hex[:5]}" if cluster else ""
        self.kubeconfig = self.tmp / "kubeconfig"
        self.background: list[tuple[Block, subprocess.Popen[bytes]]] = []
        self.failed_at: Block | None = None
        bin_dir = str(Path(sys.executable).parent)
        inherited = {k: v for k, v in os.environ.items() if k not in {"KUBECONFIG", "KUBECACHEDIR"}}
        env = {
            **inherited,
            **(extra_env or {}),
            "HOME": str(self.home),
            "PATH": os.pathsep.join(
                [bin_dir, *(extra_env or {}).get("PATH", os.environ["PATH"]).split(os.pathsep)]
            ),
            "K8SNOTES_NOTES": str(self.tmp / "notes.txt"),
            "__K8SNOTES_META": str(self.meta_dir),
            inventory.MARKER: self.page_id,
            "TERM": "dumb",
            "NO_COLOR": "1",
            "PAGER": "cat",
        }
        if cluster is not None:
            env["KUBECONFIG"] = str(self.kubeconfig)
            env["KUBECACHEDIR"] = str(self.tmp / "kubecache")
            env["K8SNOTES_NAMESPACE"] = self.namespace
        self.env = env
        try:
            if cluster is not None:
                self._make_namespace(cluster)
            self.before = inventory.take(self.env) if cluster is None else None
            self.shell = ShellSession(self.workdir, env, prelude, self.meta_dir)
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise

    # -- set-up and tear-down -------------------------------------------------

    def kubectl(
        self, *args: str, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """kubectl as the page's shell runs it (its kubeconfig, context and namespace)."""
        return subprocess.run(
            ["kubectl", *args],
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def _make_namespace(self, cluster: ClusterInfo) -> None:
        shutil.copy(cluster.kubeconfig, self.kubeconfig)
        self.kubeconfig.chmod(0o600)
        for args in (
            ("create", "namespace", self.namespace),
            (
                "label",
                "namespace",
                self.namespace,
                "k8snotes.dev/created-by=k8snotes",
                f"k8snotes.dev/page={page_slug(self.page)}",
            ),
            ("config", "set-context", "--current", f"--namespace={self.namespace}"),
        ):
            proc = self.kubectl(*args)
            if proc.returncode != 0:
                raise RuntimeError(f"kubectl {' '.join(args)}: {proc.stderr}")
        # A namespace gets its default ServiceAccount a moment after creation.
        deadline = time.monotonic() + 30
        while self.kubectl("get", "serviceaccount", "default").returncode != 0:
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)

    def close(self) -> list[str]:
        """Stop background processes, delete the page's namespace and working files.

        Returns what could not be cleaned, for the report.
        """
        problems = []
        for block, proc in self.background:
            kill_group(proc.pid)
            if proc.poll() is None:
                problems.append(f"{block.location}: background process {proc.pid} survived")
        if self.cluster is not None:
            # Through the suite's kubeconfig: the page may have changed or emptied its own
            # (a page that runs `kind delete cluster` leaves it with no current context).
            deleted = subprocess.run(
                ["kubectl", "--kubeconfig", self.cluster.kubeconfig, "delete", "namespace",
                 self.namespace, "--wait=false", "--ignore-not-found"],
                env=self.env, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            if deleted.returncode != 0:
                problems.append(f"namespace {self.namespace}: {deleted.stderr.strip()}")
        shutil.rmtree(self.tmp, ignore_errors=True)
        return problems

    def leaks(self, keeps: list[str], settle: float = 60.0) -> list[str]:
        """What the page left that its front matter ``keeps`` does not name (reader mode).

        Call after :meth:`close`. Compares the cluster (every listable type),
        Docker and the page's own processes with the inventory taken before
        its first block.
        """
        if self.before is None:
            return []
        return inventory.leaks(self.before, self.env, self.page_id, keeps, settle)

    # -- blocks ---------------------------------------------------------------

    def skip_reason(self, block: Block) -> str | None:
        """Why ``block`` will not run here, or ``None`` when it will."""
        decided = plan(block, self.capabilities, self.backend)
        if decided.action == "skip":
            return decided.reason
        if self.failed_at is not None and not block.is_cleanup:
            return f"an earlier block of this page failed ({self.failed_at.location})"
        return None

    def run_block(self, block: Block, output_block: Block | None = None) -> list[str]:
        """Run one block; raise :class:`BlockFailure` or :class:`BlockSkipped`.

        ``output_block`` is the ``output`` block that follows a shell block.
        Returns notes for the report (for example, that pods were simulated).
        """
        reason = self.skip_reason(block)
        if reason:
            raise BlockSkipped(reason)
        try:
            if block.language in {"bash", "sh", "shell"}:
                self._run_shell(block, output_block)
            elif block.language == "console":
                self._run_console(block)
            elif block.language in {"yaml", "yml"}:
                self._run_yaml(block)
            elif block.language in {"python", "py", "python3"}:
                self._run_python(block)
            elif block.meta.get("output"):
                raise BlockSkipped("checked as the output of the block before it")
            else:
                raise BlockFailure(
                    f"{block.location}: no runner for a {block.language or 'plain'} block: "
                    'run it, or give it skip="reason"'
                )
        except BlockFailure:
            self.failed_at = block
            raise
        notes = self._shim_notes()
        if not self.real_pods and re.search(r"\bkubectl\b", block.text):
            notes.append("pods simulated (kwok)")
        return notes

    def _shim_notes(self) -> list[str]:
        """Changes the kind shim made to this block's commands (see :mod:`k8snotes.runner.kindshim`)."""
        path = Path(self.env["K8SNOTES_NOTES"])
        if not path.exists():
            return []
        notes = path.read_text().splitlines()
        path.unlink()
        return notes

    def _check_interactive(self, block: Block, command: str) -> None:
        command = _HEREDOC.sub("", command)  # a file's text is not a command
        if _INTERACTIVE.search(" " + command) and not ({"stdin", "editor"} & block.meta.keys()):
            raise BlockFailure(
                f'{block.location}: interactive command needs stdin="..." or editor="..." '
                f'metadata, or skip="reason":\n    {command}'
            )

    def _execute(self, block: Block, command: str) -> Result:
        self._check_interactive(block, command)
        timeout = block.number("timeout", DEFAULT_TIMEOUT)
        if "editor" in block.meta:
            self.shell.env["KUBE_EDITOR"] = str(block.meta["editor"])
        try:
            if "stdin" in block.meta:
                from k8snotes.runner.tty import run_in_tty

                return run_in_tty(self.shell, command, str(block.meta["stdin"]), timeout)
            return self.shell.run(command, timeout=timeout)
        finally:
            self.shell.env.pop("KUBE_EDITOR", None)

    def _until_ok(self, block: Block, attempt: Callable[[], None]) -> None:
        retry = block.number("retry", 0)
        deadline = time.monotonic() + retry
        while True:
            try:
                attempt()
                return
            except BlockFailure:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(1)

    def _run_shell(self, block: Block, output_block: Block | None) -> None:
        if block.meta.get("background"):
            self._start_background(block)
            return
        expected_exit = int(block.number("exit", 0))

        def attempt() -> None:
            result = self._execute(block, block.text)
            expected = output_block.text if output_block else None
            if (
                result.timed_out
                or result.exit_code != expected_exit
                or (expected is not None and not output_matches(expected, result.output))
            ):
                raise BlockFailure(
                    failure_report(
                        block,
                        result,
                        expected,
                        output_block.line + 1 if output_block else None,
                        expected_exit,
                    )
                )

        self._until_ok(block, attempt)

    def _run_console(self, block: Block) -> None:
        try:
            pairs = split_console(block.text)
        except ValueError as exc:
            raise BlockFailure(f"{block.location}: {exc}") from None
        expected_exit = int(block.number("exit", 0))
        for command, expected, offset in pairs:

            def attempt(
                command: str = command, expected: str = expected, offset: int = offset
            ) -> None:
                result = self._execute(block, command)
                if (
                    result.timed_out
                    or result.exit_code != expected_exit
                    or not output_matches(expected, result.output)
                ):
                    raise BlockFailure(
                        failure_report(
                            block, result, expected, block.line + 1 + offset, expected_exit
                        )
                    )

            self._until_ok(block, attempt)

    def _start_background(self, block: Block) -> None:
        proc = self.shell.start_background(block.text)
        self.background.append((block, proc))
        port = block.meta.get("port")
        if port is not None:
            timeout = block.number("timeout", 30)
            if not wait_port(int(block.number("port", 0)), timeout, proc):
                log = Path(cast(list[str], proc.args)[1]).with_suffix(".log")
                output = log.read_text(errors="replace") if log.exists() else ""
                raise BlockFailure(
                    failure_report(
                        block,
                        Result(
                            block.text,
                            proc.poll() or 0,
                            output + f"\n(port {port} never answered)",
                            0,
                        ),
                    )
                )

    def _run_yaml(self, block: Block) -> None:
        docs = [d for d in yaml.safe_load_all(block.text) if d]
        problems = []
        for doc in docs:
            try:
                kubernetes_validate.validate(doc, KUBERNETES_SCHEMA_VERSION, strict=True)
            except kubernetes_validate.SchemaNotFoundError:
                pass  # a custom resource: the server checks it against its CRD below
            except kubernetes_validate.ValidationError as exc:
                problems.append(
                    f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}: {exc.message} at {list(exc.path)}"
                )
        if problems:
            raise BlockFailure(
                f"{block.location}: manifest does not match the v1.37 schema:\n  "
                + "\n  ".join(problems)
            )
        args = (
            ["apply", "-f", "-"]
            if block.meta.get("apply")
            else ["apply", "--dry-run=server", "-f", "-"]
        )
        proc = self.kubectl(*args, input=block.text)
        if proc.returncode != 0:
            raise BlockFailure(
                failure_report(
                    block,
                    Result(
                        "kubectl " + " ".join(args) + "  # the block's text on stdin",
                        proc.returncode,
                        proc.stdout + proc.stderr,
                        0,
                    ),
                )
            )

    def _run_python(self, block: Block) -> None:
        script = self.shell.meta_dir / f"block-{block.line}.py"
        script.write_text(block.text)
        result = self.shell.run(
            f"python3 {script}", timeout=block.number("timeout", DEFAULT_TIMEOUT)
        )
        if result.timed_out or result.exit_code != int(block.number("exit", 0)):
            raise BlockFailure(
                failure_report(
                    block,
                    Result(
                        block.text,
                        result.exit_code,
                        result.output,
                        result.seconds,
                        result.timed_out,
                    ),
                )
            )
