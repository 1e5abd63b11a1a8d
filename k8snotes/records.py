"""JSON records (state files, caches of what a run learnt), written whole or not at all.

A record is written to a temporary file in its own folder, then moved over the old
one (``os.replace``), so a reader, or a run cut off mid-write, sees the old record or
the new one, never half of one. A record that several processes change (read, modify,
write) is changed under a lock: :func:`updated_json`.

```python
import json
import tempfile
from pathlib import Path

from k8snotes.records import updated_json, write_json_atomic

path = Path(tempfile.mkdtemp()) / "state" / "seen.json"
write_json_atomic(path, {"a": 1}, indent=2)
with updated_json(path, "an example record", indent=1, sort_keys=True) as data:
    data["b"] = 2
assert json.loads(path.read_text()) == {"a": 1, "b": 2}
assert [p.name for p in path.parent.iterdir() if p.suffix != ".lock"] == ["seen.json"]
```
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from k8snotes import locks


def write_json_atomic(
    path: Path, data: object, *, indent: int | None = None, sort_keys: bool = False
) -> None:
    """Write ``data`` as JSON to ``path`` (its folder made if absent): whole, or not at all.

    The text is ``json.dumps(data, indent=indent, sort_keys=sort_keys)``, as ``write_text``
    would have written it; the file gets the permissions ``write_text`` gives a new file.
    """
    text = json.dumps(data, indent=indent, sort_keys=sort_keys)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Named after this process and thread: two writers never share a temporary file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any:
    """The JSON at ``path``, or ``None`` when there is no such file."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return json.loads(text)


@contextmanager
def updated_json(
    path: Path,
    what: str,
    *,
    lock: Path | None = None,
    timeout: float = 60.0,
    indent: int | None = None,
    sort_keys: bool = False,
) -> Iterator[dict[str, Any]]:
    """Change the JSON object at ``path`` under a lock: yield it (``{}`` when absent), then write it.

    ``lock`` defaults to ``<path>.lock`` beside it; ``what`` names the record in the
    message of a lock not got in ``timeout`` seconds. Nothing is written when the
    block raises.
    """
    lock = lock or path.with_name(path.name + ".lock")
    with locks.held(lock, what, timeout):
        data = read_json(path) or {}
        yield data
        write_json_atomic(path, data, indent=indent, sort_keys=sort_keys)
