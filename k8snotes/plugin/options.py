"""The plugin's options and ini settings, and which pages a run collects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

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
        help="run shard K of N: pages and test files split by the k8snotes_durations file, "
        "a page always with the pages it needs (a page several need runs in each shard that "
        "needs it); after --k8snotes-verified-by left out what needs no run",
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
        "--k8snotes-verified-by",
        default=None,
        metavar="LEDGER",
        help="a pull request's run: leave out the pages that LEDGER (the main branch's "
        "latest merged ledger) verified as they are now: same page hash, same runner, same "
        "pinned Kubernetes and kind, every block passed or shown, leak check passed "
        "(in reader mode, a page still runs when a page that needs it runs)",
    )
    group.addoption(
        "--k8snotes-ledger",
        default=None,
        metavar="PATH",
        help="write this run's results ledger (every block's outcome, the versions it ran on) "
        "to PATH too; it always goes to the docs folder's latest ledger in the cache (k8snotes status)",
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


def _docs_name(page: Any) -> str:
    return _docs_name_of(page.config, Path(page.path))


def _docs_name_of(config: pytest.Config, path: Path) -> str:
    """A page's name as ``needs`` writes it: relative to its docs folder."""
    for docs in docs_folders(config):
        if docs in path.parents:
            return str(path.relative_to(docs))
    return str(path.relative_to(config.rootpath))
