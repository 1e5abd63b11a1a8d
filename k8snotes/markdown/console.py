r"""The grammar of a ``console`` block, written once: which lines are commands, which output.

A line that starts with ``$ `` is a command; a command whose line ends with ``\``
continues on the next line (which may start with ``> ``); every other line is output,
even one that starts with ``# `` or ``%``. The runner splits a block with
:func:`split_console` (each command with the output it must print), the copy button and
the site's highlighting with :func:`console_lines` and :func:`console_commands`
(:mod:`k8snotes.markdown.copytext`), and the command reference with :func:`split_console`
(:mod:`k8snotes.commands`): all from :func:`line_kinds`.

It imports nothing but the standard library, so the site's build reads a console block
without the runner.
"""

from __future__ import annotations

PROMPT = "$ "
"""What starts a command line of a ``console`` block; every other line is output."""

CONTINUATION = "> "
r"""An optional prompt on the lines that continue a command ending with ``\``."""


def line_kinds(lines: list[str]) -> list[str]:
    r"""The kind of each line of a ``console`` block: ``command``, ``continuation`` or ``output``.

    ```python
    from k8snotes.markdown.console import line_kinds

    lines = ["$ echo a \\", "> b", "# a b", "$ true"]
    assert line_kinds(lines) == ["command", "continuation", "output", "command"]
    ```
    """
    kinds: list[str] = []
    continued = False
    for line in lines:
        if continued:
            kinds.append("continuation")
            continued = line.removeprefix(CONTINUATION).endswith("\\")
        elif line.startswith(PROMPT):
            kinds.append("command")
            continued = line[len(PROMPT) :].endswith("\\")
        else:
            kinds.append("output")
    return kinds


def console_lines(text: str) -> list[tuple[str, str]]:
    r"""Each line of a ``console`` block's text with its kind (:func:`line_kinds`).

    A trailing newline adds no line.

    ```python
    from k8snotes.markdown.console import console_lines

    text = "$ echo a \\\n> b\n# a b\n"
    assert console_lines(text) == [
        ("command", "$ echo a \\"),
        ("continuation", "> b"),
        ("output", "# a b"),
    ]
    ```
    """
    lines = text.removesuffix("\n").split("\n")
    return list(zip(line_kinds(lines), lines, strict=True))


def console_commands(text: str) -> list[str]:
    r"""The commands of a ``console`` block, prompts dropped, continuation lines joined.

    The commands :func:`split_console` gives the runner; output before the first
    command, which the runner refuses, is left out here.

    ```python
    from k8snotes.markdown.console import console_commands

    text = "$ kubectl get pods\nNAME   READY\n$ echo a \\\n> b\na b\n"
    assert console_commands(text) == ["kubectl get pods", "echo a \\\nb"]
    ```
    """
    commands: list[list[str]] = []
    for kind, line in console_lines(text):
        if kind == "command":
            commands.append([line[len(PROMPT) :]])
        elif kind == "continuation":
            commands[-1].append(line.removeprefix(CONTINUATION))
    return ["\n".join(parts) for parts in commands]


def split_console(text: str) -> list[tuple[str, str, int]]:
    r"""``$ ``-prompted commands of a console block with their expected output.

    Returns ``(command, expected_output, offset_of_first_output_line)``; the offset
    counts lines from the block's first. Trailing empty lines are no output. A block
    whose first line is output raises :class:`ValueError`.

    ```python
    from k8snotes.markdown.console import split_console

    text = "$ kubectl get ns default \\\n  -o name\nnamespace/default\n$ true\n"
    assert split_console(text) == [
        ("kubectl get ns default \\\n  -o name", "namespace/default", 2),
        ("true", "", 4),
    ]
    ```
    """
    commands: list[tuple[list[str], list[str], int]] = []
    for number, (kind, line) in enumerate(console_lines(text.rstrip("\n"))):
        if kind == "command":
            commands.append(([line[len(PROMPT) :]], [], number + 1))
        elif kind == "continuation":
            command, output, _ = commands[-1]
            command.append(line.removeprefix(CONTINUATION))
            commands[-1] = (command, output, number + 1)
        elif not commands:
            raise ValueError(
                f"console block line {number + 1} is output with no $ command before it"
            )
        else:
            commands[-1][1].append(line)
    return [("\n".join(command), "\n".join(output), start) for command, output, start in commands]
