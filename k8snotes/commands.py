"""The command reference: every ``kubectl``, ``docker`` and ``kind`` command the pages run.

Built from the same parse the runner uses (:func:`k8snotes.markdown.parse_page`),
so the reference lists exactly the commands that are tested, each linked to
the section of the page where it runs.
"""

from __future__ import annotations

import re
import shlex
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from markdown.extensions.toc import slugify

from k8snotes.markdown import Block, parse_page
from k8snotes.markdown.console import split_console
from k8snotes.markdown.includes import Includes
from k8snotes.plan import plan

TOOLS = ("kubectl", "docker", "kind")
_TWO_LEVEL: dict[str, dict[str, set[str] | None]] = {
    "kubectl": {
        "config": None,
        "rollout": None,
        "auth": None,
        "create": None,
        "set": None,
        "top": None,
        "certificate": None,
        "apply": {"view-last-applied", "set-last-applied", "edit-last-applied"},
    },
    "docker": {
        "image": None,
        "container": None,
        "network": None,
        "volume": None,
        "system": None,
        "builder": None,
    },
    "kind": {
        "create": None,
        "delete": None,
        "get": None,
        "load": None,
        "export": None,
        "build": None,
    },
}
"""Commands whose second word is a subcommand too (``None``: any second word)."""
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


@dataclass(frozen=True)
class CommandUse:
    """One command line of a page, with where it is."""

    tool: str
    subcommand: str
    line: str
    page: Path
    anchor: str
    heading: str
    skipped: bool


def command_lines(block: Block) -> list[str]:
    """The command lines a reader would type from ``block`` (continuations joined)."""
    if block.language == "console":
        try:
            return [cmd.replace("\\\n", " ") for cmd, _, _ in split_console(block.text)]
        except ValueError:
            return []
    if block.language in {"bash", "sh", "shell"}:
        return [line for line in block.text.replace("\\\n", " ").splitlines() if line.strip()]
    return []


def subcommand(tool: str, words: list[str]) -> str:
    """``kubectl get pods -o wide`` -> ``get``; ``kubectl config use-context x`` -> ``config use-context``."""
    rest = [w for w in words[1:] if not w.startswith("-")]
    if not rest:
        return ""
    second = rest[1] if len(rest) > 1 else ""
    if rest[0] in _TWO_LEVEL.get(tool, {}):
        allowed = _TWO_LEVEL[tool][rest[0]]
        if second and (allowed is None or second in allowed):
            return f"{rest[0]} {second}"
    return rest[0]


def _headings(path: Path) -> list[tuple[int, str]]:
    found = []
    in_fence = False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        elif not in_fence and (m := _HEADING.match(line)):
            found.append((number, m.group(2)))
    return found


def collect_commands(docs: Path, includes: Includes, root: Path) -> list[CommandUse]:
    """Every tool command of every page under ``docs``, in page order."""
    uses = []
    for page in sorted(docs.rglob("*.md")):
        headings = _headings(page)
        for block in parse_page(page, includes, root):
            heading = next((h for n, h in reversed(headings) if n < block.line), "")
            for line in command_lines(block):
                for segment in re.split(r"\s*(?:\|\||&&|\||;)\s*", line):
                    try:
                        words = shlex.split(segment)
                    except ValueError:
                        continue
                    if words and words[0] in TOOLS:
                        uses.append(
                            CommandUse(
                                words[0],
                                subcommand(words[0], words),
                                segment.strip(),
                                page.relative_to(docs),
                                slugify(heading, "-") if heading else "",
                                heading,
                                not plan(block).runs,
                            )
                        )
    return uses


def reference_markdown(tool: str, uses: list[CommandUse], from_page: Path) -> str:
    """A Markdown table per subcommand of ``tool``: each command and the page that runs it."""
    by_sub: dict[str, list[CommandUse]] = defaultdict(list)
    for use in uses:
        if use.tool == tool:
            by_sub[use.subcommand or "(no subcommand)"].append(use)
    out = []
    for sub in sorted(by_sub):
        out += [
            f"### `{tool} {sub}`".replace(" (no subcommand)", ""),
            "",
            "| command | where it runs |",
            "| --- | --- |",
        ]
        seen = set()
        for use in by_sub[sub]:
            key = (use.line, use.page)
            if key in seen:
                continue
            seen.add(key)
            rel = Path(*([".."] * (len(from_page.parent.parts)))) / use.page
            target = f"{rel.as_posix()}#{use.anchor}" if use.anchor else rel.as_posix()
            title = use.heading or use.page.stem
            note = " (shown, not run)" if use.skipped else ""
            command = use.line.replace("|", "\\|")
            out.append(
                f"| `{command}` | [{use.page.with_suffix('').as_posix()}: {title}]({target}){note} |"
            )
        out.append("")
    return "\n".join(out)
