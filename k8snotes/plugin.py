"""The pytest plugin: every page of ``docs/`` becomes a file of tests, one test per block.

Registered through the ``pytest11`` entry point. A page's blocks run in order
in one :class:`~k8snotes.runner.session.PageSession`.

With ``k8snotes_reader_mode = true`` in the ini (this site sets it), pages on
the ``kind`` backend run under the reader's conditions
(:class:`~k8snotes.runner.environment.ReaderRun`): one reader's machine per
run, pages in the order their front matter ``needs`` sets, on the clusters the
pages make themselves, all on one pytest-xdist worker. Otherwise, and on
``kwok``, ``existing`` or a registered backend, each page gets a namespace of
its own on the suite's cluster (the ``k8s_cluster`` fixture).
"""

from __future__ import annotations

import functools
import json
import os
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from k8snotes.cluster.base import Capability, ClusterInfo
from k8snotes.lifecycle import Resources, interrupted, terminate_gracefully
from k8snotes.markdown import Block, PageError, parse_page
from k8snotes.markdown.frontmatter import PageSettings, page_settings
from k8snotes.markdown.includes import Includes
from k8snotes.runner.session import BlockFailure, BlockSkipped, PageSession

RUN_ID_ENV = "K8SNOTES_RUN_ID"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("k8snotes", "run the code blocks of Markdown pages against a cluster")
    group.addoption(
        "--k8snotes",
        action="store_true",
        default=False,
        help="collect the Markdown files named on the command line (or under the "
        "k8snotes_docs folders) and run their blocks; off unless given or set in the ini",
    )
    parser.addini(
        "k8snotes", "run Markdown pages' blocks (like --k8snotes)", type="bool", default=False
    )
    parser.addini(
        "k8snotes_docs",
        "folders of pages, or single pages, to collect when k8snotes is on (default: docs)",
        type="paths",
        default=[],
    )
    parser.addini(
        "k8snotes_reader_mode",
        "on the kind backend, run pages as a reader does: on the clusters they make "
        "themselves (kind create cluster), kind's default context and namespace, in order "
        "of their front matter needs; off: each page gets a namespace of the suite's cluster",
        type="bool",
        default=False,
    )
    parser.addini(
        "k8snotes_docker_tests",
        "test files that change the Docker engine: in reader mode they run on the pages' "
        "worker, before the pages, so the leak check sees only the pages' changes",
        type="paths",
        default=[],
    )
    parser.addini(
        "k8snotes_snippets",
        "folders includes resolve in when the project has no mkdocs.yml (default: the rootdir)",
        type="paths",
        default=[],
    )
    group.addoption(
        "--k8snotes-backend",
        default=None,
        help="cluster backend: kind, kwok, existing, or one a package registers under the "
        "k8snotes.backends entry point group (default: kind where Docker runs, else kwok)",
    )
    group.addoption(
        "--k8snotes-context",
        default=None,
        help="use this context of your kubeconfig (the 'existing' backend)",
    )
    group.addoption(
        "--k8snotes-keep",
        action="store_true",
        help="leave the cluster (and Docker engine) running after the tests",
    )
    group.addoption(
        "--k8snotes-shard",
        default=None,
        metavar="K/N",
        help="run shard K of N: pages split by the k8snotes_durations file, a page always "
        "with the pages it needs (a page several need runs in each shard that needs it); "
        "the other tests run in shard 1",
    )
    group.addoption(
        "--k8snotes-mode",
        choices=["reader", "namespace"],
        default=None,
        help="reader: pages make their own clusters, as a reader's do (kind only); namespace: "
        "each page gets a namespace of the suite's cluster, quick for authors "
        "(default: reader on kind when k8snotes_reader_mode is set, else namespace)",
    )
    group.addoption(
        "--k8snotes-changed",
        action="store_true",
        default=False,
        help="run only the pages whose text, includes or runner changed since their last "
        "green run (and, in reader mode, the pages they need)",
    )
    group.addoption(
        "--k8snotes-update",
        action="store_true",
        default=False,
        help="for authors: write the real output into the pages where it differs from the "
        "output shown (placeholders kept where they matched), for review with git diff",
    )
    group.addoption(
        "--k8snotes-machines",
        type=int,
        default=None,
        metavar="N",
        help="reader mode: run the pages on N reader's machines side by side, each on a "
        "pytest-xdist worker of its own (at most -n); machine 1 is the host, the others "
        "network namespaces with a Docker engine each (default: the k8snotes_machines ini "
        "value, else 1)",
    )
    parser.addini(
        "k8snotes_durations",
        "a JSON file of seconds per page (relative to the rootdir) that shards and machines "
        "balance with; refresh it with `k8snotes ledger durations` (default: 2 s a block)",
        default="",
    )
    parser.addini(
        "k8snotes_machines",
        "reader mode: how many reader's machines run pages side by side (see --k8snotes-machines)",
        default="1",
    )
    group.addoption(
        "--k8snotes-docs",
        default=None,
        help="folder of pages (default: the k8snotes_docs ini value, else docs)",
    )


def enabled(config: pytest.Config) -> bool:
    """True when this run opted in: ``--k8snotes``, or ``k8snotes = true`` in the ini."""
    return bool(config.getoption("--k8snotes") or config.getini("k8snotes"))


def docs_folders(config: pytest.Config) -> list[Path]:
    """The folders whose Markdown pages are collected."""
    root = Path(str(config.rootpath))
    if option := config.getoption("--k8snotes-docs"):
        return [(root / option).resolve()]
    return [Path(p).resolve() for p in config.getini("k8snotes_docs")] or [root / "docs"]


def pytest_configure(config: pytest.Config) -> None:
    if not enabled(config):
        return  # opt-in: collect nothing, read no file
    if not hasattr(config, "workerinput"):
        os.environ.setdefault(RUN_ID_ENV, uuid.uuid4().hex[:8])
    state = config.stash[_STATE] = _RunState(config)
    # SIGTERM unwinds as Ctrl-C does: pytest's teardowns, then the run's resources.
    state.undo_signals = terminate_gracefully()
    if not hasattr(config, "workerinput"):
        state.hold_run_resources()
    config.pluginmanager.register(config.stash[_STATE].recorder, f"k8snotes-recorder-{id(config)}")
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is not None:  # a bring-up inside a test shows its progress as it happens
        from k8snotes import progress

        progress.let_through(capture.global_and_fixture_disabled)
    named = [Path(a.split("::")[0]).resolve() for a in config.args]
    if any(p.suffix == ".md" for p in named) and config.stash[_STATE].reader_mode:
        _add_needed_pages(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _STATE in config.stash:
        from contextlib import nullcontext

        from k8snotes import progress

        progress.let_through(nullcontext)
        config.stash[_STATE].undo_signals()


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


class _RunState:
    """Per-process state of the run: the cluster, and what was started here."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.root = Path(str(config.rootpath))
        snippets = [Path(p) for p in config.getini("k8snotes_snippets")] or [self.root]
        self.includes = Includes(self.root / "mkdocs.yml", snippets)
        self.cluster: ClusterInfo | None = None
        self.capabilities: set[str] = set()
        self.env: dict[str, str] = {}
        self.reader: Any = None
        self.recorder = _Recorder()
        self.bringup_error: str | None = None
        """The first bring-up error (reader machine or cluster), raised for every later page."""
        self.resources = Resources("the run")
        """What this process acquired for the run, released in reverse when its session ends."""
        self.undo_signals: Any = lambda: None

    def hold_run_resources(self) -> None:
        """On the controller: release at the end what any process of the run may start.

        The suite's cluster (namespace mode) and the Docker engine are shared by
        the run's workers, so the controller releases them, once all workers are
        done; each release checks that this run made what it releases.
        """

        def release_engine() -> None:
            from k8snotes.runner.environment import release_environment

            release_environment(self.run_id)

        def release_suite_cluster() -> None:
            from k8snotes.cluster.registry import release_cluster

            try:
                backend = self.backend()
            except ValueError:
                return
            release_cluster(backend, self.run_id)

        self.resources.acquire("the Docker engine, if this run started it", release_engine)
        self.resources.acquire("the suite's cluster, if this run made it", release_suite_cluster)
        if self.reader_mode and self.machines > 1:
            from k8snotes.runner.machines import restore_host

            self.resources.acquire("the host settings the machines changed", restore_host)

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
        """Reader's machines side by side: the ini or option value, at most one per worker."""
        if not self.reader_mode:
            return 1
        wanted = self.config.getoption("--k8snotes-machines")
        if wanted is None:
            wanted = int(self.config.getini("k8snotes_machines") or 1)
        return max(1, min(int(wanted), _worker_count(self.config)))

    def ensure_reader(self, machine: int = 1) -> Any:
        """Reader's machine ``machine``, prepared once per process; a failure is raised once.

        Machine 1 is the host; machine 2 and up are network namespaces with a
        Docker engine each (:mod:`k8snotes.runner.machines`), which this
        process enters for good: a worker runs one machine's pages only.
        """
        if self.bringup_error:
            raise RuntimeError(f"the reader's machine could not be prepared: {self.bringup_error}")
        if self.reader is not None and self.reader.machine_index != machine:
            raise RuntimeError(
                f"pages of reader's machines {self.reader.machine_index} and {machine} were "
                "sent to one worker (the scheduler keeps a machine's pages on one worker)"
            )
        if self.reader is None:
            from k8snotes.runner.environment import ReaderRun

            other = None
            try:
                if machine > 1:
                    from k8snotes.runner import machines

                    other = machines.Machine(machine)
                    machines.raise_inotify_limit()
                    self.resources.acquire(f"reader's machine {machine}", other.stop)
                    other.start()
                    other.enter()
                reader = ReaderRun(self.run_id, other)
                self.resources.acquire("the reader's kind clusters and containers", reader.release)
                self.capabilities, self.env = reader.prepare()
            except Exception as exc:
                self.bringup_error = f"{type(exc).__name__}: {exc}"
                raise
            self.reader = reader
        return self.reader

    @property
    def run_id(self) -> str:
        return os.environ[RUN_ID_ENV]

    def backend(self) -> Any:
        from k8snotes.cluster.registry import get_backend

        name = self.config.getoption("--k8snotes-backend")
        context = self.config.getoption("--k8snotes-context")
        if context and not name:
            name = "existing"
        return get_backend(name, context)

    def use_cluster(self, cluster: ClusterInfo) -> None:
        """Pages run on ``cluster``: probe what it offers, once."""
        if self.cluster is not cluster or not self.capabilities:
            from k8snotes.runner.environment import page_environment

            self.cluster = cluster
            self.capabilities, self.env = page_environment(cluster)

    def ensure_cluster(self) -> ClusterInfo:
        """The suite's cluster (namespace mode), brought up once; a failure is raised once.

        Later pages fail at once with the first error instead of trying again.
        """
        if self.bringup_error:
            raise RuntimeError(f"the cluster could not be brought up: {self.bringup_error}")
        if self.cluster is None:
            from k8snotes.cluster.registry import shared_cluster
            from k8snotes.runner.environment import page_environment, prepare_cluster

            backend = self.backend()
            try:
                self.cluster = shared_cluster(backend, self.run_id, prepare_cluster)
                self.capabilities, self.env = page_environment(self.cluster)
            except Exception as exc:
                self.bringup_error = f"{type(exc).__name__}: {exc}"
                raise
        return self.cluster


_STATE = pytest.StashKey[_RunState]()


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    """A Markdown page, when the run opted in and the page is under a docs folder or named."""
    config = parent.config
    if file_path.suffix != ".md" or _STATE not in config.stash:
        return None
    under_docs = any(d == file_path or d in file_path.parents for d in docs_folders(config))
    named = config.getoption("--k8snotes") and any(
        Path(a.split("::")[0]).resolve() in (file_path, *file_path.parents) for a in config.args
    )
    if not (under_docs or named):
        return None
    return MarkdownPage.from_parent(parent, path=file_path)


class MarkdownPage(pytest.File):
    """A page: its blocks are its tests, run in order in one session."""

    session_obj: PageSession | None = None
    setup_error: str | None = None
    """Why the page's session could not be opened: every block of the page reports it."""
    settings: PageSettings = PageSettings()
    fingerprint: str = ""
    machine: int = 1
    """The reader's machine this page runs on (reader mode)."""
    copy_of: MarkdownPage | None = None
    """The page this one repeats on another machine (a set-up page several machines need)."""

    def copy_for(self, machine: int) -> MarkdownPage:
        """The same page, its blocks named ``NAME[machine-K]``, to run on reader's machine ``machine``."""
        from k8snotes.scheduling import copy_name

        copy = MarkdownPage.from_parent(self.parent, path=self.path)  # type: ignore[arg-type]
        copy.settings, copy.fingerprint = self.settings, self.fingerprint
        copy.machine, copy.copy_of = machine, self
        copy.items = [
            BlockItem.from_parent(
                copy,
                name=copy_name(item.name, machine),
                block=item.block,
                output_block=item.output_block,
            )
            for item in self.items
        ]
        return copy

    def collect(self) -> list[BlockItem]:  # type: ignore[override]
        state = self.config.stash[_STATE]
        try:
            blocks = parse_page(self.path, state.includes, state.root)
            self.settings = page_settings(self.path, self.path.relative_to(state.root))
        except PageError as exc:
            raise self.CollectError(str(exc)) from None
        from k8snotes.changes import fingerprint

        self.fingerprint = fingerprint(self.path.read_text(), (b.text for b in blocks))
        items = []
        for i, block in enumerate(blocks):
            if block.meta.get("output"):
                continue
            following = blocks[i + 1] if i + 1 < len(blocks) else None
            output = following if following is not None and following.meta.get("output") else None
            items.append(
                BlockItem.from_parent(
                    self,
                    name=f"line-{block.line}-{block.language or 'text'}",
                    block=block,
                    output_block=output,
                )
            )
        self.items = items
        return items

    def open_session(self, cluster: ClusterInfo | None = None) -> PageSession:
        """The page's session, opened in its first block's set-up phase.

        ``cluster`` is the ``k8s_cluster`` fixture's (namespace mode). A failure
        here (the reader's machine, the cluster, the page's namespace) is an
        error of the set-up of each of the page's blocks, never a block's
        failure; it is raised once per block, not retried.
        """
        if self.setup_error is not None:
            raise PageSetupError(self.setup_error)
        if self.session_obj is None:
            try:
                self.session_obj = self._open_session(cluster)
            except Exception as exc:
                page = self.path.relative_to(self.config.stash[_STATE].root)
                self.setup_error = (
                    f"{page}: the page could not be set up: {type(exc).__name__}: {exc}"
                )
                raise PageSetupError(self.setup_error) from exc
        return self.session_obj

    def _open_session(self, cluster: ClusterInfo | None) -> PageSession:
        state = self.config.stash[_STATE]
        rel = self.path.relative_to(state.root)
        from k8snotes.runner.environment import page_prelude

        update = bool(self.config.getoption("--k8snotes-update"))
        from k8snotes.runner.targets import NamespaceTarget, ReaderTarget, Target

        target: Target
        if state.reader_mode:
            target = ReaderTarget(state.ensure_reader(self.machine).home)
        else:
            cluster = cluster or state.ensure_cluster()
            state.use_cluster(cluster)
            target = NamespaceTarget(cluster)
        return PageSession(
            rel, state.root, target, state.capabilities, state.env, page_prelude(),
            update_outputs=update,
        )  # fmt: skip

    def teardown(self) -> None:
        """Close the page's session, check what it left, write ``--k8snotes-update``'s changes.

        Each step runs whatever the one before it raised. After an interrupt
        (Ctrl-C, SIGTERM) the leak check is left out: the page's own clean-up
        never ran, and the run's release deletes what the pages made.
        """
        self.setup_error = None
        if self.session_obj is None:
            return
        session, self.session_obj = self.session_obj, None
        problems: list[str] = []
        try:
            problems += session.close()
        except Exception as exc:
            problems.append(f"closing the page's session: {type(exc).__name__}: {exc}")
        if not interrupted():
            try:
                left = session.leaks(self.settings.keeps)
            except Exception as exc:
                left = [f"the leak check could not look: {type(exc).__name__}: {exc}"]
            if left:
                problems.append(
                    "the page left behind what its clean-up did not mean to keep "
                    "(front matter keeps: "
                    + (", ".join(self.settings.keeps) or "nothing")
                    + "):\n  "
                    + "\n  ".join(left)
                )
        if session.updates:
            from k8snotes.runner.update import apply_updates

            for line in apply_updates(session.updates):
                self.warn(pytest.PytestWarning(f"--k8snotes-update: {line}"))
        if problems:
            raise BlockFailure(f"{session.page}: clean-up failed:\n" + "\n".join(problems))


class PageSetupError(RuntimeError):
    """The page's session could not be opened (raised again for each of its blocks)."""


def _wants_cluster(k8s_cluster: ClusterInfo) -> None:
    """What a block asks for outside reader mode (its fixture names are read from here)."""


@pytest.fixture(scope="session")
def k8s_cluster(request: pytest.FixtureRequest) -> ClusterInfo:
    """The cluster pages run on outside reader mode, brought up once per run.

    Override it in a ``conftest.py`` to run the pages on a cluster of your own
    making (pytest-kind, k3d, a remote one); each page still gets a namespace of
    its own, and the capabilities are probed from the cluster:

    ```python
    import pytest

    from k8snotes.cluster.base import ClusterInfo


    @pytest.fixture(scope="session")
    def k8s_cluster():
        return ClusterInfo("mine", "existing", "/path/to/kubeconfig", "my-context", [], True)
    ```
    """
    return request.config.stash[_STATE].ensure_cluster()


class BlockItem(pytest.Item):
    """One block of a page."""

    def __init__(self, *, block: Block, output_block: Block | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.block = block
        self.output_block = output_block
        # Outside reader mode the cluster comes from the k8s_cluster fixture, which a
        # project's conftest may override (reader-mode pages make their own clusters).
        self.funcargs: dict[str, Any] = {}
        wants = None if self.config.stash[_STATE].reader_mode else _wants_cluster
        self._fixtureinfo = self.session._fixturemanager.getfixtureinfo(
            node=self, func=wants, cls=None
        )
        self.fixturenames = self._fixtureinfo.names_closure

    def setup(self) -> None:
        """Fill the fixtures, then open the page's session (the first block of a page does)."""
        from _pytest.fixtures import TopRequest

        self._request = TopRequest(self, _ispytest=True)  # type: ignore[arg-type]
        self._request._fillfixtures()
        page: MarkdownPage = self.parent  # type: ignore[assignment]
        try:
            page.open_session(self.funcargs.get("k8s_cluster"))
        except PageSetupError as exc:
            pytest.fail(str(exc), pytrace=False)  # an error of this block's set-up phase

    def runtest(self) -> None:
        page: MarkdownPage = self.parent  # type: ignore[assignment]
        self.user_properties.append(("page", _docs_name(page)))
        if page.copy_of is not None:
            self.user_properties.append(("machine", page.machine))
        session = page.open_session(self.funcargs.get("k8s_cluster"))
        self.user_properties.append(("backend", session.backend))
        self.user_properties.append(("language", self.block.language))
        updates = len(session.updates)
        ran_before = session.command_seconds
        try:
            notes = session.run_block(self.block, self.output_block)
        except BlockSkipped as skip:
            self.user_properties.append(("skip_reason", str(skip)))
            pytest.skip(str(skip))
        finally:
            ran = session.command_seconds - ran_before
            self.user_properties.append(("command_seconds", round(ran, 3)))
        if len(session.updates) > updates:
            notes.append("output differed: page updated (--k8snotes-update)")
        for note in notes:
            self.user_properties.append(("note", note))
        self.user_properties.append(("pods", "real" if session.real_pods else "simulated"))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, BlockFailure | PageSetupError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)  # type: ignore[return-value]

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.block.line - 1, f"{self.block.location} [{self.block.language}]"


# -- order ----------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Order pages by their ``needs``; spread them over machines or keep this shard's.

    A page's ``teardown`` blocks (undoing the state it made for others) run
    right after the last page that needs it on the same machine.
    """
    from k8snotes.needs import Needs

    pages: dict[str, MarkdownPage] = {}
    for item in items:
        if isinstance(item, BlockItem):
            pages.setdefault(_docs_name(item.parent), item.parent)  # type: ignore[arg-type]
    if not pages:
        return
    needs = Needs({name: page.settings.needs for name, page in pages.items()})
    if shard := config.getoption("--k8snotes-shard"):
        _keep_shard(config, items, needs, shard)
    if config.getoption("--k8snotes-changed"):
        _keep_changed(config, items, pages, needs)
    pages = {n: p for n, p in pages.items() if any(i.parent is p for i in items)}
    if not pages:
        return
    needs = Needs({name: page.settings.needs for name, page in pages.items()})
    rank: dict[str, float] = {name: i for i, name in enumerate(needs.order())}
    plan = {name: [1] for name in pages}
    if config.stash[_STATE].machines > 1 and not shard:
        plan = _machine_plan(config, needs, items)
        for name, page in pages.items():
            page.machine = plan[name][0]
            for machine in plan[name][1:]:
                items += page.copy_for(machine).items
    position: dict[int, tuple[float, int]] = {}
    for index, item in enumerate(items):
        if not isinstance(item, BlockItem):
            continue
        name = _docs_name(item.parent)
        key = rank[name]
        if item.block.meta.get("teardown"):
            machine = item.parent.machine  # type: ignore[union-attr]
            last = max(
                [rank[d] for d in needs.dependents(name) if d in rank and machine in plan[d]]
                or [key]
            )
            key = last + 0.5
        position[id(item)] = (key, index)
    blocks = sorted((i for i in items if id(i) in position), key=lambda i: position[id(i)])
    others = [i for i in items if id(i) not in position]
    items[:] = others + blocks


def _deselect(config: pytest.Config, items: list[pytest.Item], dropped: list[pytest.Item]) -> None:
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        gone = {id(i) for i in dropped}
        items[:] = [i for i in items if id(i) not in gone]


def _keep_shard(config: pytest.Config, items: list[pytest.Item], needs: Any, shard: str) -> None:
    """Keep shard ``K/N``'s pages (a set-up page in every shard that needs it); other tests in 1/N.

    The split is :meth:`k8snotes.needs.Needs.spread` over the durations file
    of the project (``k8snotes_durations``), the same in every job whatever
    its cache holds.
    """
    from k8snotes.needs import OTHER_TESTS, shard_index

    try:
        index, count = shard_index(shard)
    except ValueError as exc:
        raise pytest.UsageError(f"--k8snotes-shard: {exc}") from None
    weights = _page_weights(config, _block_counts(items))
    plan = needs.spread(weights, count, first_load=weights.get(OTHER_TESTS, 0.0))
    _deselect(
        config,
        items,
        [
            i
            for i in items
            if (isinstance(i, BlockItem) and index not in plan[_docs_name(i.parent)])
            or (not isinstance(i, BlockItem) and index != 1)
        ],
    )


def _keep_changed(
    config: pytest.Config, items: list[pytest.Item], pages: dict[str, MarkdownPage], needs: Any
) -> None:
    """Deselect the pages that are green as they are (reader mode keeps what changed ones need)."""
    from k8snotes.changes import recorded

    green = recorded()
    keep = {n for n, p in pages.items() if green.get(str(p.path)) != p.fingerprint}
    if config.stash[_STATE].reader_mode:
        keep = needs.closure(keep)
    _deselect(
        config,
        items,
        [i for i in items if isinstance(i, BlockItem) and _docs_name(i.parent) not in keep],
    )


def _worker_count(config: pytest.Config) -> int:
    """How many pytest-xdist workers this run has (1 without xdist)."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        return int(workerinput.get("workercount", 1))
    workers = getattr(config.option, "numprocesses", None)
    if not workers or getattr(config.option, "dist", "no") == "no":
        return 1
    return int(workers)


def _block_counts(items: list[pytest.Item]) -> dict[str, int]:
    return dict(Counter(_docs_name(i.parent) for i in items if isinstance(i, BlockItem)))


def _machine_plan(
    config: pytest.Config, needs: Any, items: list[pytest.Item]
) -> dict[str, list[int]]:
    """The reader's machines of each page (see :meth:`k8snotes.needs.Needs.spread`)."""
    weights = _page_weights(config, _block_counts(items))
    return dict(needs.spread(weights, config.stash[_STATE].machines))


def _scheduler_machine_plan(config: pytest.Config) -> Any:
    """For the controller, which collects nothing: the machine of each page file of a collection.

    It reads the same front matter and durations file the workers read, so
    both sides come to the same :func:`_machine_plan`.
    """
    from k8snotes.needs import Needs
    from k8snotes.scheduling import COPY_SUFFIX

    def plan_for(collection: list[str]) -> Any:
        root = Path(str(config.rootpath))
        counts: Counter[str] = Counter()
        name_of: dict[str, str] = {}
        needs: dict[str, list[str]] = {}
        for nodeid in collection:
            path = nodeid.split("::", 1)[0]
            if not path.endswith(".md") or COPY_SUFFIX.search(nodeid):
                continue
            file = root / path
            if path not in name_of:
                name = _docs_name_of(config, file)
                name_of[path] = name
                try:
                    needs[name] = list(page_settings(file).needs)
                except (OSError, PageError):
                    needs[name] = []
            counts[name_of[path]] += 1
        weights = _page_weights(config, dict(counts))
        plan = Needs(needs).spread(weights, config.stash[_STATE].machines)
        return lambda path: plan.get(name_of.get(path, ""), [1])[0]

    return plan_for


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Pages stay whole on one worker; in reader mode all pages (and Docker tests) share one."""
    state = config.stash.get(_STATE, None)
    if state is None or config.getvalue("dist") in ("no", "each"):
        return None
    from k8snotes.scheduling import make_scheduler

    docker_tests = [str(p) for p in config.getini("k8snotes_docker_tests")]
    root = str(config.rootpath) + "/"
    return make_scheduler(
        config,
        log,
        state.reader_mode,
        [t.removeprefix(root) for t in docker_tests],
        _scheduler_machine_plan(config) if state.machines > 1 else None,
    )


DURATIONS_FILE = "page-durations.json"
"""Seconds each page took in this machine's last run, in the cache folder (for benchmarks)."""


def _page_weights(config: pytest.Config, block_counts: dict[str, int]) -> dict[str, float]:
    """Seconds per page from the project's durations file (``k8snotes_durations``).

    A page the file does not name counts 2 s a block. The file is the
    project's, not the cache's: every job of a CI run splits the same way.
    """
    from k8snotes.needs import OTHER_TESTS, read_durations

    value = config.getini("k8snotes_durations")
    recorded = read_durations(Path(config.rootpath) / value if value else None)
    weights = {name: recorded.get(name, 2.0 * count) for name, count in block_counts.items()}
    if OTHER_TESTS in recorded:
        weights[OTHER_TESTS] = recorded[OTHER_TESTS]
    return weights


def _docs_name(page: Any) -> str:
    return _docs_name_of(page.config, Path(page.path))


def _docs_name_of(config: pytest.Config, path: Path) -> str:
    """A page's name as ``needs`` writes it: relative to its docs folder."""
    for docs in docs_folders(config):
        if docs in path.parents:
            return str(path.relative_to(docs))
    return str(path.relative_to(config.rootpath))


# -- reporting ------------------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Report a block's skip at the block's own line, not at the plugin's."""
    outcome = yield
    report = outcome.get_result()
    if isinstance(item, BlockItem) and report.skipped and isinstance(report.longrepr, tuple):
        report.longrepr = (str(item.block.path), item.block.line, report.longrepr[2])


class _Recorder:
    """What this run's reports say, per config (an in-process inner run has its own)."""

    def __init__(self) -> None:
        self.collected: list[pytest.TestReport] = []
        self.page_seconds: dict[str, float] = {}
        self.page_outcomes: dict[str, set[str]] = {}
        """Page node path -> the node ids of its blocks that reported, or ``failed``."""

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
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


def _record_green(session: pytest.Session, recorder: _Recorder) -> None:
    """Record the pages of this process whose every block ran and passed."""
    from k8snotes.changes import record_green

    green: dict[str, str] = {}
    by_page: dict[str, list[BlockItem]] = {}
    for item in session.items:
        if isinstance(item, BlockItem):
            by_page.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
    for node, page_items in by_page.items():
        outcomes = recorder.page_outcomes.get(node, set())
        page: MarkdownPage = page_items[0].parent  # type: ignore[assignment]
        if "failed" not in outcomes and all(i.nodeid in outcomes for i in page_items):
            green[str(page.path)] = page.fingerprint
    record_green(green)


def _record_durations(recorder: _Recorder) -> None:
    """Add this run's page durations to the cache's record (for ``--k8snotes-shard``)."""
    if not recorder.page_seconds:
        return
    from k8snotes import paths

    path = paths.cache_dir() / DURATIONS_FILE
    recorded = json.loads(path.read_text()) if path.exists() else {}
    recorded.update({page: round(seconds, 1) for page, seconds in recorder.page_seconds.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(recorded, indent=1, sort_keys=True))


def block_summary(reports: list[pytest.TestReport]) -> list[str]:
    """Lines of the summary: blocks run and skipped (by reason), by backend and pods."""
    ran: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    pods: Counter[str] = Counter()
    notes: Counter[str] = Counter()
    for rep in reports:
        props = dict(rep.user_properties)
        if "language" not in props:
            continue
        if rep.skipped:
            skipped[str(props.get("skip_reason", "skipped"))] += 1
        else:
            ran[f"{rep.outcome} on {props.get('backend')}"] += 1
            if "pods" in props:
                pods[str(props["pods"])] += 1
        for key, value in rep.user_properties:
            if key == "note":
                notes[str(value)] += 1
    lines = [
        f"blocks executed: {sum(ran.values())} ({', '.join(f'{n} {k}' for k, n in sorted(ran.items()))})"
    ]
    if pods:
        lines.append(
            "pods: " + ", ".join(f"{n} blocks on {k} pods" for k, n in sorted(pods.items()))
        )
    lines.append(f"blocks skipped: {sum(skipped.values())}")
    lines += [f"  {n:4d} x {reason}" for reason, n in skipped.most_common()]
    if notes:
        lines.append("notes:")
        lines += [f"  {n:4d} x {note}" for note, n in notes.most_common()]
    return lines


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or _STATE not in config.stash:
        return
    recorder = config.stash[_STATE].recorder
    reports = [r for r in recorder.collected if dict(r.user_properties).get("language")]
    if not reports:
        return
    terminalreporter.section("k8snotes blocks")
    for line in block_summary(reports):
        terminalreporter.write_line(line)
    machines = config.stash[_STATE].machines
    if machines > 1:
        from k8snotes.runner.machines import Machine

        terminalreporter.write_line(
            f"reader's machines: {machines} side by side; machine 1: this host"
        )
        for index in range(2, machines + 1):
            terminalreporter.write_line("  " + Machine(index).describe())


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> Any:
    """After pytest's own teardowns (pages, fixtures), release what the run acquired.

    A wrapper, so the release runs even when a teardown raised or the run was
    interrupted; each release runs even when one before it failed.
    """
    config = session.config
    state = config.stash.get(_STATE, None)
    try:
        return (yield)
    finally:
        if state is not None:
            _finish_run(session, state)


def _finish_run(session: pytest.Session, state: _RunState) -> None:
    config = session.config
    if not config.getoption("--collect-only") and not interrupted():
        _record_green(session, state.recorder)
        if not hasattr(config, "workerinput"):
            _record_durations(state.recorder)
    if config.getoption("--k8snotes-keep"):
        return
    problems = state.resources.close()
    if state.reader is not None and state.reader.left:
        # Said where the run's output shows it: pages should delete what they make.
        print(
            f"\n[k8snotes] deleted what the pages left at the end of the run: {state.reader.left}"
        )
    if problems:
        print("\n[k8snotes] the run's clean-up failed:\n  " + "\n  ".join(problems))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


__all__ = ["BlockItem", "Capability", "MarkdownPage", "block_summary"]
