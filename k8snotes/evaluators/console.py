"""``console`` blocks: ``$ `` commands, each followed by the output it must print."""

from __future__ import annotations

from collections.abc import Iterator

from k8snotes.evaluators.base import BlockContext, BlockFailure, Step
from k8snotes.markdown.blocks import Block


def split_console(text: str) -> list[tuple[str, str, int]]:
    """``$ ``-prompted commands of a console block with their expected output.

    Returns ``(command, expected_output, offset_of_first_output_line)``;
    a command continues on the next line while a line ends with ``\\``.

    ```python
    from k8snotes.evaluators.console import split_console

    text = "$ kubectl get ns default \\\\\\n  -o name\\nnamespace/default"
    assert split_console(text) == [("kubectl get ns default \\\\\\n  -o name", "namespace/default", 2)]
    ```
    """
    pairs: list[tuple[str, str, int]] = []
    lines = text.rstrip("\n").split("\n")
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            raise ValueError(f"console block line {i + 1} is output with no $ command before it")
        cmd = [lines[i][2:]]
        while cmd[-1].endswith("\\") and i + 1 < len(lines):
            i += 1
            cmd.append(lines[i].removeprefix("> "))
        i += 1
        start = i
        while i < len(lines) and not lines[i].startswith("$ "):
            i += 1
        pairs.append(("\n".join(cmd), "\n".join(lines[start:i]), start))
    return pairs


class ConsoleEvaluator:
    """Runs each ``$ `` command in turn; each one's output is checked before the next runs."""

    languages = frozenset({"console"})

    def evaluate(self, block: Block, context: BlockContext) -> Iterator[Step]:
        """Yield one step per command, with the output the block shows for it."""
        try:
            pairs = split_console(block.text)
        except ValueError as exc:
            raise BlockFailure(f"{block.location}: {exc}") from None
        for command, expected, offset in pairs:
            yield Step(context.run(command), expected, block.line + 1 + offset)
