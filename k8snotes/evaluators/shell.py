"""``bash`` and ``sh`` blocks: the whole block pasted into the page's shell at once."""

from __future__ import annotations

from collections.abc import Iterator

from k8snotes.evaluators.base import BlockContext, Step
from k8snotes.markdown.blocks import Block


class ShellEvaluator:
    """Runs the block as one paste; ``background`` blocks keep running while the page goes on."""

    languages = frozenset({"bash", "sh", "shell"})

    def evaluate(self, block: Block, context: BlockContext) -> Iterator[Step]:
        """Yield the one step of the block (none for a background block)."""
        if block.meta.get("background"):
            context.start_background(block.text)
            return
        yield Step(context.run(block.text), context.expected_output, context.expected_output_line)
