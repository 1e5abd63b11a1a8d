"""``k8snotes watch PAGE``: run a page again whenever it or a file it includes is saved.

For authors with ``mkdocs serve`` open beside it: save the page or a snippet,
and the page's blocks run again with live output.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from k8snotes.markdown import PageError, parse_page
from k8snotes.markdown.includes import Includes


def watched_files(page: Path, includes: Includes, root: Path) -> list[Path]:
    """The page and every file its blocks include (what a save of should re-run it)."""
    files = [page]
    try:
        blocks = parse_page(page, includes, root)
    except PageError:
        return files  # a broken page: watch it until it is fixed
    for block in blocks:
        for name in block.includes:
            path = includes.resolve(name)
            if path is not None and path not in files:
                files.append(path)
    return files


def _stamps(files: list[Path]) -> dict[Path, float]:
    return {f: f.stat().st_mtime if f.exists() else 0.0 for f in files}


def watch(
    page: Path,
    includes: Includes,
    root: Path,
    run: Callable[[], object],
    interval: float = 0.5,
    rounds: int | None = None,
) -> None:
    """Run ``run()`` now, then after every save of the page or its includes.

    ``rounds`` stops after that many runs (for tests); ``None`` runs until interrupted.
    """
    done = 0
    while rounds is None or done < rounds:
        files = watched_files(page, includes, root)
        stamps = _stamps(files)
        run()
        done += 1
        if rounds is not None and done >= rounds:
            return
        print(
            f"[k8snotes] watching {len(files)} file(s) of {page.name}; Ctrl+C to stop", flush=True
        )
        while _stamps(files) == stamps:
            time.sleep(interval)
        time.sleep(interval)  # let an editor finish writing
