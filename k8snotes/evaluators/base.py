"""What an evaluator is: the protocol a language's runner implements.

An evaluator turns one block into commands run in the page's context, and
hands back each command's :class:`Step`. It does not judge them: the session
checks every step the same way, whatever the language (the exit code against
``exit=``, the output against the expected output, the timeout), and applies
``retry=`` and ``requires=`` around it. So ``timeout``, ``retry``, ``exit`` and
``requires`` mean the same for every language, built in or added.

A minimal evaluator, for a made-up ``greeting`` fence:

```python
from k8snotes.evaluators.base import Step


class Greeting:
    languages = frozenset({"greeting"})

    def evaluate(self, block, context):
        yield Step(context.run(f"echo {block.text.strip()}"), expected="hello")
```

Register it under the ``k8snotes.evaluators`` entry point group of its
package (``[project.entry-points."k8snotes.evaluators"] greeting =
"mypkg:Greeting"``), or with :func:`k8snotes.evaluators.registry.register`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from k8snotes.outcomes import BlockFailure, BlockSkipped, Result

if TYPE_CHECKING:
    from k8snotes.markdown.blocks import Block

__all__ = ["BlockContext", "BlockFailure", "BlockSkipped", "Evaluator", "Result", "Step"]


@dataclass(frozen=True)
class Step:
    """One command an evaluator ran, and what it should have printed.

    Attributes:
        result: The command, its exit code and output.
        expected: The output the page shows for it, ``None`` when it shows none.
        expected_line: The page line where that output starts (for the diff).
    """

    result: Result
    expected: str | None = None
    expected_line: int | None = None


class BlockContext(Protocol):
    """What an evaluator may use: the page's terminal and cluster, nothing else.

    Attributes:
        expected_output: The text of the ``output`` block that follows the
            block, or ``None``.
        expected_output_line: Its first line on the page.
        scratch: A folder outside the reader's working directory for the
            evaluator's own files (scripts, manifests).
    """

    expected_output: str | None
    expected_output_line: int | None
    scratch: Path

    def run(self, command: str) -> Result:
        """Run ``command`` in the page's shell (its variables, folder, kubeconfig), with the block's timeout."""
        ...

    def kubectl(self, *args: str, input: str | None = None) -> Result:
        """Run kubectl as the page's shell would (its kubeconfig and context)."""
        ...

    def start_background(self, command: str) -> None:
        """Start ``command`` in the background, stopped when the page ends (``port=`` waited for)."""
        ...


class Evaluator(Protocol):
    """Runs the blocks of some fence languages.

    Attributes:
        languages: The fence languages it runs (``{"bash", "sh"}``).
    """

    languages: frozenset[str]

    def evaluate(self, block: Block, context: BlockContext) -> Iterable[Step]:
        """Run ``block``, yielding each command's :class:`Step` as it ends.

        The session checks each step before the next is asked for, so a console
        block stops at its first wrong output. Raise :class:`BlockFailure` for
        a block that cannot be run at all (a malformed manifest).
        """
        ...
