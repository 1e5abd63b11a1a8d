"""The pytest plugin: every page of ``docs/`` becomes a file of tests, one test per block.

Registered through the ``pytest11`` entry point. A page's blocks run in order
in one :class:`~k8snotes.runner.session.PageSession`; pages are distributed
whole to pytest-xdist workers (``--dist loadfile``), all sharing one cluster.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from k8snotes.cluster.base import Capability, ClusterInfo
from k8snotes.markdown import Block, PageError, parse_page
from k8snotes.markdown.includes import Includes
from k8snotes.runner.session import BlockFailure, BlockSkipped, PageSession

RUN_ID_ENV = "K8SNOTES_RUN_ID"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("k8snotes", "run the site's code blocks against a cluster")
    group.addoption(
        "--k8snotes-backend",
        choices=["kind", "kwok", "existing"],
        default=None,
        help="cluster backend (default: kind where Docker runs, else kwok)",
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
    group.addoption("--k8snotes-docs", default="docs", help="folder of pages (default: docs)")


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        os.environ.setdefault(RUN_ID_ENV, uuid.uuid4().hex[:8])
    config.stash[_STATE] = _RunState(config)


class _RunState:
    """Per-process state of the run: the cluster, and what was started here."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.root = Path(str(config.rootpath))
        self.includes = Includes(self.root / "mkdocs.yml")
        self.cluster: ClusterInfo | None = None
        self.capabilities: set[str] = set()
        self.env: dict[str, str] = {}

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

    def ensure_cluster(self) -> ClusterInfo:
        if self.cluster is None:
            from k8snotes.cluster.registry import shared_cluster
            from k8snotes.runner.environment import page_environment, prepare_cluster

            backend = self.backend()
            self.cluster = shared_cluster(backend, self.run_id, prepare_cluster)
            self.capabilities, self.env = page_environment(self.cluster)
        return self.cluster


_STATE = pytest.StashKey[_RunState]()


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix != ".md":
        return None
    docs = Path(str(parent.config.rootpath)) / parent.config.getoption("--k8snotes-docs")
    if docs not in file_path.parents:
        return None
    return MarkdownPage.from_parent(parent, path=file_path)


class MarkdownPage(pytest.File):
    """A page: its blocks are its tests, run in order in one session."""

    session_obj: PageSession | None = None

    def collect(self) -> list[BlockItem]:  # type: ignore[override]
        state = self.config.stash[_STATE]
        try:
            blocks = parse_page(self.path, state.includes, state.root)
        except PageError as exc:
            raise self.CollectError(str(exc)) from None
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
        return items

    def page_session(self) -> PageSession:
        if self.session_obj is None:
            state = self.config.stash[_STATE]
            cluster = state.ensure_cluster()
            rel = self.path.relative_to(state.root)
            from k8snotes.runner.environment import page_prelude

            self.session_obj = PageSession(
                rel, state.root, cluster, state.capabilities, state.env, page_prelude(cluster)
            )
        return self.session_obj

    def teardown(self) -> None:
        if self.session_obj is not None:
            problems = self.session_obj.close()
            self.session_obj = None
            if problems:
                raise RuntimeError("clean-up failed:\n" + "\n".join(problems))


class BlockItem(pytest.Item):
    """One block of a page."""

    def __init__(self, *, block: Block, output_block: Block | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.block = block
        self.output_block = output_block

    def runtest(self) -> None:
        page: MarkdownPage = self.parent  # type: ignore[assignment]
        session = page.page_session()
        self.user_properties.append(("backend", session.cluster.backend))
        self.user_properties.append(("language", self.block.language))
        try:
            notes = session.run_block(self.block, self.output_block)
        except BlockSkipped as skip:
            self.user_properties.append(("skip_reason", str(skip)))
            pytest.skip(str(skip))
        for note in notes:
            self.user_properties.append(("note", note))
        self.user_properties.append(("pods", "real" if session.cluster.real_pods else "simulated"))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, BlockFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)  # type: ignore[return-value]

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.block.line - 1, f"{self.block.location} [{self.block.language}]"


# -- reporting ------------------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Report a block's skip at the block's own line, not at the plugin's."""
    outcome = yield
    report = outcome.get_result()
    if isinstance(item, BlockItem) and report.skipped and isinstance(report.longrepr, tuple):
        report.longrepr = (str(item.block.path), item.block.line, report.longrepr[2])


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or (report.when == "setup" and report.skipped):
        _collected.append(report)


_collected: list[pytest.TestReport] = []


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
    if hasattr(config, "workerinput"):
        return
    reports = [r for r in _collected if dict(r.user_properties).get("language")]
    if not reports:
        return
    terminalreporter.section("k8snotes blocks")
    for line in block_summary(reports):
        terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if hasattr(config, "workerinput") or config.getoption("--k8snotes-keep"):
        return
    state = config.stash.get(_STATE, None)
    if state is None:
        return
    from k8snotes.cluster.registry import release_cluster
    from k8snotes.runner.environment import release_environment

    try:
        backend = state.backend()
    except ValueError:
        return
    release_cluster(backend, state.run_id)
    release_environment(state.run_id)


__all__ = ["BlockItem", "Capability", "MarkdownPage", "block_summary"]
