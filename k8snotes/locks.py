"""File locks with a deadline: a run waits for another's build or bring-up, never forever.

```python
import tempfile
from pathlib import Path

from k8snotes.locks import held

path = Path(tempfile.mkdtemp()) / "x.lock"
with held(path, "an example", timeout=1):
    try:
        with held(path, "an example", timeout=0.1, thread_local=False):
            raise AssertionError("a second holder got in")
    except TimeoutError as exc:
        assert "gave up after 0 s waiting for an example" in str(exc)
```
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

BUILD = 3600.0
"""Seconds to wait for another process's build (binaries, node image): the slowest cold build."""

BRING_UP = 900.0
"""Seconds to wait for another process to bring a cluster or Docker engine up."""


@contextmanager
def held(path: Path, what: str, timeout: float, *, thread_local: bool = True) -> Iterator[None]:
    """Hold the lock at ``path`` (made if absent); raise :class:`TimeoutError` after ``timeout`` s.

    ``what`` names what the lock guards, for the message.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), thread_local=thread_local)
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise TimeoutError(
            f"gave up after {timeout:.0f} s waiting for {what} ({path}): another k8snotes "
            "process holds it; if none is running, delete that file"
        ) from None
    try:
        yield
    finally:
        lock.release()
