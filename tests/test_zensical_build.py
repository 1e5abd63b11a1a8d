"""The same ``mkdocs.yml`` builds under Zensical, Material's successor (pinned 0.0.73)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ZENSICAL = shutil.which("zensical", path=str(ROOT / ".venv" / "bin")) or shutil.which("zensical")


@pytest.fixture(scope="module")
def zensical_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if ZENSICAL is None:
        pytest.skip("zensical is not installed (the zensical extra of pyproject.toml)")
    # Zensical writes site/ next to mkdocs.yml: build from a copy of the sources.
    work = tmp_path_factory.mktemp("zensical")
    for name in ("mkdocs.yml", "docs", "snippets", "includes", "hooks", "k8snotes"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, work / name, symlinks=True)
        elif src.exists():
            shutil.copy(src, work / name)
    proc = subprocess.run(
        [ZENSICAL, "build", "-f", "mkdocs.yml", "--strict"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return work / "site"


def test_every_page_is_built(zensical_site: Path) -> None:
    pages = sorted((ROOT / "docs").rglob("*.md"))
    missing = []
    for page in pages:
        rel = page.relative_to(ROOT / "docs").with_suffix("")
        target = rel.parent if rel.name == "index" else rel
        if not (zensical_site / target / "index.html").exists():
            missing.append(str(rel))
    assert missing == []


def test_includes_and_diagrams_survive(zensical_site: Path) -> None:
    html = (zensical_site / "contributing" / "writing-pages" / "index.html").read_text()
    assert "kubectl get deployment hello" in re.sub(r"<[^>]+>", "", html)
    sources = [p for p in (ROOT / "docs").rglob("*.md") if "```mermaid" in p.read_text()]
    assert sources, "no page has a Mermaid diagram: nothing to check"
    rel = sources[0].relative_to(ROOT / "docs").with_suffix("")
    built = (
        zensical_site / (rel.parent if rel.name == "index" else rel) / "index.html"
    ).read_text()
    assert 'class="mermaid"' in built
