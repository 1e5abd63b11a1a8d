"""The site's "verified on" stamps: what the ledger says of each page and block, in its HTML.

The site's build hook (``hooks/k8snotes_hooks.py``) reads the ledger named by
``$K8SNOTES_LEDGER`` (set but empty: none), else ``site-ledger.json`` at the
project's root if there is one, and calls :func:`stamp_page` on each built page:

- under the page's title, a stamp: "Verified on Kubernetes v1.37.2 with kind
  v0.33.0 on 2 Dec 2026 (commit abc1234): 23 blocks ran, 2 shown only", linking to
  the run when the ledger has its address; "Changed since it was last verified ..."
  when the page's hash is not the ledger's; "Not verified in this build" when the
  build has no ledger or the ledger no run of the page;
- before each code block's ``<pre>``, a marker whose ``title`` (shown on hover)
  says what happened to the block: ran and passed, failed, skipped (and why),
  shown only (and why), or changed since. It sits outside the ``<code>`` element,
  so the copy button, which copies the code element's text, copies the same.

Which rendered block is which: the page's blocks, as the runner parses them,
are matched in order to the rendered code blocks, each to the next one whose text
is the block's text (as ``tests/browser/test_copy_fidelity.py`` matches them).
Matching on text, not only on position, keeps the markers right where the page
renders code the runner does not parse as a block of its own (generated
references, docstrings) or a block it does not render as code (a Mermaid diagram,
which gets no marker). The ledger's record of a block is found by the block's
line and text hash (:meth:`k8snotes.ledger.PageView.block`).

```python
from k8snotes.ledger import CurrentBlock, CurrentPage, block_hash
from k8snotes.stamps import stamp_page

page = CurrentPage("p.md", "h", (CurrentBlock(3, block_hash("echo hi\\n"), "run"),))
html = (
    '<article class="md-content__inner md-typeset"><h1>P</h1>'
    '<div class="language-bash highlight"><pre><code>echo hi\\n</code></pre></div></article>'
)
out = stamp_page(html, page, None)
assert "Not verified in this build" in out and "k8snotes-mark" not in out
```
"""

from __future__ import annotations

import html as htmlmod
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from k8snotes.ledger import BlockRecord, CurrentBlock, CurrentPage, Ledger, PageView, RunInfo

LEDGER_ENV = "K8SNOTES_LEDGER"
"""The environment variable naming the ledger the site's build reads (set but empty: none)."""

SITE_LEDGER = "site-ledger.json"
"""The ledger the site's build reads, at the project's root, when ``$K8SNOTES_LEDGER`` is unset."""

NOT_VERIFIED = "Not verified in this build"
"""The stamp of a page the build's ledger says nothing of (or a build without a ledger)."""

CHANGED = "Changed since it was last verified"
"""The start of the stamp of a page whose hash is not its ledger entry's."""


def site_ledger_path(root: Path, env: Mapping[str, str] | None = None) -> Path | None:
    """The ledger the site's build reads: ``$K8SNOTES_LEDGER``, else ``root/site-ledger.json``.

    ``None`` when ``$K8SNOTES_LEDGER`` is set but empty, or unset and there is no
    ``site-ledger.json``: the build claims nothing.
    """
    env = env if env is not None else os.environ
    value = env.get(LEDGER_ENV)
    if value is not None:
        return (root / value) if value else None
    default = root / SITE_LEDGER
    return default if default.is_file() else None


def load_site_ledger(root: Path, env: Mapping[str, str] | None = None) -> Ledger | None:
    """The ledger the site's build reads, or ``None``.

    Raises:
        k8snotes.ledger.LedgerError: It is not a ledger this version reads.
        OSError: ``$K8SNOTES_LEDGER`` names a file that cannot be read.
    """
    path = site_ledger_path(root, env)
    return Ledger.read(path) if path is not None else None


# -- words ---------------------------------------------------------------------------


def _date(value: str) -> str:
    """``2026-12-02T10:11:12+00:00`` -> ``2 Dec 2026`` (as it is, if it does not parse)."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return value
    return f"{when.day} {when:%b %Y}"


def _on_what(run: RunInfo) -> str:
    """``on Kubernetes v1.37.2 with kind v0.33.0 on 2 Dec 2026``."""
    words = []
    if run.kubernetes:
        words.append(f"on Kubernetes {run.kubernetes}")
    backend = run.backend or ("kind" if run.kind else "")
    if backend == "kind" and run.kind:
        words.append(f"with kind {run.kind}")
    elif backend:
        words.append(f"with {backend}")
    words.append(f"on {_date(run.date)}")
    return " ".join(words)


def _commit(run: RunInfo) -> str:
    """`` (commit abc1234, <a>the run</a>)``, escaped."""
    parts = [f"commit {htmlmod.escape(run.commit)}"] if run.commit else []
    if run.url:
        parts.append(f'<a href="{htmlmod.escape(run.url)}">the run</a>')
    return f" ({', '.join(parts)})" if parts else ""


def _details(run: RunInfo) -> str:
    """The run's every version, for the stamp's hover title."""
    named = [
        ("Kubernetes", run.kubernetes),
        ("kind", run.kind),
        ("kubectl", run.kubectl),
        ("Docker", run.docker),
        ("containerd", run.containerd),
        ("backend", run.backend),
        ("shard", run.shard),
        ("commit", run.commit),
    ]
    return ", ".join(f"{name} {value}" for name, value in named if value) + f"; run {run.date}"


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n != 1 else f"1 {what.replace('blocks', 'block')}"


@dataclass(frozen=True)
class Stamp:
    """A page's stamp: its kind (``verified``, ``failed``, ``changed``, ``unverified``) and HTML."""

    kind: str
    html: str
    title: str = ""

    def render(self) -> str:
        """The stamp's element, placed under the page's title."""
        title = f' title="{htmlmod.escape(self.title)}"' if self.title else ""
        return f'<p class="k8snotes-stamp k8snotes-stamp--{self.kind}"{title}>{self.html}</p>'


def page_stamp(current: CurrentPage, view: PageView | None, have_ledger: bool) -> Stamp:
    """The stamp of a page as it is now (``current``) against the ledger's ``view`` of it."""
    if view is None:
        why = "the ledger has no run of this page" if have_ledger else "it has no results ledger"
        return Stamp("unverified", f"{NOT_VERIFIED}.", f"This build claims nothing: {why}.")
    run = view.run
    title = _details(run)
    if view.hash != current.hash:
        return Stamp("changed", f"{CHANGED} {_on_what(run)}{_commit(run)}.", title)
    counts = view.counts()
    if view.failed:
        failed = counts.get("failed", 0)
        executed = sum(n for outcome, n in counts.items() if outcome != "shown")
        what = [f"{failed} of {executed} blocks failed"] if failed else []
        if view.leak_check == "failed":
            what.append("the leak check failed")
        return Stamp("failed", f"Failed {_on_what(run)}{_commit(run)}: {', '.join(what)}.", title)
    ran = [_count(counts.get("passed", 0), "blocks ran")]
    if counts.get("skipped"):
        ran.append(f"{counts['skipped']} skipped")
    if counts.get("shown"):
        ran.append(f"{counts['shown']} shown only")
    return Stamp("verified", f"Verified {_on_what(run)}{_commit(run)}: {', '.join(ran)}.", title)


def block_mark(block: CurrentBlock, view: PageView | None, changed: bool) -> tuple[str, str] | None:
    """A block's marker: (kind, hover text), or ``None`` when the build claims nothing of it."""
    if view is None:
        return None
    record: BlockRecord | None = view.block(block.line, block.hash)
    if record is None:
        if changed:
            return "changed", "Changed since the page was last verified: not run as it is now."
        return "changed", "Not verified: the ledger has no run of this block as it is."
    when = _on_what(view.run)
    if record.outcome == "passed":
        text = f"Ran and passed {when} ({record.seconds:.1f} s)."
    elif record.outcome == "failed":
        text = f"Ran and failed {when}" + (f": {record.reason}" if record.reason else ".")
    elif record.outcome == "skipped":
        text = f"Skipped {when}: {record.reason or 'no reason given'}."
    else:
        text = f"Shown only, not run: {record.reason or 'shown as an example'}."
    if changed:
        text += " (Before the page changed.)"
    return record.outcome, text


# -- the page's HTML -----------------------------------------------------------------

_ARTICLE = re.compile(r'<article class="[^"]*\bmd-content__inner\b[^"]*"[^>]*>')
_H1_END = re.compile(r"</h1>")
_CODE_BLOCK = re.compile(
    r'<div class="[^"]*\bhighlight\b[^"]*"[^>]*>(?:\s*<span class="filename">.*?</span>)?\s*'
    r"(?P<pre><pre\b[^>]*>.*?<code\b[^>]*>)(?P<code>.*?)</code>",
    re.S,
)
_TAG = re.compile(r"<[^>]+>")


def _lines(text: str) -> list[str]:
    """A block's text as compared with the rendered code's: tabs expanded, trailing blanks off."""
    return [line.rstrip() for line in text.expandtabs(4).rstrip().split("\n")]


def stamp_page(page_html: str, current: CurrentPage, ledger: Ledger | None) -> str:
    """``page_html`` with its stamp under its title and a marker before each block's ``<pre>``.

    Only inside the page's ``<article>`` (the whole page when there is none). A page
    with no executable block, or one that does not parse, is left as it is.
    """
    if current.error or not current.executable:
        return page_html
    article = _ARTICLE.search(page_html)
    start = article.end() if article else 0
    end = page_html.find("</article>", start)
    end = len(page_html) if end < 0 else end
    body = page_html[start:end]
    view = ledger.view(current.name) if ledger is not None else None
    changed = view is not None and view.hash != current.hash
    body = _mark_blocks(body, current, view, changed)
    stamp = page_stamp(current, view, ledger is not None).render()
    h1 = _H1_END.search(body)
    at = h1.end() if h1 else 0
    body = body[:at] + stamp + body[at:]
    return page_html[:start] + body + page_html[end:]


def _mark_blocks(body: str, current: CurrentPage, view: PageView | None, changed: bool) -> str:
    rendered = list(_CODE_BLOCK.finditer(body))
    texts = [_lines(htmlmod.unescape(_TAG.sub("", m["code"]))) for m in rendered]
    marks: dict[int, tuple[str, str]] = {}
    cursor = 0
    for block in current.blocks:
        want = _lines(block.text)
        found = next((i for i in range(cursor, len(texts)) if texts[i] == want), None)
        if found is None:
            continue  # not rendered as code (a diagram): no marker
        cursor = found + 1
        mark = block_mark(block, view, changed)
        if mark is not None:
            marks[found] = mark
    out: list[str] = []
    last = 0
    for index, match in enumerate(rendered):
        if index not in marks:
            continue
        kind, text = marks[index]
        at = match.start("pre")
        label = htmlmod.escape(text)
        out += [
            body[last:at],
            f'<span class="k8snotes-mark k8snotes-mark--{kind}" role="img" '
            f'title="{label}" aria-label="{label}"></span>',
        ]
        last = at
    out.append(body[last:])
    return "".join(out)
