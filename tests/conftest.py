"""Shared fixtures: each test's own cache, and a tiny site (mkdocs.yml, snippets/) for pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from k8snotes.markdown.includes import Includes

REAL_CACHE_MARKERS = ("cluster", "docker")
"""Tests with these markers use the real cache: the provisioned binaries, images and clusters."""


@pytest.fixture(autouse=True)
def own_cache(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Path | None:
    """Every test that needs no cluster and no Docker gets an empty cache of its own.

    ``K8SNOTES_CACHE`` points at a fresh folder and ``K8SNOTES_STATE`` is unset (so
    the state is ``<that folder>/state``): what a test writes there (a run's page
    durations and green pages, locks) never reaches the developer's cache, and what a
    run reads there (the suite's cluster, the Docker engine a run started) is never
    the developer's. The test's subprocesses (pytester's, ``subprocess.run``) inherit it.

    Tests marked ``cluster`` or ``docker`` keep the real cache: they run on the
    binaries, images, Docker data and clusters provisioned there (``k8snotes setup``).
    """
    if any(request.node.get_closest_marker(name) for name in REAL_CACHE_MARKERS):
        return None
    cache = tmp_path_factory.mktemp("k8snotes-cache")
    monkeypatch.setenv("K8SNOTES_CACHE", str(cache))
    monkeypatch.delenv("K8SNOTES_STATE", raising=False)
    return cache


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
