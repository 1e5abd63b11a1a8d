"""``python`` blocks: a script run with ``python3`` in the page's shell."""

from __future__ import annotations

from collections.abc import Iterator

from k8snotes.evaluators.base import BlockContext, Result, Step
from k8snotes.markdown.blocks import Block


class PythonEvaluator:
    """Runs the block as a script: the ``kubernetes`` client finds the shell's kubeconfig and context."""

    languages = frozenset({"python", "py", "python3"})

    def evaluate(self, block: Block, context: BlockContext) -> Iterator[Step]:
        """Yield the script's step; the report shows the block's text as the command."""
        script = context.scratch / f"block-{block.line}.py"
        script.write_text(block.text)
        ran = context.run(f"python3 {script}")
        yield Step(Result(block.text, ran.exit_code, ran.output, ran.seconds, ran.timed_out))
