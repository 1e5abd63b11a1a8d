"""Progress display for slow steps (builds, image imports, cluster start-up).

Every step prints when it starts and when it ends, with its duration, also
from inside pytest (the plugin lets progress through pytest's output capture,
so a cold start in a worker is visible as it happens), and a sequence of steps
says which one comes next and how long the whole has taken.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext

from rich.console import Console

console = Console(stderr=True, highlight=False)
"""Console that progress goes to (stderr, so command output stays clean)."""

_uncaptured: Callable[[], AbstractContextManager[object]] = nullcontext
"""Context in which output reaches the terminal (set by the pytest plugin)."""


def let_through(context: Callable[[], AbstractContextManager[object]]) -> None:
    """Print progress inside ``context()`` (pytest's capture manager, suspended)."""
    global _uncaptured
    _uncaptured = context


def say(message: str) -> None:
    """Print one progress line, past any output capture."""
    with _uncaptured():
        console.print(f"[k8snotes] {message}", markup=False, soft_wrap=True)


@contextmanager
def step(title: str) -> Iterator[None]:
    """Show ``title`` with a spinner while the block runs, then its duration.

    On a terminal the spinner animates; in CI logs one line is printed at the
    start and one at the end, so a slow build is never silent.
    """
    start = time.monotonic()
    if console.is_terminal and _uncaptured is nullcontext:
        with console.status(f"[bold]{title}[/] ..."):
            yield
    else:
        say(f"{title} ...")
        yield
    say(f"{title}: done in {time.monotonic() - start:.1f} s")


def run_steps(what: str, steps: Sequence[tuple[str, Callable[[], object]]]) -> None:
    """Run ``steps`` in order, saying before each: its number, what comes next, time so far.

    ```python
    from k8snotes.progress import run_steps

    done = []
    run_steps("demo", [("one", lambda: done.append(1)), ("two", lambda: done.append(2))])
    assert done == [1, 2]
    ```
    """
    start = time.monotonic()
    for i, (title, action) in enumerate(steps):
        following = f"; next: {steps[i + 1][0]}" if i + 1 < len(steps) else "; last step"
        elapsed = time.monotonic() - start
        say(f"{what} {i + 1}/{len(steps)}: {title} ({elapsed:.0f} s so far{following})")
        action()
    say(f"{what}: all {len(steps)} steps done in {time.monotonic() - start:.0f} s")
