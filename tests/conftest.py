"""Shared fixtures: a tiny site (mkdocs.yml, snippets/) to parse pages against."""

from __future__ import annotations

from pathlib import Path

import pytest

from k8snotes.markdown.includes import Includes

MKDOCS_YML = """\
site_name: t
markdown_extensions:
  - pymdownx.snippets:
      base_path: [snippets]
      check_paths: true
  - pymdownx.superfences:
      custom_fences:
        - name: mermaid
          class: mermaid
          format: !!python/name:pymdownx.superfences.fence_code_format
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A minimal site root with ``mkdocs.yml`` and a ``snippets/demo/`` folder."""
    (tmp_path / "mkdocs.yml").write_text(MKDOCS_YML)
    snippets = tmp_path / "snippets" / "demo"
    snippets.mkdir(parents=True)
    (snippets / "pod.yaml").write_text(
        "# --8<-- [start:meta]\napiVersion: v1\nkind: Pod\n# --8<-- [end:meta]\n"
        "metadata:\n  name: web\n"
    )
    (tmp_path / "docs").mkdir()
    return tmp_path


@pytest.fixture
def includes(site: Path) -> Includes:
    """The site's include resolver."""
    return Includes(site / "mkdocs.yml")
