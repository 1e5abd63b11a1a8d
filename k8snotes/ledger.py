"""The results ledger: what ran, on what, when, and with which outcome, block by block.

Every run writes one ledger (a JSON file, versioned): the run's versions and shard,
each page's hash, duration and leak check, each block's hash, outcome and seconds.
It lives with the run (the cache's ``ledger/`` folder, a CI artifact), never in git.
``k8snotes ledger merge`` combines the shards' ledgers and checks that they cover
every executable block of every page exactly once, with no failure; the site's
build stamps each page and block from it (:mod:`k8snotes.stamps`); ``k8snotes
status`` lists the pages it does not vouch for.

The file format (``"version": 1``)::

    {"format": "k8snotes-ledger", "version": 1,
     "runs": [{"date": "2026-12-02T10:11:12+00:00", "commit": "abc1234", "shard": "1/3",
               "kubernetes": "v1.37.2", "kind": "v0.33.0", "kubectl": "v1.37.1",
               "docker": "29.1.2", "containerd": "v2.2.0", "backend": "kind",
               "url": null, "runner": "<sha256 of the runner's source>"}],
     "pages": [{"run": 0, "page": "tasks/run-a-pod-and-a-service.md", "copy": null,
                "hash": "<sha256>", "seconds": 41.2, "leak_check": "passed"}],
     "blocks": [{"run": 0, "page": "tasks/run-a-pod-and-a-service.md", "copy": null,
                 "line": 33, "hash": "<sha256>", "outcome": "passed", "reason": "",
                 "seconds": 3.1}],
     "tests": [{"run": 0, "file": "tests/test_ledger.py", "seconds": 2.4,
                "passed": 31, "failed": 0, "skipped": 0}]}

``run`` indexes ``runs`` (a merged ledger holds each shard's run); ``copy`` is
``null`` for a page's own run and ``K`` for its K-th copy (a set-up page run again
on another shard or reader's machine, as the run's page record declares). The
page hash is :func:`page_hash`: :func:`k8snotes.changes.fingerprint` without the
runner's digest (recorded once per run as ``runner``), so a change to the runner
does not make every page "changed since it was last verified". ``tests`` holds the
run's other tests (not pages), a record per test file: what shards balance them
with, and what the merge checks ran once, with no failure (a file older ledgers
lack is read as ``[]``).

```python
from k8snotes.ledger import Ledger, RunInfo

ledger = Ledger.start(RunInfo(date="2026-12-02T10:11:12+00:00", commit="abc1234"))
ledger.record_block("tasks/a.md", 12, "h1", "passed", seconds=1.5)
ledger.record_block("tasks/a.md", 20, "h2", "shown", reason="needs the internet")
ledger.record_page("tasks/a.md", page_hash="p", seconds=4.0, leak_check="passed")
again = Ledger.from_dict(ledger.to_dict())
assert again == ledger
assert again.view("tasks/a.md").counts() == {"passed": 1, "shown": 1}
```
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast, get_args

from k8snotes import paths
from k8snotes.markdown.blocks import Block, PageError
from k8snotes.markdown.includes import Includes
from k8snotes.markdown.parse import parse_page
from k8snotes.plan import plan

FORMAT = "k8snotes-ledger"
"""The ``format`` field of every ledger file."""

VERSION = 1
"""The ledger file format's version; a file of a later version is refused."""

Outcome = Literal["passed", "failed", "skipped", "shown"]
"""A block's outcome: ``shown`` is a block shown only (an output block, a ``skip=`` one)."""

LeakCheck = Literal["passed", "failed", "not run"]
"""A page's leak check (and clean-up) after its last block."""

OUTPUT_REASON = "the output of the block before it, compared with what that block printed"
"""The reason recorded for an ``output`` block (shown, checked as part of the block before)."""

VERSION_TIMEOUT = 20.0
"""Seconds any one version query (a binary, the API server) may take."""

LEDGER_DIR = "ledger"
"""The cache's folder of ledgers: a ``latest.json`` per docs folder."""


def latest_path(docs: Path) -> Path:
    """Where runs of the pages under ``docs`` keep their ledger for ``k8snotes status``.

    ``<cache>/ledger/<project>-<hash of the docs folder's path>/latest.json``: one
    per docs folder, so that two projects (or a test's throw-away one) sharing a
    cache never write into each other's record.
    """
    folder = docs.resolve()
    key = hashlib.sha256(str(folder).encode()).hexdigest()[:10]
    return paths.cache_dir() / LEDGER_DIR / f"{folder.parent.name or 'root'}-{key}" / "latest.json"


# -- hashes ------------------------------------------------------------------------


def block_hash(text: str) -> str:
    """A block's hash: SHA-256 of its text with its includes resolved."""
    return hashlib.sha256(text.encode()).hexdigest()


def page_hash(page_text: str, block_texts: Iterable[str]) -> str:
    """A page's hash: its text and its blocks' resolved texts (so its includes).

    :func:`k8snotes.changes.fingerprint` without the runner's digest: it says
    whether the page a reader sees changed, whatever the runner did.
    """
    digest = hashlib.sha256(page_text.encode())
    for text in block_texts:
        digest.update(b"\0" + text.encode())
    return digest.hexdigest()


# -- the run's versions ------------------------------------------------------------

_VERSION = re.compile(r"\bv?\d+\.\d+\.\d+[\w.+~-]*")


def _output(argv: list[str], env: Mapping[str, str] | None, timeout: float) -> str | None:
    """The stripped stdout of ``argv``, or ``None`` when it is missing, fails or hangs."""
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(env) if env is not None else None,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _first_version(text: str | None) -> str | None:
    match = _VERSION.search(text or "")
    return match.group() if match else None


def kind_version(env: Mapping[str, str] | None = None) -> str | None:
    """``kind version``'s version (``v0.33.0``), found on ``env``'s ``PATH``; ``None`` if absent."""
    return _first_version(_output(["kind", "version"], env, VERSION_TIMEOUT))


def kubectl_version(env: Mapping[str, str] | None = None) -> str | None:
    """kubectl's client version (``v1.37.1``), found on ``env``'s ``PATH``; ``None`` if absent."""
    out = _output(["kubectl", "version", "--client", "-o", "json"], env, VERSION_TIMEOUT)
    try:
        version = json.loads(out or "")["clientVersion"]["gitVersion"]
    except (ValueError, KeyError, TypeError):
        return _first_version(out)
    return str(version)


def docker_version(env: Mapping[str, str] | None = None) -> str | None:
    """The Docker engine's version (``docker version``'s server), ``None`` if not reachable."""
    out = _output(["docker", "version", "--format", "{{.Server.Version}}"], env, VERSION_TIMEOUT)
    return out or None


def kind_node(env: Mapping[str, str] | None = None) -> str | None:
    """The first running kind control-plane node container, or ``None``."""
    role = "label=io.x-k8s.kind.role=control-plane"
    out = _output(
        ["docker", "ps", "--filter", role, "--format", "{{.Names}}"], env, VERSION_TIMEOUT
    )
    names = sorted((out or "").split())
    return names[0] if names else None


def containerd_version(node: str | None = None, env: Mapping[str, str] | None = None) -> str | None:
    """containerd's version inside a kind node (``v2.2.0``), ``None`` when there is none.

    Asks ``docker exec NODE containerd --version``, else the node's ``crictl
    version``. ``node`` defaults to the first kind control-plane container running.
    """
    node = node or kind_node(env)
    if node is None:
        return None
    out = _output(["docker", "exec", node, "containerd", "--version"], env, VERSION_TIMEOUT)
    if version := _first_version(out):
        return version
    out = _output(["docker", "exec", node, "crictl", "version"], env, VERSION_TIMEOUT)
    for line in (out or "").splitlines():
        if line.startswith("RuntimeVersion"):
            return _first_version(line)
    return None


def _kubeconfig(env: Mapping[str, str]) -> str | None:
    """The kubeconfig kubectl would read in ``env``: ``$KUBECONFIG``, else ``~/.kube/config``."""
    if value := env.get("KUBECONFIG"):
        return value.split(os.pathsep)[0]
    if home := env.get("HOME"):
        path = Path(home) / ".kube" / "config"
        return str(path) if path.is_file() else None
    return None


def kubernetes_version(
    kubeconfig: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    context: str | None = None,
    timeout: float = VERSION_TIMEOUT,
) -> str | None:
    """The API server's version (``GET /version``: ``v1.37.2``); ``None`` if it cannot be asked.

    Args:
        kubeconfig: The kubeconfig to read; default: the one kubectl reads in ``env``
            (``$KUBECONFIG``, else ``$HOME/.kube/config``).
        env: The environment the pages' shell has (default: this process's).
        context: A context of the kubeconfig (default: its current context).
        timeout: Seconds for the request (connect and read).
    """
    from kubernetes import client, config

    path = kubeconfig or _kubeconfig(env if env is not None else os.environ)
    if not path:
        return None
    settings = client.Configuration()
    settings.retries = 1
    try:
        config.load_kube_config(
            config_file=str(path),
            context=context,
            client_configuration=settings,
            persist_config=False,
        )
        with client.ApiClient(settings) as api:
            # Raw, not the client's model: its every field is required, a server may omit some.
            raw: Any = client.VersionApi(api).get_code(
                _request_timeout=timeout, _preload_content=False
            )
            version = json.loads(raw.data).get("gitVersion")
    except Exception:  # no file, no context, refused, timed out, an error status: not known
        return None
    return str(version) if version else None


def git_commit(root: Path | None = None) -> str | None:
    """The checkout's commit, short (``abc1234``), or ``None`` outside a git checkout."""
    where = root or paths.project_root()
    return _output(["git", "-C", str(where), "rev-parse", "--short", "HEAD"], None, 10) or None


def run_url(env: Mapping[str, str] | None = None) -> str | None:
    """The address of this run: ``$K8SNOTES_RUN_URL``, else the GitHub Actions run, else ``None``."""
    env = env if env is not None else os.environ
    if url := env.get("K8SNOTES_RUN_URL"):
        return url
    keys = ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    if all(env.get(k) for k in keys):
        return f"{env['GITHUB_SERVER_URL']}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    return None


def now() -> str:
    """The time now, as the ledger writes dates: ISO 8601, UTC, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


# -- the model ---------------------------------------------------------------------


@dataclass(frozen=True)
class RunInfo:
    """One run: when, from which commit, which shard, on which versions.

    Attributes:
        date: When the run started (ISO 8601, UTC: :func:`now`).
        commit: The checkout's short commit.
        shard: ``"K/N"`` for shard K of N, ``None`` for the whole suite.
        kubernetes: The API server's version, read from the cluster.
        kind: kind's version.
        kubectl: kubectl's client version.
        docker: The Docker engine's version.
        containerd: containerd's version in a kind node.
        backend: The cluster backend (``kind``, ``kwok``...).
        url: Where the run can be seen (a CI run's page).
        runner: :func:`k8snotes.changes.runner_digest` of the runner that ran.
    """

    date: str
    commit: str | None = None
    shard: str | None = None
    kubernetes: str | None = None
    kind: str | None = None
    kubectl: str | None = None
    docker: str | None = None
    containerd: str | None = None
    backend: str | None = None
    url: str | None = None
    runner: str | None = None

    @classmethod
    def collect(
        cls,
        *,
        shard: str | None = None,
        backend: str | None = None,
        env: Mapping[str, str] | None = None,
        kubeconfig: str | Path | None = None,
        node: str | None = None,
        url: str | None = None,
        root: Path | None = None,
        cluster: bool = True,
    ) -> RunInfo:
        """This run's info: the date, commit and versions asked of the binaries on ``env``'s ``PATH``.

        Each query is bounded (:data:`VERSION_TIMEOUT`) and gives ``None`` when it cannot
        answer. With ``cluster=False`` the cluster is not asked (no Kubernetes or
        containerd version): fill them in later with :meth:`Ledger.update_run`, while
        the cluster is up (in reader mode the pages make and delete it).
        """
        from k8snotes.changes import runner_digest

        return cls(
            date=now(),
            commit=git_commit(root),
            shard=shard,
            kubernetes=kubernetes_version(kubeconfig, env) if cluster else None,
            kind=kind_version(env),
            kubectl=kubectl_version(env),
            docker=docker_version(env),
            containerd=containerd_version(node, env) if cluster else None,
            backend=backend,
            url=url if url is not None else run_url(env),
            runner=runner_digest(),
        )

    def describe(self) -> str:
        """``shard 1/3 (commit abc1234, 2026-12-02T10:11:12+00:00)``, for messages."""
        what = f"shard {self.shard}" if self.shard else "the run"
        return f"{what} (commit {self.commit or '?'}, {self.date})"


@dataclass
class PageRecord:
    """A page's run (its own, or a copy): hash, seconds, leak check.

    Attributes:
        page: The page's name relative to the docs folder (as front matter ``needs`` writes it).
        hash: :func:`page_hash` of the page that ran.
        seconds: How long the page took, set-up and clean-up included.
        leak_check: ``passed``, ``failed`` or ``not run``.
        copy: ``None`` for the page's own run; K for its K-th copy (another shard or machine).
        run: Index of its run in :attr:`Ledger.runs`.
    """

    page: str
    hash: str = ""
    seconds: float = 0.0
    leak_check: LeakCheck = "not run"
    copy: int | None = None
    run: int = 0


@dataclass
class BlockRecord:
    """One block's outcome in one run of its page.

    Attributes:
        page: The page's name relative to the docs folder.
        line: The 1-based line of the block's opening fence in the page.
        hash: :func:`block_hash` of the block's text that ran.
        outcome: ``passed``, ``failed``, ``skipped`` or ``shown`` (shown only).
        seconds: How long the block took.
        reason: Why it was skipped or shown only; a failure's first line.
        copy: ``None``, or the copy of the page it ran in (see :class:`PageRecord`).
        run: Index of its run in :attr:`Ledger.runs`.
    """

    page: str
    line: int
    hash: str
    outcome: Outcome
    seconds: float = 0.0
    reason: str = ""
    copy: int | None = None
    run: int = 0


@dataclass
class TestFileRecord:
    """The tests of one test file (not a page) in one run: seconds and outcomes.

    Attributes:
        file: The file's path relative to the run's rootdir (``tests/test_ledger.py``).
        seconds: Its tests' set-up, call and teardown time, summed.
        passed: Tests that passed.
        failed: Tests that failed (an error in set-up or teardown counts).
        skipped: Tests skipped (and expected failures).
        run: Index of its run in :attr:`Ledger.runs`.
    """

    __test__ = False  # a record, not a pytest test class

    file: str
    seconds: float = 0.0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    run: int = 0


class LedgerError(ValueError):
    """A file that is not a ledger this version reads."""


_RANK: dict[str, int] = {"failed": 3, "skipped": 2, "passed": 1, "shown": 0}


@dataclass
class PageView:
    """A page as a ledger saw it, all its runs (own and copies) taken together.

    Attributes:
        page: The page's name.
        hash: The page hash its own run recorded (else its first copy's).
        run: The run of the page's own run (else of its first copy).
        leak_check: ``failed`` if any run's failed, ``passed`` if every run's passed.
        blocks: Line -> the block's record; over several runs, the worst outcome
            (failed, skipped, passed, shown), and the seconds of the first.
        runs: How many runs of the page (own and copies) the ledger holds.
    """

    page: str
    hash: str
    run: RunInfo
    leak_check: LeakCheck
    blocks: dict[int, BlockRecord]
    runs: int

    def counts(self) -> dict[str, int]:
        """Outcome -> how many of the page's blocks had it (each block counted once)."""
        out: dict[str, int] = {}
        for record in self.blocks.values():
            out[record.outcome] = out.get(record.outcome, 0) + 1
        return out

    @property
    def failed(self) -> bool:
        """True when a block failed or the leak check did."""
        return self.leak_check == "failed" or any(
            b.outcome == "failed" for b in self.blocks.values()
        )

    def block(self, line: int, text_hash: str) -> BlockRecord | None:
        """The record of the block at ``line`` with that hash; else one with that hash elsewhere.

        A block moved by an edit above it keeps its record; a changed block has none.
        """
        record = self.blocks.get(line)
        if record is not None and record.hash == text_hash:
            return record
        return next((b for b in self.blocks.values() if b.hash == text_hash), None)


def _as_copy(value: object) -> int | None:
    if value is None or value == "":
        return None
    return int(cast(Any, value))


@dataclass
class Ledger:
    """A ledger: its runs, the page runs and the blocks they recorded (see the module).

    A run's ledger is made with :meth:`start` and filled with :meth:`record_report`
    (a pytest report) or :meth:`record_block` and :meth:`record_page`.
    """

    runs: list[RunInfo] = field(default_factory=list)
    pages: list[PageRecord] = field(default_factory=list)
    blocks: list[BlockRecord] = field(default_factory=list)
    tests: list[TestFileRecord] = field(default_factory=list)

    # -- writing a run's ledger ----------------------------------------------------

    @classmethod
    def start(cls, run: RunInfo) -> Ledger:
        """The empty ledger of one run."""
        return cls(runs=[run])

    @property
    def run(self) -> RunInfo:
        """The run of a one-run ledger (the first run of a merged one)."""
        if not self.runs:
            raise LedgerError("the ledger has no run")
        return self.runs[0]

    def update_run(self, **fields: str | None) -> None:
        """Fill in the run's fields that are still ``None`` (``kubernetes=``, ``containerd=``...)."""
        known = {f.name for f in dataclasses.fields(RunInfo)}
        unknown = set(fields) - known
        if unknown:
            raise TypeError(f"RunInfo has no field {', '.join(sorted(unknown))}")
        run = self.run
        values = {k: v for k, v in fields.items() if v is not None and getattr(run, k) is None}
        if values:
            self.runs[0] = dataclasses.replace(run, **values)

    def record_block(
        self,
        page: str,
        line: int,
        text_hash: str,
        outcome: Outcome,
        seconds: float = 0.0,
        reason: str = "",
        copy: int | None = None,
    ) -> BlockRecord:
        """Record a block's outcome in this run; a block recorded again replaces its record."""
        if outcome not in get_args(Outcome):
            raise ValueError(f"unknown outcome {outcome!r} (known: {', '.join(get_args(Outcome))})")
        record = BlockRecord(page, line, text_hash, outcome, round(seconds, 3), reason, copy)
        for i, old in enumerate(self.blocks):
            if (old.run, old.page, old.line, old.copy) == (0, page, line, copy):
                self.blocks[i] = record
                return record
        self.blocks.append(record)
        return record

    def record_block_of(
        self,
        page: str,
        block: Block,
        outcome: Literal["passed", "failed", "skipped"],
        seconds: float = 0.0,
        reason: str = "",
        copy: int | None = None,
        output_block: Block | None = None,
    ) -> list[BlockRecord]:
        """Record ``block`` (and the ``output`` block after it, as shown) from its pytest outcome.

        A block skipped by design (``skip=``, a diagram: :func:`k8snotes.plan.plan`
        says ``skip`` on any cluster) is recorded as ``shown``, with the plan's reason.
        """
        decided = plan(block)
        records = [
            self._record_planned(
                page,
                block.line,
                block_hash(block.text),
                decided.action,
                decided.reason,
                outcome,
                seconds,
                reason,
                copy,
            )
        ]
        if output_block is not None:
            text_hash = block_hash(output_block.text)
            records.append(
                self.record_block(
                    page, output_block.line, text_hash, "shown", 0.0, OUTPUT_REASON, copy
                )
            )
        return records

    def _record_planned(
        self,
        page: str,
        line: int,
        text_hash: str,
        action: str,
        planned_reason: str,
        outcome: str,
        seconds: float,
        reason: str,
        copy: int | None,
    ) -> BlockRecord:
        if action == "skip":
            return self.record_block(page, line, text_hash, "shown", seconds, planned_reason, copy)
        if action == "output":
            return self.record_block(page, line, text_hash, "shown", seconds, OUTPUT_REASON, copy)
        if outcome not in {"passed", "failed", "skipped"}:
            raise ValueError(f"a pytest outcome is passed, failed or skipped, not {outcome!r}")
        return self.record_block(
            page, line, text_hash, cast(Outcome, outcome), seconds, reason, copy
        )

    def record_page(
        self,
        page: str,
        *,
        page_hash: str | None = None,
        seconds: float | None = None,
        leak_check: LeakCheck | None = None,
        copy: int | None = None,
        add_seconds: float = 0.0,
    ) -> PageRecord:
        """Record (or update) a page's run in this run: set what is given, add ``add_seconds``."""
        record = next(
            (p for p in self.pages if (p.run, p.page, p.copy) == (0, page, copy)),
            None,
        )
        if record is None:
            record = PageRecord(page, copy=copy)
            self.pages.append(record)
        if page_hash is not None:
            record.hash = page_hash
        if seconds is not None:
            record.seconds = seconds
        if leak_check is not None:
            if leak_check not in get_args(LeakCheck):
                raise ValueError(f"unknown leak check result {leak_check!r}")
            record.leak_check = leak_check
        record.seconds = round(record.seconds + add_seconds, 3)
        return record

    def record_report(self, report: Any) -> None:
        """Record what one pytest report of a block says (every phase; others are ignored).

        ``report`` is a ``pytest.TestReport`` (read, not imported: ``when``,
        ``outcome``, ``duration``, ``user_properties``, ``longreprtext``). Its
        ``user_properties`` must hold ``page`` (the docs name) and what
        :func:`block_properties` gives; a report without them is not a block's.

        - every phase adds its duration to the page's seconds;
        - ``call`` (or a ``setup`` that failed or skipped) records the block, and
          the ``output`` block after it as shown;
        - ``teardown`` sets the page's leak check from a ``leak_check`` property;
          a teardown that failed without one is the page's clean-up failing,
          recorded as ``failed``;
        - ``run_<field>`` properties (``run_kubernetes``...) fill in the run's
          fields still unknown (:meth:`update_run`).
        """
        props = dict(getattr(report, "user_properties", []) or [])
        page = props.get("page")
        if not page or PROP_LINE not in props:
            self._record_test(report)
            return
        page = str(page)
        copy = _as_copy(props.get(PROP_COPY, props.get("machine")))
        run_fields = {
            key.removeprefix("run_"): str(value)
            for key, value in props.items()
            if key.startswith("run_") and value is not None
        }
        if run_fields:
            known = {f.name for f in dataclasses.fields(RunInfo)}
            self.update_run(**{k: v for k, v in run_fields.items() if k in known})
        when, outcome = report.when, report.outcome
        hash_value = props.get(PROP_PAGE_HASH)
        self.record_page(
            page,
            page_hash=str(hash_value) if hash_value else None,
            copy=copy,
            add_seconds=float(report.duration or 0.0),
        )
        if when == "teardown":
            leak = props.get(PROP_LEAK_CHECK)
            if leak is not None:
                self.record_page(page, leak_check=cast(LeakCheck, str(leak)), copy=copy)
            elif outcome == "failed":
                self.record_page(page, leak_check="failed", copy=copy)
            return
        if when == "setup" and outcome == "passed":
            return
        reason = ""
        if outcome == "skipped":
            reason = str(props.get("skip_reason") or _first_line(report) or "skipped")
        elif outcome == "failed":
            reason = _first_line(report)
        self._record_planned(
            page,
            int(cast(Any, props[PROP_LINE])),
            str(props.get(PROP_HASH, "")),
            str(props.get(PROP_PLAN, "run")),
            str(props.get(PROP_PLAN_REASON, "")),
            outcome,
            float(report.duration or 0.0),
            reason,
            copy,
        )
        if PROP_OUTPUT_LINE in props:
            self.record_block(
                page,
                int(cast(Any, props[PROP_OUTPUT_LINE])),
                str(props.get(PROP_OUTPUT_HASH, "")),
                "shown",
                0.0,
                OUTPUT_REASON,
                copy,
            )

    def _record_test(self, report: Any) -> None:
        """A report of a test that is not a page's block: its file's record adds it up."""
        file = str(getattr(report, "nodeid", "")).split("::", 1)[0]
        if not file or file.endswith(".md"):
            return
        record = next((t for t in self.tests if (t.run, t.file) == (0, file)), None)
        if record is None:
            record = TestFileRecord(file)
            self.tests.append(record)
        record.seconds = round(record.seconds + float(report.duration or 0.0), 3)
        if report.outcome == "failed":
            record.failed += 1
        elif report.when == "call" or (report.when == "setup" and report.outcome == "skipped"):
            if report.outcome == "passed":
                record.passed += 1
            else:
                record.skipped += 1

    # -- the file ------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The ledger as the JSON document its file holds."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "runs": [dataclasses.asdict(r) for r in self.runs],
            "pages": [{k: getattr(p, k) for k in _PAGE_KEYS} for p in self.pages],
            "blocks": [{k: getattr(b, k) for k in _BLOCK_KEYS} for b in self.blocks],
            "tests": [dataclasses.asdict(t) for t in self.tests],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Ledger:
        """Read the JSON document of a ledger file.

        Raises:
            LedgerError: Not a ledger, a later version, or a malformed record.
        """
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise LedgerError(f'not a k8snotes ledger (no "format": "{FORMAT}")')
        version = data.get("version")
        if not isinstance(version, int) or version > VERSION or version < 1:
            raise LedgerError(f"ledger version {version!r}: this k8snotes reads 1 to {VERSION}")
        try:
            runs = [RunInfo(**r) for r in data.get("runs", [])]
            pages = [PageRecord(**_record(p, _PAGE_KEYS)) for p in data.get("pages", [])]
            blocks = [BlockRecord(**_record(b, _BLOCK_KEYS)) for b in data.get("blocks", [])]
            tests = [TestFileRecord(**_record(t, _TEST_KEYS)) for t in data.get("tests", [])]
        except (KeyError, TypeError, ValueError) as exc:
            raise LedgerError(f"malformed ledger record: {type(exc).__name__}: {exc}") from None
        records: list[PageRecord | BlockRecord | TestFileRecord] = [*pages, *blocks, *tests]
        for record in records:
            if not 0 <= record.run < len(runs):
                name = record.file if isinstance(record, TestFileRecord) else record.page
                raise LedgerError(f"{name}: run {record.run} is not in the ledger's runs")
        for block in blocks:
            if block.outcome not in get_args(Outcome):
                raise LedgerError(f"{block.page}:{block.line}: unknown outcome {block.outcome!r}")
        for page in pages:
            if page.leak_check not in get_args(LeakCheck):
                raise LedgerError(f"{page.page}: unknown leak check result {page.leak_check!r}")
        return cls(runs, pages, blocks, tests)

    def write(self, path: Path | str) -> Path:
        """Write the ledger to ``path`` atomically (a temporary file in its folder, then a rename)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(self.to_dict(), out, indent=1)
                out.write("\n")
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    @classmethod
    def read(cls, path: Path | str) -> Ledger:
        """Read a ledger file.

        Raises:
            LedgerError: Not JSON, not a ledger, or a later version.
            OSError: The file cannot be read.
        """
        try:
            data = json.loads(Path(path).read_text())
        except json.JSONDecodeError as exc:
            raise LedgerError(f"{path}: not JSON: {exc}") from None
        try:
            return cls.from_dict(data)
        except LedgerError as exc:
            raise LedgerError(f"{path}: {exc}") from None

    # -- combining -----------------------------------------------------------------

    @classmethod
    def merge(cls, ledgers: Iterable[Ledger]) -> Ledger:
        """All the ledgers' runs, pages and blocks in one (nothing checked: :func:`check_cover`)."""
        merged = cls()
        for ledger in ledgers:
            offset = len(merged.runs)
            merged.runs += ledger.runs
            merged.pages += [dataclasses.replace(p, run=p.run + offset) for p in ledger.pages]
            merged.blocks += [dataclasses.replace(b, run=b.run + offset) for b in ledger.blocks]
            merged.tests += [dataclasses.replace(t, run=t.run + offset) for t in ledger.tests]
        return merged

    def overlay(self, newer: Ledger) -> Ledger:
        """This ledger with the pages ``newer`` ran replaced by ``newer``'s records.

        What ``<cache>/ledger/latest.json`` keeps: each page as its latest run left it,
        when runs of a few pages come one after another.
        """
        replaced = {p.page for p in newer.pages} | {b.page for b in newer.blocks}
        files = {t.file for t in newer.tests}
        kept = Ledger(
            self.runs,
            [p for p in self.pages if p.page not in replaced],
            [b for b in self.blocks if b.page not in replaced],
            [t for t in self.tests if t.file not in files],
        )
        used = sorted(
            {p.run for p in kept.pages} | {b.run for b in kept.blocks} | {t.run for t in kept.tests}
        )
        renumber = {old: new for new, old in enumerate(used)}
        kept = Ledger(
            [self.runs[i] for i in used],
            [dataclasses.replace(p, run=renumber[p.run]) for p in kept.pages],
            [dataclasses.replace(b, run=renumber[b.run]) for b in kept.blocks],
            [dataclasses.replace(t, run=renumber[t.run]) for t in kept.tests],
        )
        return Ledger.merge([kept, newer])

    def write_latest(self, target: Path) -> Path:
        """Lay this run over the latest ledger at ``target`` (:meth:`overlay`) and write it.

        ``target`` is usually :func:`latest_path` of the docs folder. An unreadable
        previous file is replaced. Returns the path written.
        """
        try:
            previous = Ledger.read(target) if target.exists() else Ledger()
        except (LedgerError, OSError):
            previous = Ledger()
        return previous.overlay(self).write(target)

    # -- reading -------------------------------------------------------------------

    def page_names(self) -> list[str]:
        """Every page the ledger has a record of, sorted."""
        return sorted({p.page for p in self.pages} | {b.page for b in self.blocks})

    def view(self, page: str) -> PageView | None:
        """The page as the ledger saw it (all its runs together), or ``None`` if absent."""
        records = [p for p in self.pages if p.page == page]
        blocks = [b for b in self.blocks if b.page == page]
        if not records and not blocks:
            return None
        own = next((p for p in records if p.copy is None), records[0] if records else None)
        run_index = own.run if own else blocks[0].run
        merged: dict[int, BlockRecord] = {}
        for b in sorted(blocks, key=lambda b: (b.copy is not None, b.copy or 0, b.run)):
            old = merged.get(b.line)
            if old is None or _RANK[b.outcome] > _RANK[old.outcome]:
                merged[b.line] = b
        leaks = {p.leak_check for p in records}
        leak: LeakCheck = (
            "failed" if "failed" in leaks else "passed" if leaks == {"passed"} else "not run"
        )
        runs = {(p.run, p.copy) for p in records} | {(b.run, b.copy) for b in blocks}
        return PageView(
            page,
            own.hash if own else "",
            self.runs[run_index],
            leak,
            dict(sorted(merged.items())),
            len(runs),
        )


_PAGE_KEYS = ("run", "page", "copy", "hash", "seconds", "leak_check")
_BLOCK_KEYS = ("run", "page", "copy", "line", "hash", "outcome", "reason", "seconds")
_TEST_KEYS = ("run", "file", "seconds", "passed", "failed", "skipped")
_TYPES: dict[str, type] = {
    "run": int,
    "line": int,
    "seconds": float,
    "hash": str,
    "reason": str,
    "passed": int,
    "failed": int,
    "skipped": int,
}


def _record(data: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """A file's record as keyword arguments: known keys only, numbers as numbers."""
    if not isinstance(data, Mapping):
        raise TypeError(f"a record is an object, not {data!r}")
    out = {k: data[k] for k in keys if k in data}
    for key, kind in _TYPES.items():
        if key in out:
            out[key] = kind(out[key])
    if "copy" in out:
        out["copy"] = _as_copy(out["copy"])
    return out


_XDIST_HEADER = re.compile(r"^\[gw\d+\] ")
"""The line pytest-xdist puts before a worker's failure: ``[gw0] linux -- Python 3.11.7 ...``."""


def _first_line(report: Any) -> str:
    """A failure's first line (its ``file:line: ...`` summary), at most 300 characters."""
    text = str(getattr(report, "longreprtext", "") or "")
    for line in text.splitlines():
        if line.strip() and not _XDIST_HEADER.match(line):
            return line.strip()[:300]
    return ""


# -- what the plugin attaches to a block's report -------------------------------------

PROP_LINE = "line"
"""user_properties key: the block's line (its fence's, in the page)."""
PROP_HASH = "block_hash"
"""user_properties key: :func:`block_hash` of the block."""
PROP_PLAN = "plan"
"""user_properties key: :func:`k8snotes.plan.plan`'s action on any cluster (``run``, ``skip``)."""
PROP_PLAN_REASON = "plan_reason"
"""user_properties key: the plan's reason for a block skipped by design."""
PROP_OUTPUT_LINE = "output_line"
"""user_properties key: the line of the ``output`` block that follows the block."""
PROP_OUTPUT_HASH = "output_hash"
"""user_properties key: :func:`block_hash` of that ``output`` block."""
PROP_PAGE_HASH = "page_hash"
"""user_properties key: :func:`page_hash` of the block's page."""
PROP_COPY = "copy"
"""user_properties key: the copy index of the page's run (absent: its own run; else ``machine``)."""
PROP_LEAK_CHECK = "leak_check"
"""user_properties key, on a page's last block's teardown: ``passed``, ``failed``, ``not run``."""


def block_properties(
    block: Block,
    output_block: Block | None = None,
    *,
    page_hash: str | None = None,
    copy: int | None = None,
) -> list[tuple[str, object]]:
    """What a block's item adds to its ``user_properties`` for :meth:`Ledger.record_report`.

    Plain values, so they cross pytest-xdist to the controller (and show in JUnit XML).

    ```python
    from pathlib import Path

    from k8snotes.ledger import block_properties
    from k8snotes.markdown.blocks import Block

    block = Block(Path("docs/p.md"), 5, "bash", "echo hi\\n", {"skip": "demo"})
    props = dict(block_properties(block, page_hash="abc"))
    assert props["line"] == 5 and props["plan"] == "skip" and props["plan_reason"] == "demo"
    ```
    """
    decided = plan(block)
    props: list[tuple[str, object]] = [
        (PROP_LINE, block.line),
        (PROP_HASH, block_hash(block.text)),
        (PROP_PLAN, decided.action),
    ]
    if decided.reason:
        props.append((PROP_PLAN_REASON, decided.reason))
    if output_block is not None:
        props += [
            (PROP_OUTPUT_LINE, output_block.line),
            (PROP_OUTPUT_HASH, block_hash(output_block.text)),
        ]
    if page_hash is not None:
        props.append((PROP_PAGE_HASH, page_hash))
    if copy is not None:
        props.append((PROP_COPY, copy))
    return props


# -- the pages as they are now -------------------------------------------------------


@dataclass(frozen=True)
class CurrentBlock:
    """A block of a page as it is now, and what the runner does with it.

    Attributes:
        line: Its fence's line.
        hash: :func:`block_hash` of its text.
        action: :func:`k8snotes.plan.plan`'s action on any cluster: ``run``, ``skip``, ``output``.
        reason: Why it is skipped, for a ``skip``.
        text: Its text, includes resolved.
    """

    line: int
    hash: str
    action: str
    reason: str = ""
    text: str = ""

    @property
    def executable(self) -> bool:
        """True for a block the runner executes (``requires=`` ones included)."""
        return self.action == "run"


@dataclass(frozen=True)
class CurrentPage:
    """A page as it is now: its hash and its blocks, or why it does not parse.

    Attributes:
        name: Relative to the docs folder.
        hash: :func:`page_hash`.
        blocks: Every block, in page order.
        error: The parse error, when the page does not parse (then no blocks).
    """

    name: str
    hash: str
    blocks: tuple[CurrentBlock, ...] = ()
    error: str = ""

    @property
    def executable(self) -> list[CurrentBlock]:
        """The blocks the runner executes."""
        return [b for b in self.blocks if b.executable]


def current_page(
    path: Path, docs: Path, includes: Includes, root: Path | None = None
) -> CurrentPage:
    """Parse the page at ``path`` (under ``docs``) as the runner does: its hash and blocks."""
    name = path.relative_to(docs).as_posix()
    text = path.read_text()
    try:
        blocks = parse_page(path, includes, root)
    except PageError as exc:
        return CurrentPage(name, page_hash(text, []), (), str(exc))
    current = tuple(
        CurrentBlock(b.line, block_hash(b.text), plan(b).action, plan(b).reason, b.text)
        for b in blocks
    )
    return CurrentPage(name, page_hash(text, (b.text for b in blocks)), current)


def current_pages(
    docs: Path, includes: Includes | None = None, root: Path | None = None
) -> dict[str, CurrentPage]:
    """Every page under ``docs`` (name -> :class:`CurrentPage`), sorted by name.

    ``includes`` defaults to the ``mkdocs.yml`` beside ``docs``; ``root`` to ``docs``' parent.
    """
    root = root or docs.parent
    includes = includes or Includes(root / "mkdocs.yml", [root])
    pages = (current_page(p, docs, includes, root) for p in sorted(docs.rglob("*.md")))
    return {page.name: page for page in pages}


# -- checks --------------------------------------------------------------------------


def _where(ledger: Ledger, run: int, copy: int | None) -> str:
    info = ledger.runs[run]
    what = f"shard {info.shard}" if info.shard else f"run {run + 1} ({info.date})"
    return what + (f", copy {copy}" if copy is not None else "")


def _shard_problems(ledger: Ledger) -> list[str]:
    problems: list[str] = []
    shards: dict[str, int] = {}
    counts: set[int] = set()
    for info in ledger.runs:
        if info.shard is None:
            continue
        k, sep, n = info.shard.partition("/")
        if not (sep and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
            problems.append(f"shard {info.shard!r}: not K/N")
            continue
        shards[info.shard] = shards.get(info.shard, 0) + 1
        counts.add(int(n))
    for shard, count in sorted(shards.items()):
        if count > 1:
            problems.append(f"shard {shard}: {count} ledgers")
    if len(counts) > 1:
        problems.append(f"ledgers of splits into {' and '.join(map(str, sorted(counts)))} shards")
    elif counts:
        total = counts.pop()
        missing = [f"{i}/{total}" for i in range(1, total + 1) if f"{i}/{total}" not in shards]
        problems += [f"shard {s}: no ledger" for s in missing]
    return problems


def _test_problems(ledger: Ledger) -> list[str]:
    problems: list[str] = []
    by_file: dict[str, list[TestFileRecord]] = {}
    for t in ledger.tests:
        by_file.setdefault(t.file, []).append(t)
    for file, records in sorted(by_file.items()):
        sharded = [t for t in records if ledger.runs[t.run].shard]
        if len(sharded) > 1:
            where = " and ".join(_where(ledger, t.run, None) for t in sharded)
            problems.append(f"{file}: ran in {where}: a test file runs in one shard")
        for t in records:
            if t.failed:
                problems.append(f"{file}: {t.failed} failed in {_where(ledger, t.run, None)}")
    return problems


def check_cover(ledger: Ledger, pages: Mapping[str, CurrentPage]) -> list[str]:
    """Why ``ledger`` does not vouch for ``pages``, one line per problem (``[]``: it does).

    It does when every executable block of every page appears exactly once in each
    run of its page; a page runs once as its own, or more as copies its ledger
    declares (a page record with ``copy`` K: a set-up page run on another shard),
    and at least once; no block failed, no leak check failed; every record is of a
    page and block as they are now (same hashes); the shards' ledgers are each
    there once; each test file that is not a page ran in one shard only, with no
    failure.
    """
    problems = _shard_problems(ledger) + _test_problems(ledger)
    declared = {(p.run, p.page, p.copy) for p in ledger.pages}
    by_page: dict[str, list[BlockRecord]] = {}
    for b in ledger.blocks:
        by_page.setdefault(b.page, []).append(b)
    page_records: dict[str, list[PageRecord]] = {}
    for p in ledger.pages:
        page_records.setdefault(p.page, []).append(p)
    for name in sorted(set(by_page) | set(page_records)):
        if name not in pages:
            problems.append(f"{name}: in the ledger, but no such page under the docs")
    for name, page in pages.items():
        blocks = by_page.get(name, [])
        records = page_records.get(name, [])
        if page.error:
            problems.append(f"{name}: does not parse: {page.error}")
            continue
        executable = page.executable
        runs = sorted(
            {(b.run, b.copy) for b in blocks} | {(p.run, p.copy) for p in records},
            key=lambda rc: (rc[0], rc[1] or 0),
        )
        if executable and not runs:
            lines = ", ".join(str(b.line) for b in executable)
            problems.append(
                f"{name}: missing: none of its {len(executable)} executable blocks ran "
                f"(lines {lines})"
            )
            continue
        own = [rc for rc in runs if rc[1] is None]
        if len(own) > 1:
            problems.append(
                f"{name}: ran as its own page {len(own)} times "
                f"({'; '.join(_where(ledger, r, c) for r, c in own)}): "
                "a page runs once, or as a copy its ledger declares"
            )
        for run, copy in runs:
            where = _where(ledger, run, copy)
            if copy is not None and (run, name, copy) not in declared:
                problems.append(
                    f"{name}: blocks recorded as copy {copy} in {where}, "
                    "but that ledger does not say it ran the page as a copy"
                )
            here = [b for b in blocks if (b.run, b.copy) == (run, copy)]
            for block in executable:
                found = [b for b in here if b.line == block.line]
                if not found:
                    problems.append(f"{name}:{block.line}: missing from {where}")
                elif len(found) > 1:
                    problems.append(f"{name}:{block.line}: appears {len(found)} times in {where}")
        current = {b.line: b for b in page.blocks}
        for b in blocks:
            where = _where(ledger, b.run, b.copy)
            present = current.get(b.line)
            if present is None:
                problems.append(f"{name}:{b.line}: recorded in {where}, but no block starts there")
                continue
            if b.hash != present.hash:
                problems.append(
                    f"{name}:{b.line}: {where} ran another text than the page's now (hash differs)"
                )
            if b.outcome == "failed":
                why = f": {b.reason}" if b.reason else ""
                problems.append(f"{name}:{b.line}: failed in {where}{why}")
            elif b.outcome == "shown" and present.executable:
                problems.append(
                    f"{name}:{b.line}: recorded as shown only in {where}, but it is executable"
                )
        for p in records:
            where = _where(ledger, p.run, p.copy)
            if p.leak_check == "failed":
                problems.append(f"{name}: the leak check failed in {where}")
            if p.hash and p.hash != page.hash:
                problems.append(f"{name}: {where} ran another version of the page (hash differs)")
    return problems


def page_durations(ledger: Ledger) -> dict[str, float]:
    """Page -> seconds, what shards balance with: the mean over the page's runs, sorted by page.

    A page with blocks but no page record counts its blocks' seconds.
    """
    runs: dict[str, list[float]] = {}
    for p in ledger.pages:
        runs.setdefault(p.page, []).append(p.seconds)
    out = {page: round(sum(s) / len(s), 1) for page, s in runs.items()}
    for b in ledger.blocks:
        if b.page not in runs:
            out[b.page] = round(out.get(b.page, 0.0) + b.seconds, 3)
    return {page: round(s, 1) for page, s in sorted(out.items())}


def durations_of_tests(ledger: Ledger) -> dict[str, float]:
    """Test file (not a page) -> seconds, the mean over its runs, sorted by file."""
    runs: dict[str, list[float]] = {}
    for t in ledger.tests:
        runs.setdefault(t.file, []).append(t.seconds)
    return {file: round(sum(s) / len(s), 1) for file, s in sorted(runs.items())}


Status = Literal["verified", "not verified", "changed since", "failing"]


@dataclass(frozen=True)
class PageStatus:
    """A page against the ledger: ``verified``, ``not verified``, ``changed since``, ``failing``.

    Attributes:
        page: The page's name.
        status: Its status.
        detail: What the ledger says of it (the run, the failed blocks).
    """

    page: str
    status: Status
    detail: str = ""


def page_statuses(ledger: Ledger, pages: Mapping[str, CurrentPage]) -> list[PageStatus]:
    """Each page with an executable block (or that does not parse), against ``ledger``.

    A page that failed is ``failing`` even when it changed since (the failure is
    what its author needs to know); a page that does not parse is ``failing``.
    """
    out: list[PageStatus] = []
    for name, page in pages.items():
        if page.error:
            out.append(PageStatus(name, "failing", f"does not parse: {page.error}"))
            continue
        if not page.executable:
            continue
        view = ledger.view(name)
        if view is None:
            out.append(PageStatus(name, "not verified", "no run of it in the ledger"))
            continue
        when = f"{view.run.date[:10]}, commit {view.run.commit or '?'}"
        if view.failed:
            failed = [str(line) for line, b in view.blocks.items() if b.outcome == "failed"]
            what = f"blocks at lines {', '.join(failed)} failed" if failed else ""
            if view.leak_check == "failed":
                what = f"{what}; the leak check failed" if what else "the leak check failed"
            out.append(PageStatus(name, "failing", f"{what} ({when})"))
        elif view.hash != page.hash:
            out.append(PageStatus(name, "changed since", f"last verified {when}"))
        else:
            missing = [b.line for b in page.executable if view.block(b.line, b.hash) is None]
            if missing:
                lines = ", ".join(map(str, missing))
                out.append(PageStatus(name, "not verified", f"blocks at lines {lines} never ran"))
            else:
                out.append(PageStatus(name, "verified", when))
    return out
