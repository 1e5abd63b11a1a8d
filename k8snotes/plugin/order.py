"""The order pages run in, the shard a job keeps, the machines and xdist workers pages go to."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from k8snotes.markdown import PageError
from k8snotes.markdown.frontmatter import page_settings
from k8snotes.plugin.items import BlockItem, MarkdownPage
from k8snotes.plugin.options import _docs_name, _docs_name_of
from k8snotes.plugin.run import _STATE


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Order pages by their ``needs``; spread them over machines or keep this shard's.

    A page's ``teardown`` blocks (undoing the state it made for others) run
    right after the last page that needs it on the same machine.
    """
    pages: dict[str, MarkdownPage] = {}
    for item in items:
        if isinstance(item, BlockItem):
            pages.setdefault(_docs_name(item.parent), item.parent)  # type: ignore[arg-type]
    needs = _needs_of(pages)
    if pages and config.getoption("--k8snotes-changed"):
        _keep_changed(config, items, pages, needs)
    if pages and (verified_by := config.getoption("--k8snotes-verified-by")):
        _keep_unverified(config, items, pages, needs, Path(verified_by))
    pages = _present(pages, items)
    needs = _needs_of(pages)
    if shard := config.getoption("--k8snotes-shard"):
        _keep_shard(config, items, needs, shard)
        pages = _present(pages, items)
        needs = _needs_of(pages)
    if not pages:
        return
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


def _needs_of(pages: dict[str, MarkdownPage]) -> Any:
    """The ``needs`` graph of ``pages`` (:class:`k8snotes.needs.Needs`)."""
    from k8snotes.needs import Needs

    return Needs({name: page.settings.needs for name, page in pages.items()})


def _present(pages: dict[str, MarkdownPage], items: list[pytest.Item]) -> dict[str, MarkdownPage]:
    """The pages of ``pages`` that still have a block among ``items``."""
    left = {id(i.parent) for i in items if isinstance(i, BlockItem)}
    return {n: p for n, p in pages.items() if id(p) in left}


def _test_file(item: pytest.Item) -> str:
    """The file of a test that is not a page's block, as its node id names it."""
    return item.nodeid.split("::", 1)[0]


def _keep_shard(config: pytest.Config, items: list[pytest.Item], needs: Any, shard: str) -> None:
    """Keep shard ``K/N``'s pages (a set-up page in every shard that needs it) and test files.

    The pages left to run (after ``--k8snotes-verified-by`` and
    ``--k8snotes-changed``) and the other tests' files are spread together by
    :meth:`k8snotes.needs.Needs.spread` (a test file needs nothing) over the
    durations file of the project (``k8snotes_durations``): the same split in
    every job whatever its cache holds. A set-up page's run in any shard but
    the first of its shards is recorded in the ledger as a copy (copy K), so
    that the shards' merged ledger holds each page's own run once.
    """
    from k8snotes.needs import Needs, shard_index

    try:
        index, count = shard_index(shard)
    except ValueError as exc:
        raise pytest.UsageError(f"--k8snotes-shard: {exc}") from None
    files = Counter(_test_file(i) for i in items if not isinstance(i, BlockItem))
    weights = _page_weights(config, _block_counts(items), dict(files))
    plan = Needs({**needs.needs, **{file: [] for file in files}}).spread(weights, count)
    _deselect(
        config,
        items,
        [
            i
            for i in items
            if index
            not in plan[_docs_name(i.parent) if isinstance(i, BlockItem) else _test_file(i)]
        ],
    )
    for item in items:  # a set-up page's own run is in its first shard; later ones run copies
        page = item.parent
        if isinstance(page, MarkdownPage) and index != min(plan[_docs_name(page)]):
            page.shard_copy = index


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


def verified_pages(ledger: Any, pages: dict[str, str]) -> dict[str, str]:
    """Of ``pages`` (name -> page hash), those ``ledger`` verified as they are now: name -> commit.

    Verified means: the ledger's record of the page has the same page hash,
    was made by the same runner on the pinned Kubernetes and kind, every
    block passed or was shown only, and the leak check passed.
    """
    from k8snotes import versions
    from k8snotes.changes import runner_digest

    out: dict[str, str] = {}
    for name, digest in pages.items():
        view = ledger.view(name)
        if view is None or view.hash != digest or view.leak_check != "passed":
            continue
        run = view.run
        if (run.runner, run.kubernetes, run.kind) != (
            runner_digest(),
            versions.KUBERNETES,
            versions.KIND,
        ):
            continue
        if all(b.outcome in ("passed", "shown") for b in view.blocks.values()):
            out[name] = run.commit or "an unknown commit"
    return out


def _keep_unverified(
    config: pytest.Config,
    items: list[pytest.Item],
    pages: dict[str, MarkdownPage],
    needs: Any,
    path: Path,
) -> None:
    """Leave out the pages ``path``'s ledger verified as they are (reader mode keeps their needs)."""
    from k8snotes.ledger import Ledger

    verified = verified_pages(Ledger.read(path), {n: p.page_hash for n, p in pages.items()})
    keep = set(pages) - set(verified)
    if config.stash[_STATE].reader_mode:
        keep = needs.closure(keep)
    config.stash[_STATE].verified_elsewhere = {n: c for n, c in verified.items() if n not in keep}
    _deselect(
        config,
        items,
        [i for i in items if isinstance(i, BlockItem) and _docs_name(i.parent) not in keep],
    )


def _block_counts(items: list[pytest.Item]) -> dict[str, int]:
    return dict(Counter(_docs_name(i.parent) for i in items if isinstance(i, BlockItem)))


def _machine_plan(
    config: pytest.Config, needs: Any, items: list[pytest.Item]
) -> dict[str, list[int]]:
    """The reader's machines of each page (see :meth:`k8snotes.needs.Needs.spread`)."""
    weights = _page_weights(config, _block_counts(items))
    return dict(needs.spread(weights, config.stash[_STATE].machines, _docker_load(config)))


def _docker_load(config: pytest.Config) -> float:
    """Recorded seconds of the Docker tests, which machine 1 runs beside its pages.

    Counted on a whole run (pytest's ``testpaths``, as ``make test`` runs it) only,
    from the ini and the durations file: the controller (whose collection comes
    after ``-k``) and the workers come to the same figure.
    """
    if config.args_source is not pytest.Config.ArgsSource.TESTPATHS:
        return 0.0
    recorded = _recorded_durations(config)
    root = str(config.rootpath) + "/"
    docker = {str(p).removeprefix(root) for p in config.getini("k8snotes_docker_tests")}
    return sum(recorded.get(f, 0.0) for f in sorted(docker))


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
        plan = Needs(needs).spread(weights, config.stash[_STATE].machines, _docker_load(config))
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


def _recorded_durations(config: pytest.Config) -> dict[str, float]:
    """The project's durations file (``k8snotes_durations``): page or test file -> seconds."""
    from k8snotes.needs import read_durations

    value = config.getini("k8snotes_durations")
    return read_durations(Path(config.rootpath) / value if value else None)


def _page_weights(
    config: pytest.Config, block_counts: dict[str, int], test_files: dict[str, int] | None = None
) -> dict[str, float]:
    """Seconds per page (and per test file) from the project's durations file.

    The file is ``k8snotes_durations``, the project's, not the cache's: every
    job of a CI run splits the same way. A page the file does not name counts
    2 s a block; a test file it does not name, 1 s a test.
    """
    recorded = _recorded_durations(config)
    weights = {name: recorded.get(name, 2.0 * count) for name, count in block_counts.items()}
    for file, count in (test_files or {}).items():
        weights[file] = recorded.get(file, 1.0 * count)
    return weights
