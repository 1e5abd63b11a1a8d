"""MkDocs hooks: small build-time changes (see ``hooks:`` in ``mkdocs.yml``).

- The command references (kubectl, docker, kind) are generated from the
  same parse of the pages that the test runner uses.
- Every page gets ``includes/glossary-abbreviations.md`` appended, so glossary
  terms show a tooltip on hover. (``pymdownx.snippets``' ``auto_append`` does the
  same but also appends it to each of the hundreds of docstrings mkdocstrings
  renders, which made the build 6 times slower: 18 s against 3 s.)
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


def _abbreviations(config: Any) -> str:
    return (
        Path(config["config_file_path"]).parent / "includes" / "glossary-abbreviations.md"
    ).read_text()


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Expand the glossary and command-reference markers; append the abbreviations."""
    markdown = expand_command_markers(markdown, page, config)
    markdown += "\n\n" + _abbreviations(config)
    if GLOSSARY_MARKER not in markdown:
        return markdown
    source = Path(config["config_file_path"]).parent / "includes" / "glossary-abbreviations.md"
    body = "\n".join(f"{term}\n:   {text}\n" for term, text in glossary_entries(source))
    return markdown.replace(GLOSSARY_MARKER, body)


_COMMANDS = re.compile(r"<!-- k8snotes-commands: (?P<tool>\w+) -->")


_uses: list[Any] | None = None


def on_pre_build(config: Any) -> None:
    """Forget the commands collected by the previous build (``mkdocs serve`` rebuilds)."""
    global _uses
    _uses = None


def _command_reference(markdown: str, page: Any, config: Any) -> str:
    global _uses
    from k8snotes.commands import collect_commands, reference_markdown
    from k8snotes.markdown.includes import Includes

    if _uses is None:
        root = Path(config["config_file_path"]).parent
        _uses = collect_commands(Path(config["docs_dir"]), Includes(root / "mkdocs.yml"), root)
    uses = _uses
    src = Path(page.file.src_uri)
    return _COMMANDS.sub(lambda m: reference_markdown(m["tool"], uses, src), markdown)


def expand_command_markers(markdown: str, page: Any, config: Any) -> str:
    """Expand ``<!-- k8snotes-commands: TOOL -->`` into that tool's command reference."""
    if "<!-- k8snotes-commands:" not in markdown:
        return markdown
    return _command_reference(markdown, page, config)
