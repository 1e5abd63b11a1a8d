"""A page's own test settings, from the YAML front matter MkDocs also reads.

```yaml
---
needs: [tasks/set-up-a-kind-cluster.md]
keeps: ["docker container kind-control-plane", "docker image sample-app:*"]
---
```

- ``needs``: pages (relative to the docs folder) whose state this page starts
  from. The runner runs them first, on the same cluster; the site shows each as
  a "Before you start" link at the top of the page.
- ``keeps``: what the page leaves on purpose (patterns over the leak check's
  inventory lines, see :mod:`k8snotes.check.inventory`); anything else new
  after the page's clean-up is a leak.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from k8snotes.markdown.blocks import PageError

KEYS = {"needs", "keeps"}
"""The front-matter keys the runner reads; MkDocs' own (``title``...) are left alone."""


@dataclass
class PageSettings:
    """What a page's front matter tells the runner."""

    needs: list[str] = field(default_factory=list)
    keeps: list[str] = field(default_factory=list)


def front_matter(text: str) -> dict[str, object]:
    """The YAML mapping between a leading pair of ``---`` lines, or ``{}``."""
    if not text.startswith("---\n"):
        return {}
    end = text.find("\n---\n", 4)
    if end < 0:
        return {}
    data = yaml.safe_load(text[4:end]) or {}
    return data if isinstance(data, dict) else {}


def page_settings(path: Path, shown: Path | None = None) -> PageSettings:
    """Read ``needs`` and ``keeps`` from the page's front matter.

    Raises:
        PageError: when a value is not a list of strings.
    """
    data = front_matter(path.read_text())
    settings = PageSettings()
    for key in KEYS:
        value = data.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise PageError(shown or path, 1, f"front matter {key!r} must be a list of strings")
        setattr(settings, key, value)
    return settings
