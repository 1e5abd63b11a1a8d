"""Progress display for slow steps (builds, image imports, cluster start-up)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

console = Console(stderr=True, highlight=False)
"""Console that progress goes to (stderr, so command output stays clean)."""


@contextmanager
def step(title: str) -> Iterator[None]:
    """Show ``title`` with a spinner while the block runs, then its duration.

    On a terminal the spinner animates; in CI logs one line is printed at the
    start and one at the end, so a slow build is never silent.
    """
    start = time.monotonic()
    if console.is_terminal:
        with console.status(f"[bold]{title}[/] ..."):
            yield
    else:
        console.print(f"[k8snotes] {title} ...")
        yield
    console.print(f"[k8snotes] {title}: done in {time.monotonic() - start:.1f} s")
