"""The built site as a reader sees it, in headless Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.test_site_build import mermaid_fences


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


# Material draws each diagram into a closed shadow root; the tests open it (and only
# they do) so that they can read the SVG a reader sees.
_OPEN_SHADOW_ROOTS = """
const attach = Element.prototype.attachShadow;
Element.prototype.attachShadow = function (init) {
  return attach.call(this, { ...init, mode: "open" });
};
"""

# Per diagram: its scale on screen (the SVG's width over its viewBox width) and the
# median computed font size of its labels (the elements that hold a label's text,
# in a foreignObject or a <text>); the size a reader sees is the product.
_LABEL_SIZES = """
hosts => hosts.map(host => {
  const svg = host.shadowRoot && host.shadowRoot.querySelector("svg");
  if (!svg) return null;
  const box = svg.viewBox && svg.viewBox.baseVal;
  const width = svg.getBoundingClientRect().width;
  const scale = box && box.width > 0 ? width / box.width : 1;
  const sizes = [...svg.querySelectorAll("foreignObject *, text, tspan")]
    .filter(el => [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
    .map(el => parseFloat(getComputedStyle(el).fontSize))
    .sort((a, b) => a - b);
  const n = sizes.length;
  const median = n === 0 ? 0 : n % 2 ? sizes[(n - 1) / 2] : (sizes[n / 2 - 1] + sizes[n / 2]) / 2;
  return {
    error: svg.getAttribute("aria-roledescription") === "error",
    labels: n, median, scale, width, viewBox: box ? box.width : 0, size: median * scale,
  };
})
"""
MIN_LABEL_PX = 11  # on screen, at 1280x800 (issue 23)
VIEWPORT = {"width": 1280, "height": 800}


def open_diagrams(page, base_url: str, site_dir: Path) -> Iterator[tuple[str, list]]:
    """Each page with a diagram, once Material has drawn them all: (page, its SVGs' figures)."""
    fences = mermaid_fences()
    assert fences, "no page in docs/ has a ```mermaid fence: this test checks nothing"
    page.add_init_script(_OPEN_SHADOW_ROOTS)
    page.set_viewport_size(VIEWPORT)
    for rel, count in fences.items():
        built = (site_dir / rel).read_text().count('class="mermaid"')
        assert built == count, f"{rel}: {count} fences in its source, {built} diagrams built"
        page.goto(urljoin(base_url, rel), wait_until="networkidle")
        page.wait_for_function(
            "n => [...document.querySelectorAll('div.mermaid')]"
            ".filter(d => d.shadowRoot && d.shadowRoot.querySelector('svg')).length >= n",
            arg=count,
            timeout=15000,
        )
        yield rel, page.eval_on_selector_all("div.mermaid", _LABEL_SIZES)


def test_every_mermaid_diagram_renders(page, base_url: str, site_dir: Path) -> None:
    """Every fence is a diagram on its page, drawn, and none is Mermaid's syntax error."""
    for rel, figures in open_diagrams(page, base_url, site_dir):
        sizes = page.eval_on_selector_all(
            "div.mermaid",
            "els => els.map(e => [e.getBoundingClientRect().width, e.getBoundingClientRect().height])",
        )
        assert all(w > 50 and h > 30 for w, h in sizes), (rel, sizes)
        broken = [i for i, f in enumerate(figures) if f is None or f["error"]]
        assert broken == [], f"{rel}: diagrams {broken} are Mermaid's error picture or no SVG"
    assert page.console_errors == []


def test_mermaid_labels_are_readable_at_1280(page, base_url: str, site_dir: Path) -> None:
    """At 1280x800 every diagram draws its labels at MIN_LABEL_PX or more on screen.

    Writes every diagram's figures to mermaid-label-sizes.tsv and screenshots of the
    troubleshooting charts, all in test-artifacts/browser/.
    """
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    rows, small = [], []
    for rel, figures in open_diagrams(page, base_url, site_dir):
        for index, f in enumerate(figures):
            assert f is not None and f["labels"] > 0, (rel, index, f)
            rows.append(
                f"{rel}\t{index}\t{f['size']:.1f}\t{f['median']:.1f}\t{f['scale']:.3f}"
                f"\t{f['width']:.0f}\t{f['viewBox']:.0f}\t{f['labels']}"
            )
            if f["size"] < MIN_LABEL_PX:
                small.append(f"{rel} #{index}: {f['size']:.1f} px")
        if rel == "concepts/troubleshooting/index.html":
            for index in range(len(figures)):
                page.locator("div.mermaid").nth(index).screenshot(
                    path=str(ARTIFACTS / f"troubleshooting-chart-{index}.png"),
                    style=".md-header { visibility: hidden }",  # it may cover a chart's top
                )
    header = (
        "page\tdiagram\tlabel px on screen\tmedian font px\tscale\twidth\tviewBox width\tlabels"
    )
    (ARTIFACTS / "mermaid-label-sizes.tsv").write_text("\n".join([header, *rows]) + "\n")
    assert small == [], f"labels under {MIN_LABEL_PX} px at 1280x800: " + "; ".join(small)


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
