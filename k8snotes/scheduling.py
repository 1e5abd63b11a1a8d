"""How pytest-xdist hands out the tests: a page's blocks together, reader-mode pages on one worker.

xdist's own ``loadgroup`` reads ``xdist_group`` marks by rewriting node ids,
which pytest 9 no longer allows, so the plugin gives xdist a scheduler of its
own (the ``pytest_xdist_make_scheduler`` hook) whatever ``--dist`` says:

- every block of a page goes to the same worker, in page order (a page is a
  scenario; its blocks share a shell);
- in reader mode every page goes to one worker (they share the reader's
  machine and its clusters), and so do the test files named in the
  ``k8snotes_docker_tests`` ini setting (tests that start, stop or fill the
  Docker engine the leak check reads);
- any other test file is a unit of its own, spread over the workers.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

READER_SCOPE = "k8snotes-reader"
"""The work unit of every page (and Docker test) in reader mode."""


def scope_of(nodeid: str, reader: bool, docker_tests: Collection[str] = ()) -> str:
    """The work unit of a test.

    ```python
    from k8snotes.scheduling import scope_of

    assert scope_of("docs/a.md::line-3-bash", reader=True) == "k8snotes-reader"
    assert scope_of("docs/a.md::line-3-bash", reader=False) == "docs/a.md"
    assert scope_of("tests/test_x.py::test_y", reader=True) == "tests/test_x.py"
    assert scope_of("tests/test_d.py::t", True, ["tests/test_d.py"]) == "k8snotes-reader"
    ```
    """
    path = nodeid.split("::", 1)[0]
    if reader and (path.endswith(".md") or path in docker_tests):
        return READER_SCOPE
    return path


def make_scheduler(config: Any, log: Any, reader: bool, docker_tests: Collection[str]) -> Any:
    """A ``LoadScopeScheduling`` whose work units are :func:`scope_of`."""
    from xdist.scheduler import LoadScopeScheduling

    class PageScheduling(LoadScopeScheduling):  # type: ignore[misc]
        """Work units are pages, the reader's machine, or test files."""

        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid, reader, docker_tests)

    return PageScheduling(config, log)
