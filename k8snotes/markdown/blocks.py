"""A page's code block and the test metadata attached to it."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

META_PREFIX = "k8snotes:"
"""An HTML comment ``<!-- k8snotes: ... -->`` on the line above a fence carries its metadata."""

META_KEYS = {
    "skip": str,
    "requires": str,
    "exit": int,
    "timeout": float,
    "retry": float,
    "background": bool,
    "port": int,
    "apply": bool,
    "output": bool,
    "stdin": str,
    "editor": str,
    "cleanup": bool,
    "teardown": bool,
}
"""Every metadata key and its type; anything else is an error."""

CAPABILITIES = {"api", "pods", "docker", "metrics", "ingress", "kind"}
"""What ``requires=`` may name: see :class:`k8snotes.cluster.base.Capability`."""

SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}
"""Fence languages run in the page's shell session."""


class PageError(Exception):
    """Bad input in a page: reported with its file and line, never passed silently."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


def parse_meta(text: str, path: Path, line: int) -> dict[str, object]:
    """Parse the body of a ``<!-- k8snotes: ... -->`` comment into typed values.

    ``skip="needs the internet" timeout=90 background`` becomes
    ``{"skip": "needs the internet", "timeout": 90.0, "background": True}``.
    """
    meta: dict[str, object] = {}
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise PageError(path, line, f"cannot parse metadata {text!r}: {exc}") from None
    for word in words:
        key, sep, value = word.partition("=")
        kind = META_KEYS.get(key)
        if kind is None:
            known = ", ".join(sorted(META_KEYS))
            raise PageError(path, line, f"unknown metadata key {key!r} (known: {known})")
        if kind is bool:
            if sep:
                raise PageError(path, line, f"metadata key {key!r} takes no value")
            meta[key] = True
            continue
        if not sep or value == "":
            raise PageError(path, line, f"metadata key {key!r} needs a value")
        try:
            meta[key] = kind(value)
        except ValueError:
            raise PageError(
                path, line, f"metadata {key}={value!r} is not a {kind.__name__}"
            ) from None
    return meta


@dataclass
class Block:
    """One fenced code block of a page, as a reader sees and copies it.

    Attributes:
        path: The Markdown file.
        line: 1-based line of the opening fence in that file.
        language: The fence's language (``bash``, ``console``, ``yaml`` ...).
        text: The block's content with ``--8<--`` includes resolved.
        meta: Test metadata from the comment above the fence.
        includes: Files (relative to ``snippets/``) the block includes.
        section: The heading the block sits under (``""`` before the first).
    """

    path: Path
    line: int
    language: str
    text: str
    meta: dict[str, object] = field(default_factory=dict)
    includes: list[str] = field(default_factory=list)
    section: str = ""

    @property
    def location(self) -> str:
        """``file:line``, for reports."""
        return f"{self.path}:{self.line}"

    @property
    def is_shell(self) -> bool:
        """True for blocks run in the page's shell."""
        return self.language in SHELL_LANGUAGES

    def number(self, key: str, default: float) -> float:
        """A numeric metadata value (``timeout``, ``retry``, ``exit``, ``port``), or ``default``."""
        value = self.meta.get(key, default)
        if not isinstance(value, int | float):
            raise TypeError(f"{self.location}: metadata {key} is not a number")
        return float(value)

    @property
    def is_cleanup(self) -> bool:
        """True for a block that runs even after an earlier block of its page failed.

        Marked ``cleanup``, or under a heading that starts with "Clean up".
        """
        return bool(self.meta.get("cleanup")) or self.section.lower().startswith("clean up")

    @property
    def requires(self) -> list[str]:
        """Capabilities named by ``requires=``."""
        value = self.meta.get("requires", "")
        return [r for r in str(value).split(",") if r]
