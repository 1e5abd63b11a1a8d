"""MkDocs hooks: small build-time changes (see ``hooks:`` in ``mkdocs.yml``).

- The command references (kubectl, docker, kind) are generated from the
  same parse of the pages that the test runner uses.
- Every page gets ``includes/glossary-abbreviations.md`` appended, so glossary
  terms show a tooltip on hover. (``pymdownx.snippets``' ``auto_append`` does the
  same but also appends it to each of the hundreds of docstrings mkdocstrings
  renders, which made the build 6 times slower: 18 s against 3 s.)
- A page whose front matter ``needs`` other pages (the state it starts from:
  the test runner orders pages by the same list) gets a "Before you start"
  note at its top linking each of them.
- The glossary page is rendered from ``includes/glossary-abbreviations.md``,
  the same file that gives every page its hover tooltips, so the two cannot
  drift.
- In ``console`` blocks, only ``$ `` stays a prompt and every other line is
  output, as the test runner reads them, so the copy button copies exactly the
  commands the runner ran (Pygments also reads ``# `` and ``%`` as prompts; see
  ``k8snotes.markdown.copytext.console_copy_html``).
- Each page with blocks to run gets a "verified on" stamp under its title and
  each of its code blocks a marker (hover it: ran and passed, skipped and why,
  shown only), from the results ledger named by ``$K8SNOTES_LEDGER``, else
  ``site-ledger.json`` at the root; without one, "Not verified in this build"
  (see ``k8snotes.stamps``). Added to the finished page (``on_post_page``), so
  the search index holds none of it.
"""

from __future__ import annotations

import logging
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


_POINTER = re.compile(r"(?:^|; )[Ss]ee (?P<main>[^.;]+)\.$")


def tooltips(entries: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The tooltip of each term: a variant that points to a main entry ("See Pod.") shows its definition.

    The glossary page keeps the pointer; hovering "Pods" in a page shows what a Pod is.
    """
    main = dict(entries)
    out = []
    for term, text in entries:
        m = _POINTER.search(text)
        if m and m["main"] in main and not _POINTER.search(main[m["main"]]):
            text = main[m["main"]]
        out.append((term, text))
    return out


def _abbreviations(config: Any) -> str:
    source = Path(config["config_file_path"]).parent / "includes" / "glossary-abbreviations.md"
    return "\n".join(f"*[{term}]: {text}" for term, text in tooltips(glossary_entries(source)))


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Expand the glossary and command-reference markers; append the abbreviations."""
    markdown = expand_command_markers(markdown, page, config)
    markdown = before_you_start(markdown, page, files)
    markdown += "\n\n" + _abbreviations(config)
    if GLOSSARY_MARKER not in markdown:
        return markdown
    source = Path(config["config_file_path"]).parent / "includes" / "glossary-abbreviations.md"
    body = "\n".join(f"{term}\n:   {text}\n" for term, text in glossary_entries(source))
    return markdown.replace(GLOSSARY_MARKER, body)


def before_you_start(markdown: str, page: Any, files: Any) -> str:
    """Insert, under the page's title, a note linking the pages its ``needs`` names."""
    needs = page.meta.get("needs") or []
    if isinstance(needs, str):
        needs = [needs]
    if not needs:
        return markdown
    here = Path(page.file.src_uri).parent
    links = []
    for need in needs:
        target = files.get_file_from_path(need)
        title = _title(Path(target.abs_src_path)) if target else need
        rel = Path(*([".."] * len(here.parts)), need) if here.parts else Path(need)
        links.append(f"[{title}]({rel.as_posix()})")
    note = (
        '!!! info "Before you start"\n'
        f"    This page starts from what {' and '.join(links)} leaves: do that first, "
        "in the same terminal, and keep its cluster.\n"
    )
    lines = markdown.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("# "):
            return "\n".join([*lines[: i + 1], "", note, *lines[i + 1 :]])
    return note + "\n" + markdown


def _title(path: Path) -> str:
    for line in path.read_text().splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem


_COMMANDS = re.compile(r"<!-- k8snotes-commands: (?P<tool>\w+) -->")


_uses: list[Any] | None = None
_ledger: Any = None
_includes: Any = None


def on_pre_build(config: Any) -> None:
    """Forget the previous build's commands (``mkdocs serve`` rebuilds); read the ledger."""
    global _uses, _ledger, _includes
    from mkdocs.exceptions import PluginError

    from k8snotes.ledger import LedgerError
    from k8snotes.markdown.includes import Includes
    from k8snotes.stamps import load_site_ledger, site_ledger_path

    _uses = None
    root = Path(config["config_file_path"]).parent
    _includes = Includes(root / "mkdocs.yml")
    try:
        _ledger = load_site_ledger(root)
    except (LedgerError, OSError) as exc:
        raise PluginError(f"the results ledger {site_ledger_path(root)}: {exc}") from None
    log = logging.getLogger("mkdocs.hooks.k8snotes")
    if _ledger is None:
        log.info("no results ledger: every page says it is not verified in this build")
    else:
        log.info("stamps from the results ledger %s", site_ledger_path(root))


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


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    """Make the prompts and output of ``console`` blocks the runner's, for the copy button."""
    from k8snotes.markdown.copytext import console_copy_html

    html, problems = console_copy_html(html)
    for problem in problems:  # a warning: `mkdocs build --strict` fails on it
        logging.getLogger("mkdocs.hooks.k8snotes").warning(
            "%s: console block left as highlighted: %s", page.file.src_uri, problem
        )
    return html


def on_post_page(output: str, page: Any, config: Any) -> str:
    """Stamp the page and mark its blocks from the results ledger (``k8snotes.stamps``)."""
    from k8snotes.ledger import current_page
    from k8snotes.stamps import stamp_page

    if page.file.abs_src_path is None or not page.file.src_uri.endswith(".md"):
        return output
    root = Path(config["config_file_path"]).parent
    current = current_page(Path(page.file.abs_src_path), Path(config["docs_dir"]), _includes, root)
    return stamp_page(output, current, _ledger)
