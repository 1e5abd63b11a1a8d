"""What the run reports: blocks by outcome and skip reason, green pages, durations; the release."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from k8snotes.lifecycle import interrupted
from k8snotes.plugin.items import BlockItem, MarkdownPage
from k8snotes.plugin.order import DURATIONS_FILE
from k8snotes.plugin.run import _STATE, _Recorder, _RunState


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Report a block's skip at the block's own line, not at the plugin's."""
    outcome = yield
    report = outcome.get_result()
    if isinstance(item, BlockItem) and report.skipped and isinstance(report.longrepr, tuple):
        report.longrepr = (str(item.block.path), item.block.line, report.longrepr[2])


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
    """Add this run's page durations to this machine's record in the cache (for benchmarks)."""
    if not recorder.page_seconds:
        return
    from k8snotes import paths, records

    path = paths.cache_dir() / DURATIONS_FILE
    with records.updated_json(path, "the page durations record", indent=1, sort_keys=True) as data:
        data.update({page: round(seconds, 1) for page, seconds in recorder.page_seconds.items()})


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
    state = config.stash[_STATE]
    reports = [r for r in state.recorder.collected if dict(r.user_properties).get("language")]
    if not reports and not state.verified_elsewhere:
        return
    terminalreporter.section("k8snotes blocks")
    for line in block_summary(reports):
        terminalreporter.write_line(line)
    if state.verified_elsewhere:
        terminalreporter.write_line(
            f"pages not run, verified as they are by --k8snotes-verified-by: "
            f"{len(state.verified_elsewhere)}"
        )
        for page, commit in sorted(state.verified_elsewhere.items()):
            terminalreporter.write_line(f"  {page}: verified at commit {commit}")
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
    if state.ledger is not None and (state.ledger.blocks or state.ledger.tests):
        from k8snotes.ledger import docker_version

        state.ledger.update_run(docker=docker_version())  # the engine runs until the release
        if path := config.getoption("--k8snotes-ledger"):
            state.ledger.write(path)
        from k8snotes.ledger import latest_path
        from k8snotes.plugin.options import docs_folders

        for docs in docs_folders(config)[:1] if state.ledger.blocks else []:
            state.ledger.write_latest(latest_path(docs))  # the pages' record, for `status`
    if config.getoption("--k8snotes-keep"):
        return
    problems = state.bringup.close()
    reader = state.bringup.reader_run
    if reader is not None and reader.left:
        # Said where the run's output shows it: pages should delete what they make.
        print(f"\n[k8snotes] deleted what the pages left at the end of the run: {reader.left}")
    if problems:
        print("\n[k8snotes] the run's clean-up failed:\n  " + "\n  ".join(problems))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
