"""A page's scenario: its working directory, namespace, kubeconfig and shell, block by block.

The session knows the cluster only through a :class:`~k8snotes.cluster.base.ClusterInfo`
(kubeconfig, capabilities); it knows nothing of how the cluster was made.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from k8snotes.check import inventory
from k8snotes.check.failures import failure_report
from k8snotes.check.output import output_matches
from k8snotes.check.update import OutputUpdate, updated_output
from k8snotes.evaluators.base import Step
from k8snotes.evaluators.manifest import KUBERNETES_SCHEMA_VERSION
from k8snotes.evaluators.registry import evaluator_for
from k8snotes.markdown.blocks import Block
from k8snotes.markdown.console import split_console
from k8snotes.outcomes import BlockFailure, BlockSkipped, Result, missing_files
from k8snotes.plan import plan
from k8snotes.runner.background import BackgroundJobs, wait_port
from k8snotes.runner.shell import ShellSession
from k8snotes.runner.targets import Target

DEFAULT_TIMEOUT = 60.0

__all__ = [
    "KUBERNETES_SCHEMA_VERSION",
    "BlockFailure",
    "BlockSkipped",
    "PageSession",
    "failure_report",
    "missing_files",
    "split_console",
    "wait_port",
]


_HEREDOC = re.compile(r"<<-?\s*(['\"]?)(?P<tag>\w+)\1[^\n]*\n.*?\n(?P=tag)(?:\n|$)", re.S)
_INTERACTIVE = re.compile(r"(?:\s-it\b|\s-ti\b|--tty\b|\s-t\s.*-i\b|\bkubectl\s+edit\b)")


def page_slug(page: Path) -> str:
    """A DNS-1123 label for the page (``tasks/make-it-a-deployment.md`` -> ``make-it-a-deployment``)."""
    slug = re.sub(r"[^a-z0-9-]+", "-", page.with_suffix("").name.lower()).strip("-")
    return slug[:40].strip("-") or "page"


class PageSession:
    """Runs one page's blocks in order, as a reader's terminal would.

    The page starts in an empty working directory, as a reader does; where its
    commands go is its ``target``: the reader's machine or a namespace of the
    suite's cluster (:mod:`k8snotes.runner.targets`).

    Args:
        page: The page, relative to the project root (``docs/tasks/x.md``).
        root: The project root.
        target: Where the page's commands meet the cluster (one per page).
        capabilities: What this environment offers (cluster's plus ``docker``...).
        extra_env: Added to the page's shell environment.
        prelude: Shell code run before the first block.
        update_outputs: Record a wrong expected output as an update of the page
            (:attr:`updates`) instead of failing (``--k8snotes-update``).
    """

    def __init__(
        self,
        page: Path,
        root: Path,
        target: Target,
        capabilities: set[str],
        extra_env: dict[str, str] | None = None,
        prelude: str = "",
        update_outputs: bool = False,
    ) -> None:
        self.page = page
        self.root = root
        self.target = target
        self.backend = target.backend
        self.real_pods = target.real_pods(capabilities)
        self.capabilities = capabilities
        self.tmp = Path(tempfile.mkdtemp(prefix=f"k8snotes-{page_slug(page)}-"))
        self.workdir = self.tmp / "work"
        self.workdir.mkdir()
        self.meta_dir = self.tmp / "meta"
        self.home = target.home(self.tmp)
        self.home.mkdir(parents=True, exist_ok=True)
        self.page_id = uuid.uuid4().hex[:12]
        self.failed_at: Block | None = None
        self.command_seconds = 0.0
        """Seconds the page's commands have run so far, as a terminal would spend them.

        The rest of a page's time is the runner's own (parsing, output checks,
        the leak check): ``benchmarks/suite.py`` reports the ratio.
        """
        self.update_outputs = update_outputs
        self.updates: list[OutputUpdate] = []
        bin_dir = str(Path(sys.executable).parent)
        inherited = {k: v for k, v in os.environ.items() if k not in {"KUBECONFIG", "KUBECACHEDIR"}}
        self.env = {
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
            **target.env(self.tmp, page_slug(page)),
        }
        try:
            target.open(self.env)
            self.shell = ShellSession(self.workdir, self.env, prelude, self.meta_dir)
            self.background = BackgroundJobs(self.shell)
        except BaseException:
            target.close()
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

    def close(self) -> list[str]:
        """Stop background processes, delete the page's namespace and working files.

        Returns what could not be cleaned, for the report.
        """
        problems: list[str] = []
        try:
            problems += self.background.stop_all()
        finally:
            try:
                if error := self.target.close():
                    problems.append(error)
            finally:
                shutil.rmtree(self.tmp, ignore_errors=True)
        return problems

    def leaks(self, keeps: list[str], settle: float = 60.0) -> list[str] | None:
        """What the page left that its front matter ``keeps`` does not name (reader mode).

        Call after :meth:`close`. Compares the cluster (every listable type),
        Docker and the page's own processes with the inventory taken before
        its first block.
        """
        return self.target.leaks(self.env, self.page_id, keeps, settle)

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
        """Run one block with its language's evaluator; raise :class:`BlockFailure` or :class:`BlockSkipped`.

        Every step the evaluator hands back is checked here, the same way for
        every language: timed out, exit code against ``exit=``, output against
        the expected output; ``retry=`` re-runs the whole block.
        ``output_block`` is the ``output`` block that follows a shell block.
        Returns notes for the report (for example, that pods were simulated).
        """
        reason = self.skip_reason(block)
        if reason:
            raise BlockSkipped(reason)
        if plan(block).action == "output":
            raise BlockSkipped("checked as the output of the block before it")
        evaluator = evaluator_for(block.language)
        try:
            if evaluator is None:
                raise BlockFailure(
                    f"{block.location}: no runner for a {block.language or 'plain'} block: "
                    'run it, or give it skip="reason"'
                )
            context = _Context(self, block, output_block)
            expected_exit = int(block.number("exit", 0))

            def attempt() -> None:
                pending = len(self.updates)
                try:
                    for step in evaluator.evaluate(block, context):
                        self._check(block, step, expected_exit)
                except BlockFailure:
                    del self.updates[pending:]  # a retried block records its updates once
                    raise

            self._until_ok(block, attempt)
        except BlockSkipped:
            raise
        except BaseException:
            # Whatever went wrong (a bad metadata value, a runner bug, an interrupt), the
            # page's state is not what its next block expects: only its clean-up runs.
            self.failed_at = block
            raise
        notes = self._shim_notes()
        if not self.real_pods and re.search(r"\bkubectl\b", block.text):
            notes.append("pods simulated (kwok)")
        return notes

    def _check(self, block: Block, step: Step, expected_exit: int) -> None:
        result = step.result
        wrong_output = step.expected is not None and not output_matches(
            step.expected, result.output
        )
        ran_as_expected = not result.timed_out and result.exit_code == expected_exit
        if wrong_output and ran_as_expected and self.update_outputs and step.expected_line:
            assert step.expected is not None
            new = updated_output(step.expected, result.output)
            self.updates.append(
                OutputUpdate(self.root / self.page, step.expected_line, step.expected, new)
            )
            return
        if not ran_as_expected or wrong_output:
            raise BlockFailure(
                failure_report(block, result, step.expected, step.expected_line, expected_exit)
            )

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

                result = run_in_tty(self.shell, command, str(block.meta["stdin"]), timeout)
            else:
                result = self.shell.run(command, timeout=timeout)
        finally:
            self.shell.env.pop("KUBE_EDITOR", None)
        self.command_seconds += result.seconds
        return result

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


class _Context:
    """The :class:`~k8snotes.evaluators.base.BlockContext` of one block of a page session."""

    def __init__(self, session: PageSession, block: Block, output_block: Block | None) -> None:
        self._session = session
        self._block = block
        self.expected_output = output_block.text if output_block else None
        self.expected_output_line = output_block.line + 1 if output_block else None
        self.scratch = session.shell.meta_dir

    def run(self, command: str) -> Result:
        return self._session._execute(self._block, command)

    def kubectl(self, *args: str, input: str | None = None) -> Result:
        started = time.monotonic()
        timeout = self._block.number("timeout", DEFAULT_TIMEOUT)
        command = "kubectl " + " ".join(args) + ("  # the block's text on stdin" if input else "")
        try:
            proc = self._session.kubectl(*args, input=input, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            out = (
                exc.output.decode(errors="replace")
                if isinstance(exc.output, bytes)
                else exc.output or ""
            )
            return Result(command, -1, out, time.monotonic() - started, timed_out=True)
        return Result(
            command, proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started
        )

    def start_background(self, command: str) -> None:
        self._session.background.start(self._block, command)
