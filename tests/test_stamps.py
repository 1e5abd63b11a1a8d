"""The site's stamps and block markers from the ledger (k8snotes.stamps), on HTML: no build."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from k8snotes.ledger import CurrentBlock, CurrentPage, Ledger, LedgerError, RunInfo, block_hash
from k8snotes.stamps import (
    CHANGED,
    NOT_VERIFIED,
    load_site_ledger,
    page_stamp,
    site_ledger_path,
    stamp_page,
)

RUN = RunInfo(
    date="2026-12-02T10:11:12+00:00",
    commit="abc1234",
    kubernetes="v1.37.2",
    kind="v0.33.0",
    backend="kind",
    url="https://ci.example.org/runs/1?a=1&b=2",
)
ONE, TWO, OUT, DIAGRAM, SKIP = (
    "echo one\n",
    "echo two\n",
    "two\n",
    "graph TD\n  a --> b\n",
    "curl x\n",
)
PAGE = CurrentPage(
    "tasks/p.md",
    "page-hash",
    (
        CurrentBlock(5, block_hash(ONE), "run", text=ONE),
        CurrentBlock(9, block_hash(DIAGRAM), "skip", "diagram", text=DIAGRAM),
        CurrentBlock(14, block_hash(TWO), "run", text=TWO),
        CurrentBlock(18, block_hash(OUT), "output", text=OUT),
        CurrentBlock(23, block_hash(SKIP), "skip", "needs the internet", text=SKIP),
    ),
)


def code(text: str, language: str = "bash", title: str = "") -> str:
    name = f'<span class="filename">{title}</span>' if title else ""
    lines = "".join(
        f'<span id="__span-0-{i}"><a id="__codelineno-0-{i}"></a>{line.replace(">", "&gt;")}\n</span>'
        for i, line in enumerate(text.rstrip("\n").split("\n"), 1)
    )
    return (
        f'<div class="language-{language} highlight">{name}<pre><span></span>'
        f"<code>{lines}</code></pre></div>\n"
    )


HTML = (
    '<html><body><nav><h1>Site</h1></nav><article class="md-content__inner md-typeset">'
    '<h1 id="p">P</h1>\n<p>Intro.</p>\n'
    + code(ONE)
    + '<pre class="mermaid"><code>graph TD\n  a --&gt; b\n</code></pre>\n'
    + code("kubectl get pods\n", "console")  # generated: not a block of the page
    + code(TWO, title="two.sh")
    + code(OUT, "text")
    + code(SKIP)
    + "</article></body></html>"
)


def ledger(*, page_hash: str = "page-hash", failed: bool = False) -> Ledger:
    out = Ledger.start(RUN)
    out.record_block(PAGE.name, 5, block_hash(ONE), "passed", 1.25)
    out.record_block(PAGE.name, 9, block_hash(DIAGRAM), "shown", 0.0, "diagram")
    if failed:
        out.record_block(PAGE.name, 14, block_hash(TWO), "failed", 2.0, "p.md:14: exit 3")
    else:
        out.record_block(PAGE.name, 14, block_hash(TWO), "skipped", 0.0, "needs metrics")
    out.record_block(PAGE.name, 18, block_hash(OUT), "shown", 0.0, "the output")
    out.record_block(PAGE.name, 23, block_hash(SKIP), "shown", 0.0, "needs the internet")
    out.record_page(PAGE.name, page_hash=page_hash, seconds=3.0, leak_check="passed")
    return out


def marks(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<span class="k8snotes-mark k8snotes-mark--(\w+)"[^>]*title="([^"]*)"', html)


def stamp_of(html: str) -> str:
    m = re.search(r'<p class="k8snotes-stamp [^"]*"[^>]*>(.*?)</p>', html)
    assert m, "no stamp"
    return m[1]


def test_a_verified_page_is_stamped_under_its_title_and_each_block_marked() -> None:
    out = stamp_page(HTML, PAGE, ledger())
    assert stamp_of(out) == (
        "Verified on Kubernetes v1.37.2 with kind v0.33.0 on 2 Dec 2026 (commit abc1234, "
        '<a href="https://ci.example.org/runs/1?a=1&amp;b=2">the run</a>): '
        "1 block ran, 1 skipped, 3 shown only."
    )
    assert out.index("k8snotes-stamp") > out.index('<h1 id="p">')  # the article's title
    assert out.index("k8snotes-stamp") < out.index("<p>Intro.</p>")
    assert marks(out) == [
        ("passed", "Ran and passed on Kubernetes v1.37.2 with kind v0.33.0 on 2 Dec 2026 (1.2 s)."),
        (
            "skipped",
            "Skipped on Kubernetes v1.37.2 with kind v0.33.0 on 2 Dec 2026: needs metrics.",
        ),
        ("shown", "Shown only, not run: the output."),
        ("shown", "Shown only, not run: needs the internet."),
    ]
    # Outside the code: right before each <pre>, after a title bar; the code is untouched.
    assert '<span class="filename">two.sh</span><span class="k8snotes-mark' in out
    assert re.sub(r'<span class="k8snotes-mark[^>]*></span>', "", out) == (
        HTML.replace("</h1>\n", "</h1>" + re.search(r"<p class=.*?</p>", out)[0] + "\n", 1)
    )
    generated = out.index("kubectl get pods")
    assert "k8snotes-mark" not in out[out.rindex("<div", 0, generated) : generated]


def test_a_changed_page_says_so_and_marks_what_changed() -> None:
    edited = CurrentPage(
        PAGE.name,
        "edited",
        (
            *PAGE.blocks[:2],
            CurrentBlock(14, block_hash("echo 2\n"), "run", text="echo 2\n"),
            *PAGE.blocks[3:],
        ),
    )
    html = HTML.replace("echo two", "echo 2")
    out = stamp_page(html, edited, ledger())
    assert stamp_of(out).startswith(
        f"{CHANGED} on Kubernetes v1.37.2 with kind v0.33.0 on 2 Dec 2026 (commit abc1234"
    )
    found = marks(out)
    assert found[0][1].endswith("(1.2 s). (Before the page changed.)")
    assert found[1] == (
        "changed",
        "Changed since the page was last verified: not run as it is now.",
    )


def test_a_failing_page_is_not_called_verified() -> None:
    out = stamp_page(HTML, PAGE, ledger(failed=True))
    assert stamp_of(out).startswith("Failed on Kubernetes v1.37.2")
    assert stamp_of(out).endswith(": 1 of 2 blocks failed.")
    assert (
        "failed",
        "Ran and failed on Kubernetes v1.37.2 with kind v0.33.0 on 2 Dec 2026: p.md:14: exit 3",
    ) in marks(out)


def test_without_a_ledger_or_an_entry_the_page_claims_nothing() -> None:
    for source in (None, Ledger.start(RUN)):
        out = stamp_page(HTML, PAGE, source)
        assert stamp_of(out) == f"{NOT_VERIFIED}."
        assert marks(out) == []
    assert "no results ledger" in page_stamp(PAGE, None, False).title
    assert "has no run of this page" in page_stamp(PAGE, None, True).title


def test_a_page_with_nothing_to_run_is_left_alone() -> None:
    shown_only = CurrentPage("p.md", "h", (CurrentBlock(3, "x", "skip", "demo"),))
    assert stamp_page(HTML, shown_only, None) == HTML
    assert stamp_page(HTML, CurrentPage("p.md", "h", (), "bad"), None) == HTML


def test_the_versions_in_the_stamp_follow_the_run() -> None:
    kwok = RunInfo(date="2026-01-05T00:00:00+00:00", backend="kwok")
    source = Ledger.start(kwok)
    source.record_block(PAGE.name, 5, block_hash(ONE), "passed")
    source.record_page(PAGE.name, page_hash="page-hash")
    assert stamp_of(stamp_page(HTML, PAGE, source)) == (
        "Verified with kwok on 5 Jan 2026: 1 block ran."
    )


def test_the_site_ledger_is_the_environments_else_the_roots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert site_ledger_path(tmp_path, {}) is None
    (tmp_path / "site-ledger.json").write_text("{}")
    assert site_ledger_path(tmp_path, {}) == tmp_path / "site-ledger.json"
    assert site_ledger_path(tmp_path, {"K8SNOTES_LEDGER": ""}) is None
    assert site_ledger_path(tmp_path, {"K8SNOTES_LEDGER": "/x/l.json"}) == Path("/x/l.json")
    assert site_ledger_path(tmp_path, {"K8SNOTES_LEDGER": "l.json"}) == tmp_path / "l.json"
    with pytest.raises(LedgerError, match="not a k8snotes ledger"):
        load_site_ledger(tmp_path, {})
    with pytest.raises(OSError):
        load_site_ledger(tmp_path, {"K8SNOTES_LEDGER": "missing.json"})
    ledger().write(tmp_path / "site-ledger.json")
    monkeypatch.delenv("K8SNOTES_LEDGER", raising=False)
    loaded = load_site_ledger(tmp_path)
    assert loaded is not None and loaded.view(PAGE.name) is not None
