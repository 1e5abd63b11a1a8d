"""How pytest-xdist hands out the tests: a page's blocks together, a reader's machine on one worker.

xdist's own ``loadgroup`` reads ``xdist_group`` marks by rewriting node ids,
which pytest 9 no longer allows, so the plugin gives xdist a scheduler of its
own (the ``pytest_xdist_make_scheduler`` hook) whatever ``--dist`` says:

- every block of a page goes to the same worker, in page order (a page is a
  scenario; its blocks share a shell);
- in reader mode the pages run on ``k8snotes_machines`` reader's machines side
  by side (:mod:`k8snotes.runner.machines`), each on one worker of its own:
  the plugin spreads the pages over them by their recorded
  durations, a page always on the machine of the pages it needs, and a page
  that several pages need (the cluster preparation) run on every machine that
  needs it (:meth:`k8snotes.needs.Needs.spread`). The test files named in the ``k8snotes_docker_tests`` ini setting
  (tests that start, stop or fill the host's Docker engine) go with machine 1,
  the host's own;
- any other test file is a unit of its own, spread over the workers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Any

READER_SCOPE = "k8snotes-reader"
"""The work unit of every page (and Docker test) in reader mode: ``k8snotes-reader-K`` for machine K."""

COPY_SUFFIX = re.compile(r"\[machine-(\d+)\]$")
"""How the copy of a page's block for another machine is named: ``line-9-bash[machine-2]``."""


def copy_name(name: str, machine: int) -> str:
    """The name of a block's copy for ``machine`` (machine 1 keeps the plain name)."""
    return name if machine == 1 else f"{name}[machine-{machine}]"


def machine_scope(machine: int) -> str:
    """The work unit of the pages of reader's machine ``machine``."""
    return f"{READER_SCOPE}-{machine}"


def scope_of(
    nodeid: str,
    reader: bool,
    docker_tests: Collection[str] = (),
    machine_of: Callable[[str], int] = lambda path: 1,
) -> str:
    """The work unit of a test.

    ```python
    from k8snotes.scheduling import scope_of

    assert scope_of("docs/a.md::line-3-bash", reader=True) == "k8snotes-reader-1"
    assert scope_of("docs/a.md::line-3-bash[machine-2]", reader=True) == "k8snotes-reader-2"
    assert scope_of("docs/a.md::line-3-bash", reader=False) == "docs/a.md"
    assert scope_of("tests/test_x.py::test_y", reader=True) == "tests/test_x.py"
    assert scope_of("tests/test_d.py::t", True, ["tests/test_d.py"]) == "k8snotes-reader-1"
    assert scope_of("docs/b.md::line-3-bash", True, (), lambda p: 2) == "k8snotes-reader-2"
    ```
    """
    path = nodeid.split("::", 1)[0]
    if reader and path in docker_tests:
        return machine_scope(1)
    if reader and path.endswith(".md"):
        copy = COPY_SUFFIX.search(nodeid)
        return machine_scope(int(copy.group(1)) if copy else machine_of(path))
    return path


def make_scheduler(
    config: Any,
    log: Any,
    reader: bool,
    docker_tests: Collection[str],
    machine_plan: Callable[[list[str]], Callable[[str], int]] | None = None,
) -> Any:
    """A ``LoadScopeScheduling`` whose work units are :func:`scope_of`.

    ``machine_plan`` turns the collected node ids into the machine of each
    page file; every reader's machine goes to a worker of its own, and a worker
    never gets a second machine (its processes live in that machine's network
    namespace).
    """
    from xdist.scheduler import LoadScopeScheduling

    class PageScheduling(LoadScopeScheduling):  # type: ignore[misc]
        """Work units are pages, a reader's machine, or test files."""

        machine_of: Callable[[str], int] = staticmethod(lambda path: 1)

        def schedule(self) -> None:
            if self.collection is None and machine_plan is not None and reader:
                collection: list[str] = next(iter(self.registered_collections.values()), [])
                type(self).machine_of = staticmethod(machine_plan(list(collection)))
            super().schedule()

        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid, reader, docker_tests, type(self).machine_of)

        def _assign_work_unit(self, node: Any) -> None:
            owned = any(s.startswith(READER_SCOPE) for s in self.assigned_work.get(node, {}))
            scopes = list(self.workqueue)
            machines = [s for s in scopes if s.startswith(READER_SCOPE)]
            others = [s for s in scopes if not s.startswith(READER_SCOPE)]
            if not owned and machines:
                scope = machines[0]
            elif others:
                scope = others[0]
            else:
                return  # only other machines' pages are left: they wait for a free worker
            work_unit = self.workqueue.pop(scope)
            self.assigned_work.setdefault(node, {})[scope] = work_unit
            collection = self.registered_collections[node]
            node.send_runtest_some(
                [collection.index(nodeid) for nodeid, done in work_unit.items() if not done]
            )

    return PageScheduling(config, log)
