"""MkDocs hooks: small build-time changes (see ``hooks:`` in ``mkdocs.yml``).

- The command references (kubectl, docker, kind) are generated from the
  same parse of the pages that the test runner uses.
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
    """Expand the glossary and command-reference markers."""
    markdown = expand_command_markers(markdown, page, config)
    if GLOSSARY_MARKER not in markdown:
        return markdown
    source = Path(config["config_file_path"]).parent / "includes" / "glossary-abbreviations.md"
    body = "\n".join(f"{term}\n:   {text}\n" for term, text in glossary_entries(source))
    return markdown.replace(GLOSSARY_MARKER, body)


_COMMANDS = re.compile(r"<!-- k8snotes-commands: (?P<tool>\w+) -->")


def _command_reference(markdown: str, page: Any, config: Any) -> str:
    from k8snotes.commands import collect_commands, reference_markdown
    from k8snotes.markdown.includes import Includes

    root = Path(config["config_file_path"]).parent
    docs = Path(config["docs_dir"])
    uses = collect_commands(docs, Includes(root / "mkdocs.yml"), root)
    src = Path(page.file.src_uri)
    return _COMMANDS.sub(lambda m: reference_markdown(m["tool"], uses, src), markdown)


def expand_command_markers(markdown: str, page: Any, config: Any) -> str:
    """Expand ``<!-- k8snotes-commands: TOOL -->`` into that tool's command reference."""
    if "<!-- k8snotes-commands:" not in markdown:
        return markdown
    return _command_reference(markdown, page, config)
