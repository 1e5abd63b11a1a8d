"""Comparing the output a page shows with the real output, placeholders for what varies.

Each line of a page's expected output becomes a pattern that the real line must
match in full, after runs of spaces are collapsed on both sides. In the expected
line, a **placeholder** stands for a value that differs between runs or
machines. A placeholder gets there in one of two ways:

- the author writes it, in angle brackets, where the figure varies:
  ``kind-control-plane   <CPU>   <NUM>%   <MEM>   <NUM>%`` for ``kubectl top
  nodes``, ``sample-app   1.0.0   <ID>   <SIZE>`` for ``crictl images``;
- the matcher finds it by itself in the page's text, for shapes that cannot be
  anything else: an age ``12s`` in a table, a Pod name ``web-6cb5c88748-dr7qz``,
  an IP address. A shape that could be something else is never guessed: ``10m``
  is ten minutes in an AGE column and ten millicores in ``kubectl top``, so a
  page writes ``<AGE>`` or ``<CPU>`` there.

The real output is never rewritten: a placeholder in the expected line matches
every value of its kind (:attr:`Placeholder.pattern`), and nothing else.

```python
from k8snotes.check.output import output_matches

page = '''
NAME                   READY   STATUS    RESTARTS   AGE
web-6cb5c88748-dr7qz   1/1     Running   0          12s
'''
real = '''
NAME                   READY   STATUS    RESTARTS   AGE
web-5d8f9c7b6d-x2k9p   1/1     Running   0          3m4s
'''
assert output_matches(page, real)
assert not output_matches(page, real.replace("Running", "Pending"))

top = "NAME   CPU(cores)   MEMORY(bytes)\\nweb    <CPU>        <MEM>"
assert output_matches(top, "NAME CPU(cores) MEMORY(bytes)\\nweb 250m 64Mi")
assert not output_matches(top, "NAME CPU(cores) MEMORY(bytes)\\nweb 5s 64Mi")
```
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Placeholder:
    """A kind of value that differs between runs or machines.

    Attributes:
        name: What an author writes in expected output, in angle brackets:
            ``AGE`` is written ``<AGE>``.
        pattern: A regular expression for every value of this kind; the real
            output's value must match it in full.
        meaning: What it stands for, with examples.
        detect: Where the matcher finds such a value in a page's expected output
            by itself, or ``None`` when only an author writes it.
    """

    name: str
    pattern: str
    meaning: str
    detect: re.Pattern[str] | None = None

    @property
    def token(self) -> str:
        """The placeholder as written in a page: ``<AGE>``."""
        return f"<{self.name}>"

    def matches(self, value: str) -> bool:
        """True when ``value``, all of it, is a value of this kind.

        ```python
        from k8snotes.check.output import PLACEHOLDERS

        assert PLACEHOLDERS["CPU"].matches("250m")
        assert not PLACEHOLDERS["AGE"].matches("250m")
        ```
        """
        return re.fullmatch(self.pattern, value) is not None


# Letters of generated names (k8s.io/apimachinery/pkg/util/rand): no vowels, no 0, 1, 3.
_SAFE = "[bcdfghjklmnpqrstvwxz2456789]"

# Ages as kubectl prints them (k8s.io/apimachinery/pkg/util/duration: HumanDuration,
# and ShortHumanDuration of older columns): 0s-119s, 2m1s-9m59s, 1m-179m, 3h1m-7h59m,
# 1h-47h, 2d1h-7d23h, 1d-729d, 2y1d-7y364d, 1y and up. Never 250m or 120s.
_SECONDS = r"(?:1[01]\d|[1-9]?\d)s"
_MINUTES = r"(?:1[0-7]\d|[1-9]\d|[1-9])m"
_KUBECTL_AGES_BUT_MINUTES = (
    _SECONDS,
    r"[2-9]m(?:[1-5]\d|[1-9])s",
    r"[3-7]h(?:[1-5]\d|[1-9])m",
    r"(?:4[0-7]|[1-3]\d|[1-9])h",
    r"[2-7]d(?:2[0-3]|1\d|[1-9])h",
    r"(?:7[0-2]\d|[1-6]\d\d|[1-9]\d|[1-9])d",
    r"[2-7]y(?:36[0-4]|3[0-5]\d|[12]\d\d|[1-9]\d|[1-9])d",
    r"[1-9]\d*y",
)
# Docker's (github.com/docker/go-units: HumanDuration): "Up 5 seconds", "2 hours ago".
_DOCKER_AGE = (
    r"(?:Less than a second|About an? (?:minute|hour)"
    r"|\d+ (?:second|minute|hour|day|week|month|year)s?)"
)
_AGE = "|".join((*_KUBECTL_AGES_BUT_MINUTES, _MINUTES, _DOCKER_AGE))

_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_TIME = (
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z| ?[+-]\d{2}:?\d{2})?"
    rf"|{_DAY}, \d{{2}} {_MONTH} \d{{4}} \d{{2}}:\d{{2}}:\d{{2}} [+-]\d{{4}}"
    # Go's time.ANSIC, as Helm prints it: Fri Nov 27 16:33:26 2026
    rf"|{_DAY} {_MONTH} [ \d]\d \d{{2}}:\d{{2}}:\d{{2}} \d{{4}}"
)
_IP = r"(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?"

_LIST: list[Placeholder] = [
    Placeholder(
        "TIME",
        _TIME,
        "a timestamp: 2026-11-25T02:31:07Z, 2026-11-25 02:31:07.123 +0000, "
        "Tue, 25 Nov 2026 02:31:07 +0000, Fri Nov 27 16:33:26 2026 (Go's ANSIC, Helm)",
        re.compile(rf"(?<![\w:.-])(?:{_TIME})(?![\w:])"),
    ),
    Placeholder(
        "DIGEST",
        r"[0-9a-f]{64}",
        "a SHA-256 digest or full image ID, 64 hex digits (after sha256: if shown)",
        re.compile(r"(?<![0-9a-zA-Z])[0-9a-f]{64}(?![0-9a-zA-Z])"),
    ),
    Placeholder(
        "ID",
        r"[0-9a-f]{12,13}",
        "a short container or image ID: 12 hex digits (Docker, a container's "
        "hostname: f979affe0a6b), 13 (crictl: a0c6909bcb536)",
        # Found only with both a digit and a letter: 123456789012 may be a count of bytes.
        re.compile(r"(?<![\w.])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{12,13}(?![\w.])"),
    ),
    Placeholder(
        "IP",
        _IP,
        "an IPv4 address, with or without a prefix length: 10.244.1.3, 10.244.0.0/16",
        re.compile(rf"(?<![\w.]){_IP}(?!\w|\.\d)"),
    ),
    Placeholder(
        "HASH",
        rf"{_SAFE}{{4,10}}",
        "a pod-template-hash: the 6cb5c88748 of ReplicaSet web-6cb5c88748 "
        "and Pod web-6cb5c88748-dr7qz",
        re.compile(
            rf"(?<=[a-z0-9]-){_SAFE}{{8,10}}(?=-(?:{_SAFE}{{5}}(?![\w-])|<SUFFIX>))"
            rf"|(?<=[a-z0-9]-){_SAFE}{{8,10}}(?=[\s,)]|$)"
            rf"|(?<=pod-template-hash=){_SAFE}{{4,10}}(?![\w-])"
        ),
    ),
    Placeholder(
        "SUFFIX",
        rf"{_SAFE}{{5}}",
        "the 5 random letters ending a generated name: the dr7qz of Pod "
        "web-6cb5c88748-dr7qz, the x8k2z of kube-proxy-x8k2z, web-2cvxg (EndpointSlice)",
        re.compile(rf"(?:(?<=[a-z0-9]-)|(?<=>-)){_SAFE}{{5}}(?![\w-])"),
    ),
    Placeholder(
        "AGE",
        _AGE,
        "an age or elapsed time as kubectl prints it (5s, 3m4s, 10m, 5h, 2d3h, 8d, 2y) "
        "or Docker does (5 seconds, About a minute); never 250m (CPU) or 64Mi",
        # kubectl's in a column or "(12s ago)", but minutes alone (10m) only when written:
        # they are millicores too. Docker's before "ago" or after "Up".
        re.compile(
            rf"(?<![^\s(])(?:{'|'.join(_KUBECTL_AGES_BUT_MINUTES)})(?![^\s),])"
            rf"|{_DOCKER_AGE}(?= ago\b)|(?<=\bUp ){_DOCKER_AGE}"
        ),
    ),
    Placeholder(
        "PORT",
        r"\d{1,5}",
        "a port number; found by itself only from 30000 after a colon (picked by the "
        "system: kubectl port-forward :8080, NodePorts), so 127.0.0.1:8080 is checked",
        re.compile(r"(?<=:)(?:[3-5]\d{4}|6[0-4]\d{3}|65[0-4]\d\d|655[0-2]\d|6553[0-5])(?!\d)"),
    ),
    Placeholder(
        "CPU",
        r"\d+(?:\.\d+)?m?",
        "a CPU figure as kubectl prints it: 250m, 1500m, 1, 0.5 (kubectl top, "
        "describe node); written by the author",
    ),
    Placeholder(
        "MEM",
        r"\d+(?:\.\d+)?(?:[KMGTPE]i|[kMGTPE])?",
        "a memory quantity as kubectl prints it: 64Mi, 1Gi, 500M, 131072Ki, "
        "134217728 (bytes); written by the author",
    ),
    Placeholder(
        "SIZE",
        r"\d+(?:\.\d+)?(?:B|kB|KB|MB|GB|TB|PB|KiB|MiB|GiB|TiB|PiB)",
        "a size as Docker and crictl print it: 126MB, 48.2MB, 1.2kB, 0B, 12.5MiB "
        "(docker stats); images' sizes change with every build; written by the author",
    ),
    Placeholder(
        "NUM",
        r"-?\d+(?:\.\d+)?",
        "a number that varies: 3, -1, 0.25 (write <NUM>% for a percentage); written by the author",
    ),
    Placeholder(
        "NAME",
        r"[a-z0-9](?:[a-z0-9_.-]*[a-z0-9])?",
        "a name that varies between machines or runs: a node (kind-worker2), a "
        "Docker container's generated name (hopeful_morse); written by the author",
    ),
]

PLACEHOLDERS: dict[str, Placeholder] = {p.name: p for p in _LIST}
"""Every placeholder by name, in the order the matcher looks for them."""

_WRITTEN = re.compile("<(" + "|".join(PLACEHOLDERS) + ")>")

ANY_LINES = "..."
"""A line holding only this matches any number of lines."""


def _segments(line: str) -> list[tuple[str, Placeholder | None]]:
    """``line``, spaces collapsed, cut into literal text and placeholders."""
    line = " ".join(line.split())
    spans: list[tuple[int, int, Placeholder]] = [
        (m.start(), m.end(), PLACEHOLDERS[m[1]]) for m in _WRITTEN.finditer(line)
    ]
    for placeholder in _LIST:
        if placeholder.detect is None:
            continue
        for m in placeholder.detect.finditer(line):
            if m.end() > m.start() and all(m.end() <= s or m.start() >= e for s, e, _ in spans):
                spans.append((m.start(), m.end(), placeholder))
    segments: list[tuple[str, Placeholder | None]] = []
    pos = 0
    for start, end, placeholder in sorted(spans, key=lambda s: s[0]):
        if start > pos:
            segments.append((line[pos:start], None))
        segments.append((line[start:end], placeholder))
        pos = end
    if pos < len(line):
        segments.append((line[pos:], None))
    return segments


def normalize(line: str) -> str:
    """``line`` as the matcher reads an expected line: spaces collapsed, placeholders shown.

    Values found by themselves become their placeholder; placeholders the author
    wrote stay; everything else must match the real line exactly.

    ```python
    from k8snotes.check.output import normalize

    line = "web-6cb5c88748-dr7qz   1/1   Running   0   12s   10.244.1.3"
    assert normalize(line) == "web-<HASH>-<SUFFIX> 1/1 Running 0 <AGE> <IP>"
    assert normalize("web   250m   64Mi") == "web 250m 64Mi"
    assert normalize("web   <CPU>   <MEM>") == "web <CPU> <MEM>"
    ```
    """
    return "".join(text if p is None else p.token for text, p in _segments(line))


def line_pattern(expected: str) -> re.Pattern[str]:
    """The pattern a real line (spaces collapsed) must match in full for ``expected``.

    ```python
    from k8snotes.check.output import line_pattern

    pattern = line_pattern("sample-app   1.0.0   <ID>   <SIZE>")
    assert pattern.fullmatch("sample-app 1.0.0 a0c6909bcb536 126MB")
    assert not pattern.fullmatch("sample-app 2.0.0 a0c6909bcb536 126MB")
    ```
    """
    return _compiled(" ".join(expected.split()))


@lru_cache(maxsize=4096)
def _compiled(expected: str) -> re.Pattern[str]:
    return re.compile(
        "".join(
            re.escape(text) if p is None else f"(?:{p.pattern})" for text, p in _segments(expected)
        )
    )


def _match(expected: Sequence[re.Pattern[str] | None], actual: Sequence[str]) -> bool:
    # Simple backtracking match: None (an ANY_LINES line) consumes zero or more lines.
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head is None:
        return any(_match(rest, actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and head.fullmatch(actual[0]) is not None and _match(rest, actual[1:])


KLOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ [\w./-]+:\d+\] ")
"""A client library's log line (klog), such as client-go's occasional
``"Warning: watch ended with error"`` from ``kubectl wait``: diagnostics on
standard error, not the command's output, so never compared."""


def without_logs(actual: str) -> str:
    """``actual`` without klog lines.

    ```python
    from k8snotes.check.output import without_logs

    noisy = 'I1127 14:07:59.730071   27085 reflector.go:664] "Warning: watch ended"\npod/x condition met'
    assert without_logs(noisy) == "pod/x condition met"
    assert without_logs("I1127 is not a log line") == "I1127 is not a log line"
    ```
    """
    return "\n".join(line for line in actual.split("\n") if not KLOG_LINE.match(line))


def output_matches(expected: str, actual: str) -> bool:
    """True when each line of ``actual`` matches the line of ``expected`` in its place.

    Lines are compared with runs of spaces collapsed, through :func:`line_pattern`.
    Blank lines at either end are ignored; ``...`` lines match any lines.

    ```python
    from k8snotes.check.output import output_matches

    assert output_matches("first\\n...\\nlast", "first\\nx\\ny\\nlast")
    assert output_matches("hello   <NUM>", "hello 42")
    assert not output_matches("hello   <NUM>", "hello 4s")
    ```
    """
    exp = [
        None if x.strip() == ANY_LINES else line_pattern(x)
        for x in expected.strip("\n").splitlines()
    ]
    act = [" ".join(x.split()) for x in without_logs(actual).strip("\n").splitlines()]
    return _match(exp, act)


def output_diff(expected: str, actual: str, first_line: int) -> str:
    """A unified diff of expected against actual, expected lines numbered as on the page.

    A line in which the matcher found placeholders by itself is followed by how
    it reads it, so that a figure it left alone (``10m``, ``250m``) shows.

    ```python
    from k8snotes.check.output import output_diff

    report = output_diff("web   3   5s", "web 2 7s", first_line=12)
    assert "page line 12: web   3   5s" in report
    assert "read as: web 3 <AGE>" in report
    ```
    """
    exp = expected.strip("\n").splitlines()
    act = without_logs(actual).strip("\n").splitlines()
    diff = difflib.unified_diff(exp, act, "expected (page)", "actual", lineterm="", n=2)
    numbered: list[str] = []
    for i, line in enumerate(exp):
        numbered.append(f"  page line {first_line + i}: {line}")
        read = normalize(line)
        if line.strip() != ANY_LINES and read != " ".join(line.split()):
            numbered.append(f"      read as: {read}")
    return "\n".join(["expected, as on the page:", *numbered, "", *diff])
