"""Which evaluator runs a fence language: the built-in ones, then the ``k8snotes.evaluators`` entry points.

Another package adds a language by naming its evaluator class under the
entry point group, in its ``pyproject.toml``::

    [project.entry-points."k8snotes.evaluators"]
    greeting = "mypkg.greeting:Greeting"

```python
from k8snotes.evaluators.registry import evaluator_for, languages

assert type(evaluator_for("console")).__name__ == "ConsoleEvaluator"
assert evaluator_for("mermaid") is None
assert {"bash", "console", "yaml", "python"} <= languages()
```
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from k8snotes.evaluators.base import Evaluator
from k8snotes.evaluators.console import ConsoleEvaluator
from k8snotes.evaluators.manifest import ManifestEvaluator
from k8snotes.evaluators.python import PythonEvaluator
from k8snotes.evaluators.shell import ShellEvaluator

ENTRY_POINT_GROUP = "k8snotes.evaluators"
"""The entry point group other packages register evaluator classes under."""

BUILT_IN: tuple[Evaluator, ...] = (
    ShellEvaluator(),
    ConsoleEvaluator(),
    ManifestEvaluator(),
    PythonEvaluator(),
)

_registered: dict[str, Evaluator] = {}


@cache
def _installed() -> dict[str, Evaluator]:
    found: dict[str, Evaluator] = {}
    for evaluator in BUILT_IN:
        found.update(dict.fromkeys(evaluator.languages, evaluator))
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        evaluator = ep.load()()
        found.update(dict.fromkeys(evaluator.languages, evaluator))
    return found


def register(evaluator: Evaluator) -> None:
    """Add ``evaluator`` for its languages in this process (a plugin's conftest, a test)."""
    _registered.update(dict.fromkeys(evaluator.languages, evaluator))


def evaluator_for(language: str) -> Evaluator | None:
    """The evaluator of ``language``, or ``None`` when nothing runs it."""
    return _registered.get(language) or _installed().get(language)


def languages() -> set[str]:
    """Every fence language something runs here."""
    return set(_installed()) | set(_registered)
