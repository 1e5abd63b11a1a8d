"""``console`` blocks: ``$ `` commands, each followed by the output it must print.

The block is split by the one console grammar, :func:`k8snotes.markdown.console.split_console`
(re-exported here).
"""

from __future__ import annotations

from collections.abc import Iterator

from k8snotes.evaluators.base import BlockContext, BlockFailure, Step
from k8snotes.markdown.blocks import Block
from k8snotes.markdown.console import split_console

__all__ = ["ConsoleEvaluator", "split_console"]


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
