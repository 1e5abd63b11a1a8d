"""What a block that went wrong raises, and the report it carries.

A failure report names the page and line, the command, its exit code and its
output, and the expected output's difference when there is one, so that a
failing block can be fixed from the report alone.
"""

from __future__ import annotations

import re

from k8snotes.markdown.blocks import Block
from k8snotes.runner.output import output_diff
from k8snotes.runner.shell import Result


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
    from k8snotes.runner.failures import missing_files

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


def failure_report(
    block: Block,
    result: Result,
    expected: str | None = None,
    expected_line: int | None = None,
    expected_exit: int = 0,
) -> str:
    """The report of a failing command: page and line, command, exit code, output, expected.

    When the output says a file does not exist, the report says so first: the
    page never handed that file to the reader (no block before this one writes it).
    """
    lines = [
        f"{block.location}: file never handed to the reader: {name} "
        "(no block before this one on the page, or on a page it needs, writes it)"
        for name in missing_files(result.output)
    ]
    lines += [
        f"{block.location}: {block.language} block failed",
        "command:",
        *("    " + c for c in result.command.splitlines()),
    ]
    if result.timed_out:
        lines.append("exit code: none: timed out, process group killed")
    else:
        lines.append(f"exit code: {result.exit_code} (expected {expected_exit})")
    lines += ["output:", *("    " + o for o in (result.output.rstrip() or "(none)").splitlines())]
    if expected is not None:
        lines += ["", output_diff(expected, result.output, expected_line or block.line)]
    return "\n".join(lines)
