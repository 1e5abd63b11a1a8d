"""Copy fidelity: every copy button of every executable block copies what the runner runs.

For each page of ``docs/``, the blocks the runner executes
(:func:`k8snotes.markdown.copytext.executable_blocks`) are matched, in order and by their
text, to the code blocks rendered on the built page. Matching on the text rather than on a
position keeps the mapping right when a page renders code the parser does not see as a
fence of its own (Mermaid diagrams, docstrings on the API page, generated references).
Each matched block's copy button is clicked in Chromium and the clipboard must hold
exactly :func:`k8snotes.markdown.copytext.copy_text` of the block.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import pytest

from k8snotes.markdown.blocks import Block
from k8snotes.markdown.copytext import copy_text, executable_blocks
from k8snotes.markdown.includes import Includes
from tests.browser.conftest import ROOT

DOCS = ROOT / "docs"
SENTINEL = "\u2063clipboard not written\u2063"
# Material 9.8 renders the copy button as `button.md-code__button[data-md-type=copy]`;
# earlier versions as `button.md-clipboard`.
COPY_BUTTON = "button[data-md-type=copy], button.md-clipboard"

# Every rendered fenced code block (not inline code, not Mermaid, not line numbers).
_CODE_BLOCKS = "article div.highlight pre > code"

_REVEAL = """el => {
  // Open the collapsible details and select the content tab that hold the block:
  // the copy button copies what is displayed, and a hidden block displays nothing.
  for (let p = el; p; p = p.parentElement) {
    if (p.tagName === "DETAILS") p.open = true;
    if (p.classList.contains("tabbed-block")) {
      const index = Array.from(p.parentElement.children).indexOf(p);
      const set = p.closest(".tabbed-set");
      set.querySelectorAll(":scope > .tabbed-labels > label")[index].click();
    }
  }
}"""


@dataclass
class Mismatch:
    block: Block
    url: str
    expected: str
    got: str | None

    def __str__(self) -> str:
        got = "(no rendered block with this text)" if self.got is None else repr(self.got)
        return (
            f"{self.block.location} [{self.block.language}] on {self.url}\n"
            f"    expected: {self.expected!r}\n"
            f"    got:      {got}"
        )


def page_url(md: Path) -> str:
    """The built page's address relative to the site root (``use_directory_urls``)."""
    rel = md.relative_to(DOCS).with_suffix("")
    target = rel.parent if rel.name == "index" else rel
    return "" if str(target) == "." else f"{target.as_posix()}/"


def same_text(rendered: str, source: str) -> bool:
    """The rendered code's text is the fence's text (trailing whitespace aside).

    Python-Markdown expands tabs to 4 columns before anything else reads the page
    (its ``NormalizeWhitespace`` preprocessor), so a tab in an output (``kubectl
    explain`` prints them) is spaces on the site, as in a terminal. What the copy
    button gives is checked apart, unexpanded.
    """

    def lines(text: str) -> list[str]:
        return [line.rstrip() for line in text.rstrip().split("\n")]

    return lines(rendered) == lines(source.expandtabs(4))


def click_copy(page, code) -> str:
    """Click the copy button of a rendered block; what the clipboard then holds."""
    code.evaluate(_REVEAL)
    page.evaluate("text => navigator.clipboard.writeText(text)", SENTINEL)
    # A real click: Playwright scrolls the button into view and moves the mouse onto it.
    code.locator("xpath=..").locator(COPY_BUTTON).click()
    return str(page.evaluate("navigator.clipboard.readText()"))


def test_every_copy_button_copies_what_the_runner_runs(
    page, base_url: str, site_dir: Path, record_property
) -> None:
    includes = Includes(ROOT / "mkdocs.yml")
    pages = sorted(DOCS.rglob("*.md"))
    # Parsed before the first click, as close as can be to the build of `site_dir`.
    plan = [(md, executable_blocks(md, includes, ROOT)) for md in pages]
    visited = clicked = 0
    mismatches: list[Mismatch] = []
    for md, blocks in plan:
        if not blocks:
            continue
        visited += 1
        url = page_url(md)
        assert (site_dir / url / "index.html").exists(), f"{md} was not built at /{url}"
        page.goto(urljoin(base_url, url), wait_until="load")
        page.locator(COPY_BUTTON).first.wait_for(state="attached", timeout=10000)
        codes = page.locator(_CODE_BLOCKS)
        texts: list[str] = codes.evaluate_all("els => els.map(e => e.textContent)")
        cursor = 0
        for block in blocks:
            expected = copy_text(block)
            found = next(
                (i for i in range(cursor, len(texts)) if same_text(texts[i], block.text)), None
            )
            if found is None:
                mismatches.append(Mismatch(block, url, expected, None))
                continue
            cursor = found + 1
            got = click_copy(page, codes.nth(found))
            clicked += 1
            if got != expected:
                mismatches.append(Mismatch(block, url, expected, got))

    summary = (
        f"copy fidelity: {len(pages)} pages ({visited} with executable blocks), "
        f"{clicked} copy buttons clicked, {len(mismatches)} mismatches"
    )
    print(f"\n{summary}")
    record_property("pages", len(pages))
    record_property("pages_with_blocks", visited)
    record_property("blocks_clicked", clicked)
    record_property("mismatches", len(mismatches))
    assert clicked > 0, "no copy button was clicked: is content.code.copy still on?"
    assert [str(m) for m in mismatches] == [], summary + "\n" + "\n".join(map(str, mismatches))


@pytest.mark.parametrize(
    ("md", "url"),
    [
        ("index.md", ""),
        ("tasks/index.md", "tasks/"),
        ("concepts/configmaps-and-secrets.md", "concepts/configmaps-and-secrets/"),
    ],
)
def test_page_url(md: str, url: str) -> None:
    assert page_url(DOCS / md) == url
