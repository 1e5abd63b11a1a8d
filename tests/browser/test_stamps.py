"""The results ledger on the built site, in Chromium: stamps, block markers, the copy button.

The site is built twice, side by side: with a small ledger made here for three real
pages (one verified, with a block skipped; one changed since; one failing) and with
no ledger at all (``K8SNOTES_LEDGER`` set but empty). The hashes are the pages' own
(:func:`k8snotes.ledger.current_pages`), so the verified page is verified as it is.
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest

from k8snotes.ledger import OUTPUT_REASON, CurrentPage, Ledger, RunInfo, current_pages
from k8snotes.markdown.copytext import copy_text, executable_blocks
from k8snotes.markdown.includes import Includes
from k8snotes.stamps import CHANGED, NOT_VERIFIED
from tests.browser.conftest import ARTIFACTS, ROOT, _QuietHandler
from tests.browser.test_copy_fidelity import COPY_BUTTON, click_copy, page_url, same_text

DOCS = ROOT / "docs"
VERIFIED = "tasks/run-a-pod-and-a-service.md"
CHANGED_PAGE = "tasks/make-it-a-deployment.md"
FAILING = "tasks/build-and-run-an-image.md"
ABSENT = "concepts/pods.md"
SKIP_REASON = "needs metrics: not available on backend kind"
FAILURE = "docs/tasks/build-and-run-an-image.md:40: bash block failed"
RUN = RunInfo(
    date="2026-12-02T10:11:12+00:00",
    commit="abc1234",
    kubernetes="v1.37.2",
    kind="v0.33.0",
    kubectl="v1.37.1",
    docker="29.1.2",
    containerd="v2.2.0",
    backend="kind",
    url="https://ci.example.org/runs/42",
)
VIEWPORT = {"width": 1280, "height": 800}


def make_ledger(pages: dict[str, CurrentPage]) -> Ledger:
    """Every block of the three pages recorded; the verified page's second one skipped."""
    ledger = Ledger.start(RUN)
    for name in (VERIFIED, CHANGED_PAGE, FAILING):
        page = pages[name]
        executable = page.executable
        for block in page.blocks:
            if not block.executable:
                reason = block.reason or OUTPUT_REASON
                ledger.record_block(name, block.line, block.hash, "shown", 0.0, reason)
            elif name == VERIFIED and block is executable[1]:
                ledger.record_block(name, block.line, block.hash, "skipped", 0.0, SKIP_REASON)
            elif name == FAILING and block is executable[-1]:
                ledger.record_block(name, block.line, block.hash, "failed", 2.0, FAILURE)
            else:
                ledger.record_block(name, block.line, block.hash, "passed", 1.5)
        digest = "0" * 64 if name == CHANGED_PAGE else page.hash
        ledger.record_page(name, page_hash=digest, seconds=30.0, leak_check="passed")
    return ledger


@pytest.fixture(scope="module")
def pages() -> dict[str, CurrentPage]:
    return current_pages(DOCS)


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory, pages: dict[str, CurrentPage]) -> dict:
    """Two builds at once: ``ledger`` (the ledger above) and ``none`` (no ledger)."""
    work = tmp_path_factory.mktemp("stamps")
    ledger = make_ledger(pages).write(work / "ledger.json")
    builds = {}
    for name, value in (("ledger", str(ledger)), ("none", "")):
        env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "K8SNOTES_LEDGER": value}
        out = work / f"site-{name}"
        builds[name] = (out, subprocess.Popen(
            [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        ))  # fmt: skip
    for name, (_, proc) in builds.items():
        output, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"the build with ledger={name} failed:\n{output}"
    return {name: out for name, (out, _) in builds.items()}


@pytest.fixture(scope="module")
def urls(sites: dict[str, Path]) -> Iterator[dict[str, str]]:
    servers = []
    for directory in sites.values():
        handler = functools.partial(_QuietHandler, directory=str(directory))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield {
        name: f"http://127.0.0.1:{server.server_address[1]}/"
        for name, server in zip(sites, servers, strict=True)
    }
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def tab(browser: object) -> Iterator[object]:
    context = browser.new_context(  # type: ignore[attr-defined]
        permissions=["clipboard-read", "clipboard-write"], viewport=VIEWPORT
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == []


def open_page(tab, base: str, name: str) -> None:
    tab.goto(urljoin(base, page_url(DOCS / name)), wait_until="load")
    tab.locator(COPY_BUTTON).first.wait_for(state="attached", timeout=10000)


def marks(tab) -> list[dict[str, str]]:
    return tab.locator(".k8snotes-mark").evaluate_all(
        "els => els.map(e => ({kind: e.className.split('--')[1], title: e.title}))"
    )


def test_a_verified_page_has_its_stamp_and_a_marker_per_block(
    tab, urls: dict[str, str], pages: dict[str, CurrentPage]
) -> None:
    page = pages[VERIFIED]
    ran = len(page.executable) - 1
    shown = len(page.blocks) - len(page.executable)
    open_page(tab, urls["ledger"], VERIFIED)
    stamp = tab.locator(".k8snotes-stamp")
    assert stamp.count() == 1
    assert stamp.inner_text() == (
        "Verified on Kubernetes v1.37.2 with kind v0.33.0 on 2 Dec 2026 (commit abc1234, "
        f"the run): {ran} blocks ran, 1 skipped, {shown} shown only."
    )
    assert stamp.locator("a").get_attribute("href") == RUN.url
    assert "containerd v2.2.0" in str(stamp.get_attribute("title"))
    # The stamp sits right under the title.
    assert tab.evaluate("document.querySelector('article h1').nextElementSibling.className") == (
        "k8snotes-stamp k8snotes-stamp--verified"
    )

    found = marks(tab)
    assert len(found) == len(page.blocks), found  # every block of this page renders as code
    kinds = [m["kind"] for m in found]
    assert kinds.count("passed") == ran and kinds.count("skipped") == 1
    assert kinds.count("shown") == shown
    skipped = next(m for m in found if m["kind"] == "skipped")
    assert (
        skipped["title"]
        == f"Skipped on Kubernetes v1.37.2 with kind v0.33.0 on 2 Dec 2026: {SKIP_REASON}."
    )
    passed = next(m for m in found if m["kind"] == "passed")
    assert passed["title"].startswith("Ran and passed on Kubernetes v1.37.2 with kind v0.33.0")
    shown_titles = {m["title"] for m in found if m["kind"] == "shown"}
    assert all(t.startswith("Shown only, not run: ") for t in shown_titles)

    # Each marker can be hovered: it is on screen and nothing covers it.
    marker = tab.locator(".k8snotes-mark--skipped")
    marker.scroll_into_view_if_needed()
    marker.hover()
    on_top = marker.evaluate(
        """el => { const r = el.getBoundingClientRect();
                   return r.width > 0 && r.left >= 0 &&
                          document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === el; }"""
    )
    assert on_top, "the skipped block's marker is hidden or covered"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.evaluate("window.scrollTo(0, 0)")
    tab.wait_for_timeout(500)  # the header's title fades back after a scroll
    tab.screenshot(path=str(ARTIFACTS / "ledger-stamp-and-markers.png"))
    marker.evaluate("el => el.closest('div.highlight').scrollIntoView({block: 'center'})")
    tab.wait_for_timeout(500)
    tab.screenshot(path=str(ARTIFACTS / "ledger-skipped-marker.png"))


def test_the_copy_button_still_copies_only_the_command(tab, urls: dict[str, str]) -> None:
    blocks = executable_blocks(DOCS / VERIFIED, Includes(ROOT / "mkdocs.yml"), ROOT)
    open_page(tab, urls["ledger"], VERIFIED)
    codes = tab.locator("article div.highlight pre > code")
    texts: list[str] = codes.evaluate_all("els => els.map(e => e.textContent)")
    cursor, clicked = 0, 0
    for block in blocks:
        found = next(i for i in range(cursor, len(texts)) if same_text(texts[i], block.text))
        cursor = found + 1
        marker = codes.nth(found).locator("xpath=ancestor::div[contains(@class, 'highlight')][1]")
        assert marker.locator(".k8snotes-mark").count() == 1, block.location
        assert click_copy(tab, codes.nth(found)) == copy_text(block), block.location
        clicked += 1
    assert clicked == len(blocks) > 0


def test_a_changed_page_and_a_failing_page_say_so(
    tab, urls: dict[str, str], pages: dict[str, CurrentPage]
) -> None:
    open_page(tab, urls["ledger"], CHANGED_PAGE)
    text = tab.locator(".k8snotes-stamp").inner_text()
    assert text == (
        f"{CHANGED} on Kubernetes v1.37.2 with kind v0.33.0 on 2 Dec 2026 (commit abc1234, the run)."
    )
    assert "Verified" not in text
    found = marks(tab)
    assert found and all(m["title"].endswith("(Before the page changed.)") for m in found)

    open_page(tab, urls["ledger"], FAILING)
    text = tab.locator(".k8snotes-stamp--failed").inner_text()
    assert text.startswith("Failed on Kubernetes v1.37.2 with kind v0.33.0 on 2 Dec 2026")
    assert text.endswith(f": 1 of {len(pages[FAILING].executable)} blocks failed.")
    failed = [m for m in marks(tab) if m["kind"] == "failed"]
    assert [m["title"] for m in failed] == [
        f"Ran and failed on Kubernetes v1.37.2 with kind v0.33.0 on 2 Dec 2026: {FAILURE}"
    ]

    open_page(tab, urls["ledger"], ABSENT)
    assert tab.locator(".k8snotes-stamp").inner_text() == f"{NOT_VERIFIED}."
    assert marks(tab) == []


def test_a_build_without_a_ledger_claims_nothing(
    tab, urls: dict[str, str], sites: dict[str, Path]
) -> None:
    open_page(tab, urls["none"], VERIFIED)
    stamp = tab.locator(".k8snotes-stamp")
    assert stamp.inner_text() == f"{NOT_VERIFIED}."
    assert "no results ledger" in str(stamp.get_attribute("title"))
    assert marks(tab) == []
    tab.screenshot(path=str(ARTIFACTS / "ledger-not-verified.png"))
    built = [p.read_text() for p in sites["none"].rglob("*.html")]
    assert sum("k8snotes-stamp--unverified" in h for h in built) > 40
    # Class attributes, not words: the API page shows k8snotes.stamps' docstrings.
    assert not any('class="k8snotes-mark' in h or "k8snotes-stamp--verified" in h for h in built)
