"""The shared vocabulary of a block's run: what a command gave, and what a block raises.

The bottom of the package: evaluators, the runner and the plugin all speak it, and it
imports nothing of theirs (the import contracts in ``pyproject.toml`` keep it so).
How a failing command is reported, with the expected output's difference, is the
runner's (:func:`k8snotes.check.failures.failure_report`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["BlockFailure", "BlockSkipped", "Result", "missing_files"]


@dataclass
class Result:
    """What one command printed and how it ended."""

    command: str
    exit_code: int
    output: str
    seconds: float
    timed_out: bool = False


class BlockFailure(Exception):
    """A block did not do what the page says; the message is the full report."""


class BlockSkipped(Exception):
    """A block was not run; the message is the reason (counted in the summary)."""


_MISSING_FILE = re.compile(
    r'the path "(?P<a>[^"]+)" does not exist'
    r"|(?:open|lstat|stat) (?P<b>\S+): (?:no such file or directory|file does not exist)"
    r"|(?P<c>[\w./-]+): No such file or directory"
)


def missing_files(output: str) -> list[str]:
    """Files a command's output says do not exist (``kubectl -f``, ``cat``, ``docker build``).

    ```python
    from k8snotes.outcomes import missing_files

    out = 'error: the path "pod.yaml" does not exist'
    assert missing_files(out) == ["pod.yaml"]
    ```
    """
    found = []
    for m in _MISSING_FILE.finditer(output):
        name = m["a"] or m["b"] or m["c"]
        if name and name not in found:
            found.append(name)
    return found
