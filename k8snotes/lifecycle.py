"""One lifecycle for everything a run or a page acquires, released in reverse whatever happens.

A :class:`Resources` stack is where each resource (an engine, a machine, a
cluster, a namespace, a shell, a background process, a host change) is
registered *at the moment it is acquired*, with the call that releases it.
:meth:`Resources.close` unwinds exactly what was registered, newest first;
every release runs even when an earlier one fails, and the failures come back
as lines for the report instead of cutting the clean-up short.

:func:`terminate_gracefully` makes ``SIGTERM`` behave as Ctrl-C does (a
:class:`KeyboardInterrupt` in the main thread), so that pytest's own
unwinding, teardowns and ``pytest_sessionfinish``, runs on either signal.

:class:`HostLedger` records a host setting (a sysctl) before it is changed,
and puts it back when its stack unwinds.

```python
from k8snotes.lifecycle import Resources

log = []
with Resources("demo") as stack:
    stack.acquire("first", lambda: log.append("first released"))
    stack.acquire("second", lambda: log.append("second released"))
assert log == ["second released", "first released"]
```
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

__all__ = ["HostLedger", "ReleaseError", "Resources", "interrupted", "terminate_gracefully"]


class ReleaseError(RuntimeError):
    """Some releases of a :class:`Resources` stack failed; the message lists them."""


class Resources:
    """A stack of acquired resources, each with the call that releases it.

    Args:
        owner: Who holds the stack (a run, a page), for the report.
    """

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._stack: list[tuple[str, Callable[[], object]]] = []
        self._lock = threading.Lock()

    def acquire(self, what: str, release: Callable[[], object]) -> None:
        """Register ``what``, just acquired, and the call that releases it."""
        with self._lock:
            self._stack.append((what, release))

    def held(self) -> list[str]:
        """What is held now, oldest first."""
        with self._lock:
            return [what for what, _ in self._stack]

    def close(self) -> list[str]:
        """Release everything, newest first; return one line per release that failed.

        A release that raises (even :class:`KeyboardInterrupt`, a second
        Ctrl-C) does not stop the ones after it.
        """
        problems: list[str] = []
        while True:
            with self._lock:
                if not self._stack:
                    return problems
                what, release = self._stack.pop()
            try:
                release()
            except BaseException as exc:  # every release runs, whatever one raised
                problems.append(f"{self.owner}: releasing {what}: {type(exc).__name__}: {exc}")

    def __enter__(self) -> Resources:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        problems = self.close()
        if problems and kind is None:
            raise ReleaseError("\n".join(problems))


class HostLedger:
    """Host settings changed for a run, each recorded before the change and put back on release.

    Args:
        resources: The stack that puts each setting back when it unwinds.
    """

    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self.changed: dict[Path, str] = {}
        """Each changed setting's file, and the value it had before."""

    def set(self, setting: Path, value: str) -> bool:
        """Write ``value`` to ``setting`` (a ``/proc/sys`` file), recording what it held.

        Returns False, changing nothing, when the setting cannot be read or
        written. A setting already changed keeps its first recorded value.
        """
        try:
            before = setting.read_text().strip()
        except OSError:
            return False
        if before == value:
            return True
        try:
            setting.write_text(value)
        except OSError:
            return False
        if setting not in self.changed:
            self.changed[setting] = before
            self.resources.acquire(
                f"{setting} = {value} (was {before})", lambda: self._put_back(setting)
            )
        return True

    def at_least(self, setting: Path, value: int) -> bool:
        """Raise the number in ``setting`` to ``value`` if it is lower (as :meth:`set`)."""
        try:
            current = int(setting.read_text().strip())
        except (OSError, ValueError):
            return False
        return current >= value or self.set(setting, str(value))

    def _put_back(self, setting: Path) -> None:
        setting.write_text(self.changed.pop(setting))


_interrupted = threading.Event()


def interrupted() -> bool:
    """True once ``SIGTERM`` or ``SIGINT`` has interrupted this process (see :func:`terminate_gracefully`)."""
    return _interrupted.is_set()


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    if _interrupted.is_set():
        return  # already unwinding: let the clean-up finish (every wait in it has a bound)
    _interrupted.set()
    raise KeyboardInterrupt(f"{signal.Signals(signum).name} received")


def terminate_gracefully() -> Callable[[], None]:
    """Turn ``SIGTERM`` into a :class:`KeyboardInterrupt`, as ``SIGINT`` is; return the undo.

    Only the first signal interrupts: a second one while the clean-up runs is
    ignored, so a hasty second Ctrl-C or ``kill`` cannot leave half of it
    undone. Outside the main thread nothing is changed.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    _interrupted.clear()
    previous: dict[int, Any] = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.signal(signum, _raise_interrupt)

    def undo() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    return undo
