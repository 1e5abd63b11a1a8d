"""The run's state in each pytest process: the reader's machine or the suite's cluster, and what it holds."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import pytest

from k8snotes.markdown import PageError
from k8snotes.markdown.frontmatter import page_settings
from k8snotes.markdown.includes import Includes
from k8snotes.plugin.options import RUN_ID_ENV, docs_folders


def _add_needed_pages(config: pytest.Config) -> None:
    """Run the pages a named page ``needs`` too (before it), as a reader would have.

    ``pytest docs/concepts/pods.md`` in reader mode also runs the page that
    prepares its cluster; naming a folder or the whole suite adds nothing.
    """
    from k8snotes.needs import Needs

    named = [Path(a.split("::")[0]).resolve() for a in config.args]
    for docs in docs_folders(config):
        graph: dict[str, list[str]] = {}
        for page in docs.rglob("*.md"):
            try:
                graph[str(page.relative_to(docs))] = page_settings(page).needs
            except PageError:
                continue
        wanted = [
            docs / name
            for name in sorted(
                Needs(graph).closure(
                    str(p.relative_to(docs))
                    for p in named
                    if p.suffix == ".md" and docs in p.parents
                )
            )
            if not any(n == docs / name or n in (docs / name).parents for n in named)
        ]
        config.args[:0] = [str(p) for p in wanted]


class _Recorder:
    """What this run's reports say, per config (an in-process inner run has its own)."""

    def __init__(self) -> None:
        self.collected: list[pytest.TestReport] = []
        self.page_seconds: dict[str, float] = {}
        self.page_outcomes: dict[str, set[str]] = {}
        """Page node path -> the node ids of its blocks that reported, or ``failed``."""
        self.ledger: Any = None
        """The run's ledger, on the controller (every process's reports reach it)."""

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.ledger is not None:
            self.ledger.record_report(report)
        if report.when == "call" or (report.when == "setup" and report.skipped):
            self.collected.append(report)
        page_file = report.nodeid.split("::", 1)[0]
        if page_file.endswith(".md") and "::" in report.nodeid:
            seen = self.page_outcomes.setdefault(page_file, set())
            seen.add("failed" if report.failed else report.nodeid)
        if dict(report.user_properties).get("page") and "machine" not in dict(
            report.user_properties
        ):  # a set-up page's copy on another machine: counted once
            page = str(dict(report.user_properties)["page"])
            self.page_seconds[page] = self.page_seconds.get(page, 0.0) + report.duration


class _RunState:
    """Per-process state of the run: its options, its bring-up and what its reports say.

    What the run brings up and releases (engine, reader's machine, suite's
    cluster, host settings) is :attr:`bringup`'s, a
    :class:`~k8snotes.runner.bringup.Bringup` with no pytest in it.
    """

    def __init__(self, config: pytest.Config) -> None:
        from k8snotes.runner.bringup import Bringup

        self.config = config
        self.root = Path(str(config.rootpath))
        snippets = [Path(p) for p in config.getini("k8snotes_snippets")] or [self.root]
        self.includes = Includes(self.root / "mkdocs.yml", snippets)
        self.recorder = _Recorder()
        self.bringup = Bringup(os.environ[RUN_ID_ENV], self.backend)
        self.undo_signals: Any = lambda: None
        self.verified_elsewhere: dict[str, str] = {}
        """Pages left out because a ledger verified them as they are: page -> its commit."""
        self.versions_sent = False
        """True once this process sent the cluster's versions to the ledger."""
        self.ledger: Any = None
        """The run's results ledger (:mod:`k8snotes.ledger`), on the controller."""

    def start_ledger(self) -> None:
        """On the controller: the run's results ledger, which every report reaches."""
        from k8snotes.ledger import Ledger, RunInfo
        from k8snotes.provision import binaries

        bins = [str(b.bin_dir) for b in (binaries.KIND, binaries.KUBERNETES) if b.is_complete()]
        env = {**os.environ, "PATH": os.pathsep.join([*bins, os.environ.get("PATH", "")])}
        self.ledger = Ledger.start(
            RunInfo.collect(
                shard=self.config.getoption("--k8snotes-shard"),
                backend="kind" if self.reader_mode else None,
                env=env,
                root=self.root,
                cluster=False,
            )
        )
        self.recorder.ledger = self.ledger

    @functools.cached_property
    def reader_mode(self) -> bool:
        """True when pages run as a reader's: ``k8snotes_reader_mode`` set, on the ``kind`` backend."""
        mode = self.config.getoption("--k8snotes-mode")
        if mode == "namespace" or (mode is None and not self.config.getini("k8snotes_reader_mode")):
            return False
        try:
            return bool(self.backend().name == "kind")
        except ValueError:
            return False

    @functools.cached_property
    def machines(self) -> int:
        """Reader's machines side by side: the ini or option value, at most one per worker.

        One in a CI shard (``--k8snotes-shard``): a shard is one machine.
        """
        if not self.reader_mode or self.config.getoption("--k8snotes-shard"):
            return 1
        wanted = self.config.getoption("--k8snotes-machines")
        if wanted is None:
            wanted = int(self.config.getini("k8snotes_machines") or 1)
        return max(1, min(int(wanted), _worker_count(self.config)))

    def backend(self) -> Any:
        from k8snotes.cluster.registry import get_backend

        name = self.config.getoption("--k8snotes-backend")
        context = self.config.getoption("--k8snotes-context")
        if context and not name:
            name = "existing"
        return get_backend(name, context)


_STATE = pytest.StashKey[_RunState]()


def _worker_count(config: pytest.Config) -> int:
    """How many pytest-xdist workers this run has (1 without xdist)."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        return int(workerinput.get("workercount", 1))
    workers = getattr(config.option, "numprocesses", None)
    if not workers or getattr(config.option, "dist", "no") == "no":
        return 1
    return int(workers)
