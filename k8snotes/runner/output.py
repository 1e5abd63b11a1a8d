"""Comparing the output a page shows with the real output, placeholders for what varies."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

# Order matters: longer, more specific shapes first.
_VARYING: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"),
        "<TIME>",
    ),
    (re.compile(r"\b(?:sha256:)?[0-9a-f]{64}\b"), "<DIGEST>"),
    (re.compile(r"(?<![\w.])[0-9a-f]{12}(?![\w.])"), "<ID>"),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2})?\b"), "<IP>"),
    # Deployment pods: NAME-<pod-template-hash>-<5>; ReplicaSets: NAME-<hash>.
    (
        re.compile(r"(?<=[a-z0-9])-[b-df-hj-np-tv-z2-9]{8,10}-[b-df-hj-np-tv-z2-9]{5}\b"),
        "-<HASH>-<ID>",
    ),
    (re.compile(r"(?<=[a-z0-9])-[b-df-hj-np-tv-z2-9]{8,10}\b(?=\s|$)"), "-<HASH>"),
    # Pods of DaemonSets, Jobs and generateName: NAME-<5>.
    (re.compile(r"(?<=[a-z0-9])-[b-df-hj-np-tv-z2-9]{5}\b"), "-<ID>"),
    # Ages and durations as kubectl prints them: 5s, 3m4s, 2d3h, <unknown>.
    (re.compile(r"(?<![\w-])(?:\d+[dhms]){1,3}(?![\w-])"), "<AGE>"),
    (re.compile(r"\b\d+(?:\.\d+)?\s?(?:seconds?|minutes?|hours?) ago\b"), "<AGE> ago"),
    (re.compile(r"(?<=:)\d{4,5}\b"), "<PORT>"),
]

ANY_LINES = "..."
"""A line holding only this matches any number of lines."""


def normalize(line: str) -> str:
    """``line`` with varying parts replaced by placeholders and spaces collapsed.

    ```python
    from k8snotes.runner.output import normalize

    line = "web-6cb5c88748-dr7qz   1/1   Running   0   12s   10.244.1.3"
    assert normalize(line) == "web-<HASH>-<ID> 1/1 Running 0 <AGE> <IP>"
    ```
    """
    for pattern, placeholder in _VARYING:
        line = pattern.sub(placeholder, line)
    return " ".join(line.split())


def _match(expected: Sequence[str], actual: Sequence[str]) -> bool:
    # Simple backtracking match: ANY_LINES consumes zero or more lines.
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head == ANY_LINES:
        return any(_match(rest, actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and head == actual[0] and _match(rest, actual[1:])


def output_matches(expected: str, actual: str) -> bool:
    """True when ``actual`` matches ``expected`` after :func:`normalize` on both sides.

    Blank lines at either end are ignored; ``...`` lines match any lines.
    """
    exp = [
        normalize(x) if x.strip() != ANY_LINES else ANY_LINES
        for x in expected.strip("\n").splitlines()
    ]
    act = [normalize(x) for x in actual.strip("\n").splitlines()]
    return _match(exp, act)


def output_diff(expected: str, actual: str, first_line: int) -> str:
    """A unified diff of expected against actual, expected lines numbered as on the page."""
    exp = expected.strip("\n").splitlines()
    act = actual.strip("\n").splitlines()
    diff = difflib.unified_diff(exp, act, "expected (page)", "actual", lineterm="", n=2)
    numbered = [f"  page line {first_line + i}: {line}" for i, line in enumerate(exp)]
    return "\n".join(["expected, as on the page:", *numbered, "", *diff])
