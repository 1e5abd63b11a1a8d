"""What a reader's copy button puts on the clipboard, block by block.

Every block the runner executes has a copy button on the site, and what it copies must be
what the runner executes: a reader who pastes it runs what was tested. For a ``console``
block that is its commands only (no ``$ `` prompts, no output); for any other block, its
text. ``tests/browser/test_copy_fidelity.py`` clicks every button of the built site and
compares the clipboard with :func:`copy_text`. Both read a block through the one console
grammar, :mod:`k8snotes.markdown.console`.

On the site, Material copies a block's displayed text, and the site's stylesheet hides
Pygments' prompts (``.gp``) and output (``.go``) while it copies. Pygments reads more
than ``$ `` as a prompt (``# ``, ``% ``, ``user@host:~$ ``...), so an output line such as
``# app.conf: settings`` would be copied as a command; and the newline of an output line
sits outside its ``.go`` span, so it would be copied as an empty line.
:func:`console_copy_html`, run on every page by the site's build hook, rewrites the
highlighted ``console`` blocks so that their prompts and output are the runner's.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from k8snotes.markdown.blocks import Block
from k8snotes.markdown.console import (
    CONTINUATION,
    PROMPT,
    console_commands,
    console_lines,
    line_kinds,
)
from k8snotes.markdown.includes import Includes
from k8snotes.markdown.parse import parse_page

__all__ = [
    "CONTINUATION",
    "HIDDEN_CLASSES",
    "NOT_EXECUTED_LANGUAGES",
    "PROMPT",
    "console_commands",
    "console_copy_html",
    "console_lines",
    "copy_text",
    "executable_blocks",
    "is_executable",
]

NOT_EXECUTED_LANGUAGES = frozenset({"mermaid"})
"""Languages the runner never executes (``k8snotes.plan.NOT_EXECUTED``; a test keeps them equal)."""


def copy_text(block: Block) -> str:
    r"""The text the copy button of ``block`` puts on the clipboard.

    A ``console`` block yields its commands
    (:func:`~k8snotes.markdown.console.console_commands`) one per line;
    any other block yields its text. The copy button trims trailing whitespace, and so
    does this.

    ```python
    from pathlib import Path

    from k8snotes.markdown.blocks import Block
    from k8snotes.markdown.copytext import copy_text

    text = "$ kubectl get cm app\n# app.conf: output, not a command\n$ echo done\ndone\n"
    block = Block(Path("docs/demo.md"), 3, "console", text)
    assert copy_text(block) == "kubectl get cm app\necho done"
    assert copy_text(Block(Path("docs/demo.md"), 9, "bash", "echo hi\n")) == "echo hi"
    ```
    """
    if block.language == "console":
        return "\n".join(console_commands(block.text)).rstrip()
    return block.text.rstrip()


def is_executable(block: Block) -> bool:
    """True for a block the runner executes: not ``skip``, not an ``output`` block, not
    of a language it never executes (Mermaid diagrams)."""
    return (
        "skip" not in block.meta
        and not block.meta.get("output")
        and block.language not in NOT_EXECUTED_LANGUAGES
    )


def executable_blocks(page: Path, includes: Includes, root: Path | None = None) -> list[Block]:
    """The blocks of ``page`` that the runner executes, in page order.

    Blocks with ``requires=`` are included: whether they run depends on the backend,
    and their copy button is there either way.

    ```python
    from pathlib import Path

    from k8snotes.markdown.copytext import executable_blocks
    from k8snotes.markdown.includes import Includes

    page = Path("docs/contributing/writing-pages.md")
    blocks = executable_blocks(page, Includes(Path("mkdocs.yml")), Path("."))
    assert blocks and all("skip" not in b.meta for b in blocks)
    assert all(b.language != "mermaid" and not b.meta.get("output") for b in blocks)
    ```
    """
    return [b for b in parse_page(page, includes, root) if is_executable(b)]


HIDDEN_CLASSES = frozenset({"gp", "go"})
"""Pygments classes the site's stylesheet hides while copying (``k8snotes.css``)."""

_CONSOLE_CODE = re.compile(
    r'(<div class="(?=[^"]*\blanguage-console\b)(?=[^"]*\bhighlight\b)[^"]*"[^>]*>'
    r'(?:(?!<div class="language-).)*?<code\b[^>]*>)(.*?)(</code>)',
    re.S,
)
# What starts a line of highlighted code besides its tokens: the end of the previous line's
# wrappers, the line's own span (``line_spans``), its anchor (``anchor_linenums``) and the
# span of a highlighted line (``hl_lines``).
_LINE_START = re.compile(r'(?:</span>|<span id="[^"]*">|<span class="hll">|<a\b[^>]*></a>)*')
_TOKENS = re.compile(r'(?:<span class="[^"]*">[^<]*</span>|[^<])*')  # one way to match: linear
_TOKEN = re.compile(r'<span class="(?P<cls>[^"]*)">(?P<span>[^<]*)</span>|(?P<text>[^<]+)')


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


def _console_code(code: str) -> str:
    """One highlighted ``console`` block's ``<code>`` content, prompts and output fixed."""
    segments = code.split("\n")
    parsed: list[tuple[str, list[tuple[str, str]]]] = []
    for segment in segments:
        start = _LINE_START.match(segment)
        head = start.group() if start else ""
        body = segment[len(head) :]
        if not _TOKENS.fullmatch(body):
            raise ValueError(f"unexpected HTML in a console block's line: {segment!r}")
        tokens = [
            (m["cls"] or "", m["span"] if m["cls"] is not None else m["text"])
            for m in _TOKEN.finditer(body)
        ]
        parsed.append((head, tokens))
    # The last segment, after the last newline, closes the last line's wrappers.
    if parsed and not parsed[-1][1]:
        lines = parsed[:-1]
        tail = parsed[-1][0]
    else:
        lines, tail = parsed, None
    texts = [html.unescape("".join(t for _, t in tokens)) for _, tokens in lines]
    out: list[str] = []
    for i, ((head, tokens), text, kind) in enumerate(
        zip(lines, texts, line_kinds(texts), strict=True)
    ):
        newline = "\n" if i < len(lines) - 1 or tail is not None else ""
        if kind == "output":
            # The newline inside the hidden span: a copy leaves no empty line for it.
            out.append(f'{head}<span class="go">{_escape(text)}{newline}</span>')
            continue
        if kind == "command":
            prompt = PROMPT
        else:
            prompt = CONTINUATION if text.startswith(CONTINUATION) else ""
        prompt_ok = not prompt or tokens[:1] == [("gp", _escape(prompt))]
        rest = tokens[1:] if prompt else tokens
        if prompt_ok and not any(HIDDEN_CLASSES & set(cls.split()) for cls, _ in rest):
            body = "".join(f'<span class="{c}">{t}</span>' if c else t for c, t in tokens)
        else:
            # Pygments read a prompt or output where the runner reads a command: show the
            # line as plain command text, only the runner's prompt hidden.
            body = _escape(text[len(prompt) :])
            if prompt:
                body = f'<span class="gp">{_escape(prompt)}</span>{body}'
        out.append(f"{head}{body}{newline}")
    return "".join(out) + (tail or "")


def console_copy_html(page_html: str) -> tuple[str, list[str]]:
    r"""A page's HTML with its ``console`` blocks' prompts and output as the runner reads them.

    In each highlighted ``console`` block, only ``$ `` (and ``> `` on a continuation line)
    stays a prompt (``.gp``); every line the runner reads as output becomes one ``.go``
    span that holds its newline. The copy button, which skips ``.gp`` and ``.go``, then
    copies exactly :func:`copy_text`. Other blocks are left as they are.

    Returns the HTML and the problems met: a block whose HTML is not laid out as
    expected is left unchanged and named there.

    ```python
    from k8snotes.markdown.copytext import console_copy_html

    page = (
        '<div class="language-console highlight"><pre><code>'
        '<span class="gp">$ </span>cat app.conf\n'
        '<span class="gp"># </span>app.conf: settings\n'
        "</code></pre></div>"
    )
    fixed, problems = console_copy_html(page)
    assert problems == []
    assert '<span class="go"># app.conf: settings\n</span>' in fixed
    ```
    """
    problems: list[str] = []

    def fix(m: re.Match[str]) -> str:
        try:
            return m[1] + _console_code(m[2]) + m[3]
        except ValueError as exc:
            problems.append(str(exc))
            return m[0]

    return _CONSOLE_CODE.sub(fix, page_html), problems
