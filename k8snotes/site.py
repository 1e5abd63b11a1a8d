"""What a site gives the runner as data: its images and its ingress controller's manifest.

Read from ``[tool.k8snotes]`` in the project's ``pyproject.toml`` (the nearest
one above the working directory, or the pytest rootdir's). The backends and the
runner know no site content; a project without the section gets no images
built and no ingress controller on the suite's cluster.

```toml
[tool.k8snotes]
ingress-manifest = "snippets/tasks/ingress-and-gateway-api/traefik.yaml"

[tool.k8snotes.images]
"sample-app:1.0.0" = { context = "snippets/app" }
"sample-app:2.0.0" = { context = "snippets/app", args = { APP_VERSION = "2.0.0" } }
```

```python
from pathlib import Path

from k8snotes.site import load_site

site = load_site(Path("."))
assert site.images["sample-app:2.0.0"].args == {"APP_VERSION": "2.0.0"}
assert site.ingress_manifest and site.ingress_manifest.name == "traefik.yaml"
```
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SiteImage:
    """An image the pages use, built from the site's files before pages run.

    Attributes:
        context: The build context (a folder with a Dockerfile).
        args: ``--build-arg`` values.
    """

    context: Path
    args: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Site:
    """The site's data (see the module's documentation).

    Attributes:
        root: The folder of the ``pyproject.toml`` it was read from.
        images: Tag -> how to build it; loaded into the suite's cluster in namespace mode.
        ingress_manifest: The ingress / Gateway API controller the suite's cluster
            gets (the one the site shows readers), or ``None``.
    """

    root: Path
    images: dict[str, SiteImage] = field(default_factory=dict)
    ingress_manifest: Path | None = None


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start``."""
    for folder in (start.resolve(), *start.resolve().parents):
        if (folder / "pyproject.toml").is_file():
            return folder / "pyproject.toml"
    return None


def load_site(start: Path | None = None) -> Site:
    """The site of the project at or above ``start`` (default: the working directory)."""
    pyproject = find_pyproject(start or Path.cwd())
    if pyproject is None:
        return Site(Path.cwd())
    root = pyproject.parent
    table = tomllib.loads(pyproject.read_text()).get("tool", {}).get("k8snotes", {})
    images = {
        tag: SiteImage(root / spec["context"], {k: str(v) for k, v in spec.get("args", {}).items()})
        for tag, spec in table.get("images", {}).items()
    }
    manifest = table.get("ingress-manifest")
    return Site(root, images, root / manifest if manifest else None)
