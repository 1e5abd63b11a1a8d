"""Processes, read through psutil: whether one still runs, and what it is.

The vocabulary's one reader of processes (no module parses ``/proc`` by hand).

```python
import os
import subprocess
import sys

from k8snotes.processes import process_alive

assert process_alive(os.getpid())
child = subprocess.Popen([sys.executable, "-c", "pass"])
child.wait(timeout=30)
assert not process_alive(child.pid)
assert not process_alive(0) and not process_alive(-1)
```
"""

from __future__ import annotations

import psutil

_GONE = (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)


def process_alive(pid: int) -> bool:
    """True while process ``pid`` runs; a zombie or a dead one counts as gone."""
    if pid <= 0:
        return False
    try:
        return psutil.Process(pid).status() not in _GONE
    except psutil.Error:
        return False


def process_name(pid: int) -> str | None:
    """The name of process ``pid`` (its ``comm``), or ``None`` when it is gone."""
    if pid <= 0:
        return None
    try:
        return psutil.Process(pid).name()
    except psutil.Error:
        return None
