"""The report a failing block carries.

A failure report names the page and line, the command, its exit code and its
output, and the expected output's difference when there is one, so that a
failing block can be fixed from the report alone. What a block raises
(:class:`~k8snotes.outcomes.BlockFailure`, :class:`~k8snotes.outcomes.BlockSkipped`)
is the shared vocabulary of :mod:`k8snotes.outcomes`, re-exported here.
"""

from __future__ import annotations

from k8snotes.check.output import output_diff
from k8snotes.markdown.blocks import Block
from k8snotes.outcomes import BlockFailure, BlockSkipped, Result, missing_files

__all__ = ["BlockFailure", "BlockSkipped", "Result", "failure_report", "missing_files"]


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
