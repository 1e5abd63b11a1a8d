"""``--8<--`` includes, resolved by pymdownx.snippets itself with the site's own settings."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import markdown
import yaml
from pymdownx.snippets import SnippetMissingError


class _MkDocsLoader(yaml.SafeLoader):
    """Reads ``mkdocs.yml``, ignoring ``!!python/name:`` and ``!ENV`` tags."""


_MkDocsLoader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)
_MkDocsLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def load_mkdocs_config(config_file: Path) -> dict[str, Any]:
    """``mkdocs.yml`` as a dict (tags that need MkDocs itself become ``None``)."""
    return yaml.load(config_file.read_text(), Loader=_MkDocsLoader)


def snippet_settings(config_file: Path) -> dict[str, Any]:
    """The ``pymdownx.snippets`` settings of the site, with base paths made absolute.

    ``auto_append`` is dropped: it adds the glossary to whole pages, never to
    a code block.
    """
    root = config_file.parent
    for ext in load_mkdocs_config(config_file).get("markdown_extensions", []):
        if isinstance(ext, dict) and "pymdownx.snippets" in ext:
            settings = dict(ext["pymdownx.snippets"] or {})
            break
    else:
        settings = {}
    bases = settings.get("base_path", ["."])
    bases = [bases] if isinstance(bases, str) else bases
    settings["base_path"] = [str(root / b) for b in bases]
    settings.pop("auto_append", None)
    return settings


class IncludeError(Exception):
    """An include that the site build would refuse (missing file or section)."""


class Includes:
    """Expands ``--8<--`` lines exactly as the site build does.

    Args:
        config_file: The site's ``mkdocs.yml``: its ``pymdownx.snippets``
            settings apply. When it does not exist (a project without MkDocs),
            includes resolve against ``base_paths`` with ``check_paths`` on.
        base_paths: Folders to resolve includes in when there is no ``mkdocs.yml``.
    """

    def __init__(self, config_file: Path, base_paths: list[Path] | None = None) -> None:
        if config_file.exists():
            self.settings = snippet_settings(config_file)
        else:
            bases = base_paths or [config_file.parent]
            self.settings = {"base_path": [str(b) for b in bases], "check_paths": True}
        self.base_paths = [Path(b) for b in self.settings["base_path"]]

    @cache  # noqa: B019 - one instance per config file, lives for the run
    def _preprocessor(self) -> Any:
        md = markdown.Markdown(
            extensions=["pymdownx.snippets"],
            extension_configs={"pymdownx.snippets": self.settings},
        )
        return md.preprocessors["snippet"]

    def expand(self, text: str) -> str:
        """``text`` with every include replaced by what it includes."""
        if "--8<--" not in text:
            return text
        try:
            lines = self._preprocessor().run(text.split("\n"))
        except SnippetMissingError as exc:
            raise IncludeError(str(exc)) from None
        result = "\n".join(lines)
        if "--8<--" in result and any(
            line.strip().startswith("--8<--") for line in result.splitlines()
        ):
            raise IncludeError("an include line was left unexpanded")
        return result

    def named(self, text: str) -> list[str]:
        """Files (as written, section suffix removed) that ``text`` includes."""
        names = []
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith("--8<--"):
                target = stripped[len("--8<--") :].strip().strip("\"'")
                if target:
                    names.append(target.split(":", 1)[0])
        return names

    def resolve(self, name: str) -> Path | None:
        """The file an include name points at, searching the base paths in order."""
        for base in self.base_paths:
            if (base / name).exists():
                return base / name
        return None
