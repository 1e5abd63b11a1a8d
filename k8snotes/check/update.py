"""``--k8snotes-update``: rewrite the outputs a page shows with the real ones, for review in ``git diff``.

A line of the page that matched its real line is kept as written (its
placeholders and ``...`` lines too); the others become what the command
printed. Authors use it after a change that alters output; CI never does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from k8snotes.check.output import ANY_LINES, line_pattern


def updated_output(expected: str, actual: str) -> str:
    """What the page should show: ``actual``, with the page's own line wherever it matched.

    ```python
    from k8snotes.check.update import updated_output

    page = "NAME   READY   AGE\\nweb    1/1     <AGE>"
    real = "NAME   READY   AGE\\nweb    0/1     12s\\ndb     1/1     3s"
    assert updated_output(page, real) == "NAME   READY   AGE\\nweb    0/1     <AGE>\\ndb     1/1     3s"
    assert updated_output("web   5   <AGE>", "web   2   40s") == "web   2   <AGE>"
    assert updated_output("a\\n...\\nz", "a\\nb\\nc\\nz") == "a\\n...\\nz"
    assert updated_output("deployment.apps/web created", "") == ""
    ```
    """
    exp = expected.strip("\n").splitlines() if expected.strip() else []
    act = actual.strip("\n").splitlines() if actual.strip() else []
    flat = [" ".join(a.split()) for a in act]
    n, m = len(exp), len(act)

    def matches(i: int, j: int) -> bool:
        return exp[i].strip() != ANY_LINES and line_pattern(exp[i]).fullmatch(flat[j]) is not None

    # best[i][j]: how many page lines can be kept aligning exp[i:] with act[j:].
    best = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m, -1, -1):
            if exp[i].strip() == ANY_LINES:
                # `...` is kept; it ends here, or swallows this real line.
                best[i][j] = max(best[i + 1][j] + 1, best[i][j + 1] if j < m else 0)
                continue
            options = [best[i + 1][j]]  # the page's line goes
            if j < m:
                options.append(best[i][j + 1])  # a new real line
                if matches(i, j):
                    options.append(best[i + 1][j + 1] + 1)
            best[i][j] = max(options)
    ops: list[tuple[str, str]] = []  # ("keep"|"new"|"drop", line)
    i = j = 0
    while i < n or j < m:
        if i < n and exp[i].strip() == ANY_LINES:
            # `...` absorbs real lines as long as that keeps the most page lines.
            if j < m and best[i][j + 1] >= best[i + 1][j] + 1:
                j += 1
                continue
            ops.append(("keep", exp[i]))
            i += 1
        elif i < n and j < m and matches(i, j) and best[i][j] == best[i + 1][j + 1] + 1:
            ops.append(("keep", exp[i]))
            i += 1
            j += 1
        elif j < m and (i == n or best[i][j] == best[i][j + 1]):
            ops.append(("new", act[j]))
            j += 1
        else:
            ops.append(("drop", exp[i]))
            i += 1
    return "\n".join(_merge_changed(ops))


def _merge_changed(ops: list[tuple[str, str]]) -> list[str]:
    """Pair each changed run's dropped page lines with its new real lines, field by field."""
    out: list[str] = []
    dropped: list[str] = []
    new: list[str] = []

    def flush() -> None:
        for k, line in enumerate(new):
            out.append(_merge_fields(dropped[k], line) if k < len(dropped) else line)
        dropped.clear()
        new.clear()

    for op, line in ops:
        if op == "keep":
            flush()
            out.append(line)
        else:
            (dropped if op == "drop" else new).append(line)
    flush()
    return out


def _merge_fields(page_line: str, real_line: str) -> str:
    """``real_line``, with each field the page's line matched kept as written (``<AGE>``)."""
    written = page_line.split()
    parts = re.split(r"(\s+)", real_line)
    fields = parts[::2]
    if len(written) != len([f for f in fields if f]):
        return real_line
    k = 0
    for idx in range(0, len(parts), 2):
        if parts[idx]:
            if line_pattern(written[k]).fullmatch(parts[idx]):
                parts[idx] = written[k]
            k += 1
    return "".join(parts)


@dataclass(frozen=True)
class OutputUpdate:
    """The expected output at ``first_line`` of ``page`` (``old``, as on the page) should read ``new``."""

    page: Path
    first_line: int
    old: str
    new: str


def apply_updates(updates: list[OutputUpdate]) -> list[str]:
    """Write ``updates`` into their pages (bottom up, so line numbers hold); return what changed.

    An update whose lines no longer read as recorded (the page was edited
    meanwhile, or the output comes from an included file) is left out and said so.
    """
    done = []
    by_page: dict[Path, list[OutputUpdate]] = {}
    for update in updates:
        by_page.setdefault(update.page, []).append(update)
    for page, page_updates in by_page.items():
        lines = page.read_text().split("\n")
        for up in sorted(page_updates, key=lambda u: u.first_line, reverse=True):
            old = up.old.strip("\n").split("\n") if up.old.strip() else []
            start = up.first_line - 1
            if lines[start : start + len(old)] != old:
                done.append(
                    f"{page}:{up.first_line}: not updated: the page no longer shows that output there"
                )
                continue
            new = up.new.split("\n") if up.new else []
            lines[start : start + len(old)] = new
            done.append(f"{page}:{up.first_line}: output updated ({len(old)} -> {len(new)} lines)")
        page.write_text("\n".join(lines))
    return done
