"""The built site as a reader sees it, in headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

from tests.browser.conftest import ARTIFACTS


def pages_of(site_dir: Path) -> list[str]:
    return sorted(
        str(p.relative_to(site_dir))
        for p in site_dir.rglob("index.html")
        if "assets" not in p.parts
    )


def test_pages_load_offline_without_console_errors(page, base_url: str, site_dir: Path) -> None:
    for rel in pages_of(site_dir):
        page.goto(urljoin(base_url, rel), wait_until="networkidle")
    assert page.external_requests == []
    assert page.console_errors == []


def test_every_mermaid_diagram_renders(page, base_url: str, site_dir: Path) -> None:
    with_diagrams = [
        p for p in pages_of(site_dir) if 'class="mermaid"' in (site_dir / p).read_text()
    ]
    if not with_diagrams:
        pytest.skip("no page has a Mermaid diagram yet")
    for rel in with_diagrams:
        page.goto(urljoin(base_url, rel), wait_until="networkidle")
        expected = (site_dir / rel).read_text().count('class="mermaid"')
        page.wait_for_function(
            f"document.querySelectorAll('div.mermaid').length >= {expected}", timeout=15000
        )
        sizes = page.eval_on_selector_all(
            "div.mermaid",
            "els => els.map(e => [e.getBoundingClientRect().width, e.getBoundingClientRect().height])",
        )
        assert all(w > 50 and h > 30 for w, h in sizes), (rel, sizes)


def test_search_finds_a_term_and_opens_its_page(page, base_url: str) -> None:
    page.goto(base_url, wait_until="networkidle")
    page.keyboard.press("/")  # Material's shortcut: focus the search box
    page.keyboard.type("glossary")  # typed, as Material listens to key events
    result = page.locator(".md-search-result__link").first
    result.wait_for(timeout=10000)
    result.click()
    page.wait_for_load_state("networkidle")
    assert "glossary" in page.url


def test_copy_button_copies_only_the_commands(page, base_url: str) -> None:
    page.goto(urljoin(base_url, "contributing/writing-pages/"), wait_until="networkidle")
    block = (
        page.locator("div.language-console").filter(has_text="kubectl get deployment hello").first
    )
    block.hover()
    block.locator("button[data-md-type=copy]").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.strip() == "kubectl get deployment hello"


def test_palette_toggle_switches_dark_and_light(page, base_url: str) -> None:
    page.goto(base_url, wait_until="networkidle")
    scheme = lambda: page.get_attribute("body", "data-md-color-scheme")  # noqa: E731
    first = scheme()
    page.locator("form[data-md-component=palette] label:visible").first.click()
    second = scheme()
    page.locator("form[data-md-component=palette] label:visible").first.click()
    assert {first, second} == {"default", "slate"} and scheme() == first


def test_glossary_tooltip_appears_on_hover(page, base_url: str) -> None:
    page.goto(urljoin(base_url, "reference/glossary/"), wait_until="networkidle")
    abbr = page.locator("article abbr[title]").first
    title = abbr.get_attribute("title")
    assert title
    abbr.hover()
    tooltip = page.locator(".md-tooltip2, .md-tooltip").filter(has_text=title[:20]).first
    tooltip.wait_for(state="visible", timeout=5000)


def test_internal_links_and_anchors_resolve(page, base_url: str, site_dir: Path) -> None:
    broken = []
    for rel in pages_of(site_dir):
        html = (site_dir / rel).read_text()
        for href in re.findall(r'<a [^>]*href="([^"]+)"', html):
            url = urlparse(urljoin(urljoin(base_url, rel), href))
            if url.netloc != urlparse(base_url).netloc:
                continue
            path = site_dir / url.path.lstrip("/")
            target = path / "index.html" if url.path.endswith("/") or path.is_dir() else path
            if not target.exists():
                broken.append(f"{rel}: {href}")
            elif url.fragment and f'id="{url.fragment}"' not in target.read_text():
                broken.append(f"{rel}: {href} (anchor)")
    assert broken == []


@pytest.mark.parametrize(("preference", "scheme"), [("light", "default"), ("dark", "slate")])
def test_screenshots_light_and_dark(
    browser, base_url: str, site_dir: Path, preference: str, scheme: str
) -> None:
    """Pages as a reader whose system prefers light or dark sees them, kept as artefacts."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(color_scheme=preference, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    wanted = ["", "contributing/writing-pages/", "tasks/make-it-a-deployment/",
              "tasks/run-a-pod-and-a-service/", "concepts/pods/"]  # fmt: skip
    shot = 0
    for rel in wanted:
        if not (site_dir / rel / "index.html").exists():
            continue
        page.goto(urljoin(base_url, rel), wait_until="networkidle")
        assert page.get_attribute("body", "data-md-color-scheme") == scheme
        name = (rel.strip("/").replace("/", "-") or "home") + f"-{scheme}.png"
        page.screenshot(path=str(ARTIFACTS / name))
        shot += 1
    context.close()
    assert shot >= 2
