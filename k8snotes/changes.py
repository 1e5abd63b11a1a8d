"""Which pages changed since their last green run (``--k8snotes-changed``).

A page's fingerprint covers its text, its blocks with their includes resolved
(so an edited snippet changes every page that includes it) and the runner's own
source. A page whose every block passed, clean-up and leak check included, is
recorded under its fingerprint in ``<cache>/green-pages.json``.

```python
from k8snotes.changes import fingerprint

a = fingerprint("# Page\\n", ["kubectl get pods"])
assert a == fingerprint("# Page\\n", ["kubectl get pods"])
assert a != fingerprint("# Page\\n", ["kubectl get pods -A"])
```
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from k8snotes import paths, records

GREEN_FILE = "green-pages.json"
"""The record of pages that last passed, and under which fingerprint, in the cache."""


@cache
def runner_digest() -> str:
    """A digest of the k8snotes package's source: a changed runner re-runs every page."""
    digest = hashlib.sha256()
    for source in sorted(Path(__file__).parent.rglob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()


def fingerprint(page_text: str, block_texts: Iterable[str]) -> str:
    """The fingerprint of a page: its text, its blocks' resolved texts, the runner."""
    digest = hashlib.sha256(runner_digest().encode())
    digest.update(page_text.encode())
    for text in block_texts:
        digest.update(b"\0" + text.encode())
    return digest.hexdigest()


def _path() -> Path:
    return paths.cache_dir() / GREEN_FILE


def recorded() -> dict[str, str]:
    """Page (absolute path) -> the fingerprint of its last green run."""
    return records.read_json(_path()) or {}


def record_green(pages: dict[str, str]) -> None:
    """Record ``pages`` (absolute path -> fingerprint) as green now; forget pages that are gone."""
    if not pages:
        return
    path = _path()
    with records.updated_json(
        path, "the green pages record", lock=path.with_suffix(".lock"), indent=1, sort_keys=True
    ) as data:
        for gone in [page for page in data if not Path(page).exists()]:
            del data[gone]
        data.update(pages)
