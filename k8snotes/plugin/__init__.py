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

import os
import uuid
from pathlib import Path

import pytest

from k8snotes.cluster.base import Capability
from k8snotes.lifecycle import terminate_gracefully
from k8snotes.plugin.items import (
    BlockItem,
    MarkdownPage,
    k8s_cluster,
    pytest_collect_file,
    pytest_runtest_protocol,
)
from k8snotes.plugin.options import RUN_ID_ENV, enabled, pytest_addoption
from k8snotes.plugin.order import pytest_collection_modifyitems, pytest_xdist_make_scheduler
from k8snotes.plugin.report import (
    block_summary,
    pytest_runtest_makereport,
    pytest_sessionfinish,
    pytest_terminal_summary,
)
from k8snotes.plugin.run import _STATE, _add_needed_pages, _RunState

_RUN_OPTIONS = (
    "--k8snotes-shard",
    "--k8snotes-ledger",
    "--k8snotes-verified-by",
    "--k8snotes-backend",
    "--k8snotes-mode",
)
"""Options that only mean something to an enabled run: given to a disabled one, they are an error."""


def pytest_configure(config: pytest.Config) -> None:
    if not enabled(config):
        asked = [o for o in _RUN_OPTIONS if config.getoption(o)]
        if asked:  # fail closed: a run that was asked for k8snotes runs it or stops
            raise pytest.UsageError(
                f"{', '.join(asked)} given, but k8snotes is not enabled for rootdir "
                f"{config.rootpath} (no 'k8snotes = true' in {config.inipath or 'any ini file'}). "
                "pytest picks its rootdir before plugins add their options, so a path given as "
                "'--k8snotes-OPTION PATH' outside the project can move it: write "
                "'--k8snotes-OPTION=PATH', or pass --rootdir"
            )
        return  # opt-in: collect nothing, read no file
    if not hasattr(config, "workerinput"):
        os.environ.setdefault(RUN_ID_ENV, uuid.uuid4().hex[:8])
    state = config.stash[_STATE] = _RunState(config)
    # SIGTERM unwinds as Ctrl-C does: pytest's teardowns, then the run's resources.
    state.undo_signals = terminate_gracefully()
    if not hasattr(config, "workerinput"):
        from k8snotes.runner.bringup import BringupError

        try:
            state.bringup.hold_shared(machines=state.machines)
        except BringupError as exc:
            state.bringup.close()
            raise pytest.UsageError(str(exc)) from exc
        if not config.getoption("--collect-only"):
            state.start_ledger()
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


__all__ = [
    "BlockItem",
    "Capability",
    "MarkdownPage",
    "block_summary",
    "k8s_cluster",
    "pytest_addoption",
    "pytest_collect_file",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_runtest_makereport",
    "pytest_runtest_protocol",
    "pytest_sessionfinish",
    "pytest_terminal_summary",
    "pytest_unconfigure",
    "pytest_xdist_make_scheduler",
]
