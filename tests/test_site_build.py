"""The site builds with ``mkdocs build --strict`` and asks nothing of any other host."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

_FETCHING_RELS = {
    "stylesheet",
    "icon",
    "preload",
    "prefetch",
    "modulepreload",
    "manifest",
    "preconnect",
}
_CSS_FETCH = re.compile(r"(?:url\(\s*['\"]?|@import\s+['\"])(?:https?:)?//", re.I)


class _FetchFinder(HTMLParser):
    """Collects the URLs a browser would fetch while loading a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in {"script", "img", "iframe", "source", "audio", "video"} and "src" in a:
            self.urls.append(a["src"])
        elif tag == "link" and _FETCHING_RELS & set(a.get("rel", "").split()):
            self.urls.append(a.get("href", ""))


def remote_fetches(html: str) -> list[str]:
    """URLs on another host that loading ``html`` would request."""
    finder = _FetchFinder()
    finder.feed(html)
    return [u for u in finder.urls if u.startswith(("http:", "https:", "//"))]


@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    site = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    return site, proc.stderr


def test_strict_build_has_no_warning(built_site: tuple[Path, str]) -> None:
    _, log = built_site
    warnings = [line for line in log.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert warnings == []


def test_built_pages_fetch_nothing_from_other_hosts(built_site: tuple[Path, str]) -> None:
    site, _ = built_site
    offenders = []
    for path in site.rglob("*"):
        if path.suffix == ".html":
            offenders += [f"{path}: {url}" for url in remote_fetches(path.read_text())]
        elif path.suffix == ".css":
            offenders += [f"{path}: {m.group(0)}" for m in _CSS_FETCH.finditer(path.read_text())]
    assert offenders == []


def test_fetch_detector_catches_a_cdn_script() -> None:
    html = (
        '<script src="https://unpkg.com/mermaid"></script>'
        '<link rel="stylesheet" href="//fonts.googleapis.com/css">'
        '<link rel="canonical" href="https://k8snotes.example.org/">'
        '<a href="https://kubernetes.io">docs</a>'
    )
    assert remote_fetches(html) == ["https://unpkg.com/mermaid", "//fonts.googleapis.com/css"]
    assert _CSS_FETCH.search("@import url(https://fonts.googleapis.com/css)")


def test_every_page_loads_the_vendored_mermaid(built_site: tuple[Path, str]) -> None:
    site, _ = built_site
    pages = list(site.rglob("*.html"))
    assert pages
    missing = [p for p in pages if "vendor/mermaid-11.17.2.min.js" not in p.read_text()]
    # 404.html uses absolute paths too, so every page must carry the script.
    assert missing == []


def mermaid_fences() -> dict[str, int]:
    """Built page (relative to the site) -> how many ```mermaid fences its source in docs/ has."""
    docs = ROOT / "docs"
    fences = {}
    for src in sorted(docs.rglob("*.md")):
        count = len(re.findall(r"^```mermaid\s*$", src.read_text(), re.M))
        if count:
            rel = src.relative_to(docs).with_suffix("")
            rel = rel.parent if rel.name == "index" else rel
            fences[(rel / "index.html").as_posix()] = count
    return fences


def test_every_mermaid_fence_is_a_diagram_in_the_built_page(built_site: tuple[Path, str]) -> None:
    """The fences come out as the blocks Material draws (``<pre class="mermaid">``)."""
    site, _ = built_site
    fences = mermaid_fences()
    assert fences, "no page in docs/ has a ```mermaid fence"
    built = {rel: (site / rel).read_text().count('<pre class="mermaid">') for rel in fences}
    assert built == fences
