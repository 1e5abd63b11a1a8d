"""Parse a page into its ordered :class:`~k8snotes.markdown.blocks.Block` list.

markdown-it-py finds the fences. Material's containers (admonitions ``!!!``,
collapsible ``???`` details and ``===`` content tabs) indent their content by
four spaces, which CommonMark reads as an indented code block or paragraph
text; :func:`unwrap_containers` first blanks their opening lines and dedents
their bodies, keeping every line where it was, so fences inside them are found
with their true line numbers.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from markdown_it import MarkdownIt

from k8snotes.markdown.blocks import CAPABILITIES, META_PREFIX, Block, PageError, parse_meta
from k8snotes.markdown.includes import IncludeError, Includes

_CONTAINER = re.compile(r"^(?P<indent>\s*)(?:!!!|\?\?\?\+?|===\+?)\s+\S")
_META = re.compile(r"^\s*<!--\s*" + re.escape(META_PREFIX) + r"(?P<body>.*?)-->\s*$", re.S)
_FENCE_OPEN = re.compile(r"^(?P<indent>\s*)(?P<marker>`{3,}|~{3,})")


def unwrap_containers(text: str) -> str:
    """Blank container openers and dedent their bodies, line count unchanged.

    Handles nesting: a container inside a container is unwrapped on the next
    pass over the dedented body.
    """
    lines = text.split("\n")
    changed = True
    while changed:
        changed = False
        out: list[str] = []
        i = 0
        while i < len(lines):
            m = _CONTAINER.match(lines[i])
            if not m:
                out.append(lines[i])
                i += 1
                continue
            changed = True
            indent = len(m["indent"])
            body_indent = " " * (indent + 4)
            out.append("")
            i += 1
            while i < len(lines) and (lines[i].startswith(body_indent) or not lines[i].strip()):
                # A blank line ends the container only if what follows is dedented.
                if not lines[i].strip():
                    j = i
                    while j < len(lines) and not lines[j].strip():
                        j += 1
                    if j == len(lines) or not lines[j].startswith(body_indent):
                        break
                    out.append("")
                else:
                    out.append(" " * indent + lines[i][indent + 4 :])
                i += 1
        lines = out
    return "\n".join(lines)


def _language(info: str) -> str:
    info = info.strip()
    if info.startswith("{"):
        for word in info.strip("{} ").split():
            if word.startswith("."):
                return word[1:]
        return ""
    return re.split(r"[\s{]", info, maxsplit=1)[0]


def parse_page(path: Path, includes: Includes, root: Path | None = None) -> list[Block]:
    """The page's code blocks, in order, includes resolved, metadata attached.

    Args:
        path: The Markdown page.
        includes: Resolves ``--8<--`` lines with the site's settings.
        root: Paths in blocks and errors are shown relative to it.

    Raises:
        PageError: Unknown metadata, an unterminated fence, a missing include
            or section, YAML that does not parse, or an ``output`` block with no
            shell block before it; always with the file and line.
    """
    shown = path.relative_to(root) if root else path
    source = path.read_text()
    lines = source.split("\n")
    tokens = MarkdownIt("commonmark").parse(unwrap_containers(source))
    blocks: list[Block] = []
    pending_meta: tuple[int, dict[str, object]] | None = None
    section = ""
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and index + 1 < len(tokens):
            section = tokens[index + 1].content.strip()
            continue
        if token.type == "html_block" and token.map:
            m = _META.match(token.content)
            if m:
                pending_meta = (token.map[1], parse_meta(m["body"], shown, token.map[0] + 1))
            elif META_PREFIX in token.content:
                raise PageError(shown, token.map[0] + 1, "malformed k8snotes metadata comment")
            continue
        if token.type != "fence" or not token.map:
            if pending_meta and token.map and token.map[0] >= pending_meta[0]:
                raise PageError(
                    shown, pending_meta[0], "metadata comment is not followed by a fence"
                )
            continue
        start, end = token.map
        line = start + 1
        meta: dict[str, object] = {}
        if pending_meta:
            if pending_meta[0] != start:
                raise PageError(
                    shown, pending_meta[0], "metadata comment is not followed by a fence"
                )
            meta = pending_meta[1]
            pending_meta = None
        closing = lines[end - 1].strip() if end - 1 < len(lines) else ""
        opener = _FENCE_OPEN.match(unwrap_containers(source).split("\n")[start])
        if (
            end - start < 2
            or not opener
            or not closing.startswith(opener["marker"][0] * len(opener["marker"]))
            or closing.strip(opener["marker"][0])
        ):
            raise PageError(shown, line, "unterminated code fence")
        language = _language(token.info)
        try:
            text = includes.expand(token.content)
        except IncludeError as exc:
            raise PageError(shown, line, f"include failed: {exc}") from None
        block = Block(shown, line, language, text, meta, includes.named(token.content), section)
        _check(block, blocks)
        blocks.append(block)
    if pending_meta:
        raise PageError(shown, pending_meta[0], "metadata comment is not followed by a fence")
    return blocks


def _check(block: Block, earlier: list[Block]) -> None:
    if block.meta.get("output"):
        before = earlier[-1] if earlier else None
        if before is None or not before.is_shell or before.meta.get("skip"):
            raise PageError(block.path, block.line, "output block with no command block before it")
        if before.language == "console" or before.meta.get("background"):
            raise PageError(
                block.path,
                block.line,
                f"output block after a {'background' if before.meta.get('background') else 'console'}"
                " block, whose output is never checked against it: put the output in the "
                "console block, or check a foreground bash block",
            )
    unknown = [r for r in block.requires if r not in CAPABILITIES]
    if unknown:
        raise PageError(
            block.path,
            block.line,
            f"unknown requires= value {', '.join(unknown)} (known: {', '.join(sorted(CAPABILITIES))})",
        )
    if block.language in {"yaml", "yml"}:
        try:
            list(yaml.safe_load_all(block.text))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (block line {mark.line + 1})" if mark else ""
            raise PageError(block.path, block.line, f"YAML does not parse{where}: {exc}") from None
    if "port" in block.meta and not block.meta.get("background"):
        raise PageError(block.path, block.line, "port= only makes sense with background")
