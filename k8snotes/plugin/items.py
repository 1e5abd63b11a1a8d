"""Pages and blocks as pytest nodes: a page opens its session in its first block's set-up."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from k8snotes.cluster.base import ClusterInfo
from k8snotes.lifecycle import interrupted
from k8snotes.markdown import Block, PageError, parse_page
from k8snotes.markdown.frontmatter import PageSettings, page_settings
from k8snotes.plugin.options import _docs_name, docs_folders
from k8snotes.plugin.run import _STATE
from k8snotes.runner.session import BlockFailure, BlockSkipped, PageSession


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
    page_hash: str = ""
    """The page and what it includes, hashed as the ledger records it (not the runner)."""
    last_item: BlockItem | None = None
    """The block whose teardown closes the page: it carries the leak check's result."""
    machine: int = 1
    """The reader's machine this page runs on (reader mode)."""
    copy_of: MarkdownPage | None = None
    """The page this one repeats on another machine (a set-up page several machines need)."""
    shard_copy: int | None = None
    """This shard's number when the page is a set-up page whose own run is an earlier shard's."""

    @property
    def copy(self) -> int | None:
        """Which copy of the page this run is, for the ledger (``None``: the page's own run)."""
        return self.machine if self.copy_of is not None else self.shard_copy

    def copy_for(self, machine: int) -> MarkdownPage:
        """The same page, its blocks named ``NAME[machine-K]``, to run on reader's machine ``machine``."""
        from k8snotes.scheduling import copy_name

        copy = MarkdownPage.from_parent(self.parent, path=self.path)  # type: ignore[arg-type]
        copy.settings, copy.fingerprint = self.settings, self.fingerprint
        copy.page_hash = self.page_hash
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
        from k8snotes.ledger import page_hash

        text = self.path.read_text()
        self.fingerprint = fingerprint(text, (b.text for b in blocks))
        self.page_hash = page_hash(text, (b.text for b in blocks))
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
        from k8snotes.runner.targets import NamespaceTarget, ReaderTarget, ShellTarget, Target

        bringup = state.bringup
        target: Target
        if state.reader_mode:
            target = ReaderTarget(bringup.reader(self.machine).home)
        else:
            cluster = cluster or bringup.suite_cluster()
            if cluster.kubeconfig:
                bringup.use_cluster(cluster)
                target = NamespaceTarget(cluster)
            else:  # a project's fixture gave no cluster: shell blocks only
                target = ShellTarget(cluster.backend)
        shell_only = isinstance(target, ShellTarget)
        return PageSession(
            rel, state.root, target,
            set() if shell_only else bringup.capabilities,
            {} if shell_only else bringup.env,
            page_prelude(), update_outputs=update,
        )  # fmt: skip

    def _send_versions(self, env: dict[str, str]) -> None:
        """Once per process, while the page's cluster is up: its Kubernetes and containerd versions.

        They travel to the ledger (on the controller) as properties of the
        page's last block; a run whose pages make their own cluster knows them
        only now.
        """
        state = self.config.stash[_STATE]
        if state.versions_sent or self.last_item is None:
            return
        from k8snotes.ledger import containerd_version, kind_node, kubernetes_version

        kubernetes = kubernetes_version(env=env)
        if kubernetes is None:
            return
        state.versions_sent = True
        self.last_item.user_properties.append(("run_kubernetes", kubernetes))
        if (node := kind_node(env)) and (containerd := containerd_version(node, env)):
            self.last_item.user_properties.append(("run_containerd", containerd))

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
        self._send_versions(session.env)
        try:
            problems += session.close()
        except Exception as exc:
            problems.append(f"closing the page's session: {type(exc).__name__}: {exc}")
        leak_check = "not run"
        if not interrupted():
            try:
                left = session.leaks(self.settings.keeps)
            except Exception as exc:
                left = [f"the leak check could not look: {type(exc).__name__}: {exc}"]
            if left is not None:
                leak_check = "failed" if left else "passed"
            if left:
                problems.append(
                    "the page left behind what its clean-up did not mean to keep "
                    "(front matter keeps: "
                    + (", ".join(self.settings.keeps) or "nothing")
                    + "):\n  "
                    + "\n  ".join(left)
                )
        if self.last_item is not None:
            self.last_item.user_properties.append(("leak_check", leak_check))
        if session.updates:
            from k8snotes.check.update import apply_updates

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
    its own, and the capabilities are probed from the cluster. A ``ClusterInfo``
    with no kubeconfig means no cluster at all: pages run their shell blocks
    with nothing to talk to (:class:`~k8snotes.runner.targets.ShellTarget`).

    A cluster of your own, in `conftest.py`:

    ```python
    import pytest

    from k8snotes.cluster.base import ClusterInfo


    @pytest.fixture(scope="session")
    def k8s_cluster():
        return ClusterInfo("mine", "existing", "/path/to/kubeconfig", "my-context", [], True)
    ```
    """
    return request.config.stash[_STATE].bringup.suite_cluster()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Before a run's first page in reader mode: the reader's machine, outside any block's report.

    Its minutes are the run's, not the first page's; a failure is kept and
    reported by each block's set-up (:meth:`MarkdownPage.open_session`).
    """
    if not isinstance(item, BlockItem):
        return
    state = item.config.stash[_STATE]
    bringup = state.bringup
    if state.reader_mode and bringup.reader_run is None and not bringup.error:
        with contextlib.suppress(Exception):  # kept in bringup.error
            bringup.reader(item.parent.machine)  # type: ignore[union-attr]


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

        from k8snotes.ledger import block_properties

        page: MarkdownPage = self.parent  # type: ignore[assignment]
        page.last_item = self
        self.user_properties.append(("page", _docs_name(page)))
        if page.copy_of is not None:
            self.user_properties.append(("machine", page.machine))
        self.user_properties += block_properties(
            self.block,
            self.output_block,
            page_hash=page.page_hash,
            copy=page.copy,
        )
        self._request = TopRequest(self, _ispytest=True)  # type: ignore[arg-type]
        self._request._fillfixtures()
        try:
            page.open_session(self.funcargs.get("k8s_cluster"))
        except PageSetupError as exc:
            pytest.fail(str(exc), pytrace=False)  # an error of this block's set-up phase

    def runtest(self) -> None:
        page: MarkdownPage = self.parent  # type: ignore[assignment]
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
