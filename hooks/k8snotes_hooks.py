"""MkDocs hooks: small build-time changes (see ``hooks:`` in ``mkdocs.yml``).

- The glossary page is rendered from ``includes/glossary-abbreviations.md``,
  the same file that gives every page its hover tooltips, so the two cannot
  drift.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

GLOSSARY_MARKER = "<!-- k8snotes-glossary -->"
_ABBR = re.compile(r"^\*\[(?P<term>[^\]]+)\]:\s*(?P<text>.+)$")


def glossary_entries(path: Path) -> list[tuple[str, str]]:
    """Parse ``*[Term]: definition`` lines, sorted by term."""
    entries = []
    for line in path.read_text().splitlines():
        if m := _ABBR.match(line):
            entries.append((m["term"], m["text"]))
    return sorted(entries, key=lambda e: e[0].lower())


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace the glossary marker with a definition list of every term."""
    if GLOSSARY_MARKER not in markdown:
        return markdown
    source = Path(config["config_file_path"]).parent / "includes" / "glossary-abbreviations.md"
    body = "\n".join(f"{term}\n:   {text}\n" for term, text in glossary_entries(source))
    return markdown.replace(GLOSSARY_MARKER, body)
