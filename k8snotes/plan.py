"""The one decision about a block: run it, skip it (and why), or check it as another's output.

The runner, ``k8snotes list``, the command reference and the benchmarks all ask
:func:`plan`, so they cannot disagree.

```python
from pathlib import Path

from k8snotes.markdown.blocks import Block
from k8snotes.plan import plan

block = Block(Path("p.md"), 3, "bash", "kubectl top pods", {"requires": "metrics"})
assert plan(block).action == "run"
assert plan(block, {"api", "pods"}, "kwok").reason == (
    "needs metrics: not available on backend kwok"
)
```
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from k8snotes.markdown.blocks import Block

NOT_EXECUTED = {
    "mermaid": "diagram: rendered in the browser (checked by the browser tests), nothing to execute",
}
"""Languages that are never executed, with the reason counted in the report."""

Action = Literal["run", "skip", "output"]


@dataclass(frozen=True)
class Plan:
    """What happens to a block.

    Attributes:
        action: ``run``, ``skip``, or ``output`` (checked as the output of the block before).
        reason: Why it is skipped (counted in the report), else ``""``.
        how: What running it means, for ``k8snotes list`` (``run``, ``background, port
            8301``, ``schema + server dry run``).
    """

    action: Action
    reason: str = ""
    how: str = ""

    @property
    def runs(self) -> bool:
        """True when the block is executed."""
        return self.action == "run"


def _how(block: Block) -> str:
    if block.meta.get("background"):
        return f"background, port {block.meta.get('port', '-')}"
    if block.language in {"yaml", "yml"}:
        return "schema + server dry run" + (" + apply" if block.meta.get("apply") else "")
    if block.meta.get("teardown"):
        return "run after the pages that need this one"
    return "run"


def plan(block: Block, capabilities: Collection[str] | None = None, backend: str = "") -> Plan:
    """Decide what happens to ``block`` where ``capabilities`` are offered.

    ``capabilities=None`` means not known yet (listing pages without a
    cluster): ``requires=`` is then shown, not judged.
    """
    if block.meta.get("output"):
        return Plan("output", how="checked as output of the block before")
    if "skip" in block.meta:
        return Plan("skip", str(block.meta["skip"]))
    if block.language in NOT_EXECUTED:
        return Plan("skip", NOT_EXECUTED[block.language])
    if capabilities is not None:
        missing = [r for r in block.requires if r not in capabilities]
        if missing:
            where = f" on backend {backend}" if backend else ""
            return Plan("skip", f"needs {', '.join(missing)}: not available{where}")
    return Plan("run", how=_how(block))
