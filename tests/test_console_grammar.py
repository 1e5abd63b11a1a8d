"""The one console grammar (k8snotes/markdown/console.py): what the runner runs, the copy
button copies and the command reference lists, from a ``console`` block's text."""

from __future__ import annotations

from pathlib import Path

import pytest

from k8snotes.commands import command_lines
from k8snotes.evaluators.console import split_console as runner_split
from k8snotes.markdown import Block
from k8snotes.markdown.console import console_commands, console_lines, line_kinds, split_console

# text -> (command, expected output, offset of its first output line)
SPLITS: dict[str, tuple[str, list[tuple[str, str, int]]]] = {
    "commands with output": (
        "$ kubectl get pods\nNAME   READY\nweb    1/1\n$ echo done\ndone\n",
        [("kubectl get pods", "NAME   READY\nweb    1/1", 1), ("echo done", "done", 4)],
    ),
    "a command with no output": (
        "$ true\n$ echo a\na\n",
        [("true", "", 1), ("echo a", "a", 2)],
    ),
    "continuations, with and without '> '": (
        "$ kubectl create cm app \\\n>   --from-literal=A=1 \\\n  --from-literal=B=2\ncm/app\n",
        [("kubectl create cm app \\\n  --from-literal=A=1 \\\n  --from-literal=B=2", "cm/app", 3)],
    ),
    "output that looks like a prompt or a continuation": (
        "$ cat notes\n> quoted\n# a comment\n% not zsh\nroot@host:/# ls\n",
        [("cat notes", "> quoted\n# a comment\n% not zsh\nroot@host:/# ls", 1)],
    ),
    "a continuation that starts with '$ '": (
        "$ echo a \\\n$ b\na $ b\n",
        [("echo a \\\n$ b", "a $ b", 2)],
    ),
    "a backslash on the block's last line": (
        "$ echo a \\\n",
        [("echo a \\", "", 1)],
    ),
    "an empty command, and empty lines in the output": (
        "$ \n$ printf 'a\\n\\nb'\na\n\nb\n",
        [("", "", 1), ("printf 'a\\n\\nb'", "a\n\nb", 2)],
    ),
    "empty lines at the end are no output": (
        "$ echo a\na\n\n\n",
        [("echo a", "a", 1)],
    ),
}


@pytest.mark.parametrize(("text", "expected"), SPLITS.values(), ids=SPLITS.keys())
def test_split_console(text: str, expected: list[tuple[str, str, int]]) -> None:
    assert split_console(text) == expected
    # The copy button copies the same commands, split the same way.
    assert console_commands(text) == [command for command, _, _ in expected]


@pytest.mark.parametrize(
    ("text", "commands"),
    [("NAME   READY\n$ kubectl get pods\n", ["kubectl get pods"]), ("", []), ("\n", [])],
)
def test_output_before_any_command_is_an_error_for_the_runner(
    text: str, commands: list[str]
) -> None:
    with pytest.raises(ValueError, match="line 1 is output with no \\$ command before it"):
        split_console(text)
    # The copy button copies the commands there are.
    assert console_commands(text) == commands


def test_line_kinds() -> None:
    lines = ["$ a \\", "> b \\", "c", "d", "$ e", "> f", "# g", "$ h \\"]
    assert line_kinds(lines) == [
        "command", "continuation", "continuation", "output",
        "command", "output", "output", "command",
    ]  # fmt: skip
    assert console_lines("$ a\nb\n") == [("command", "$ a"), ("output", "b")]


def test_the_runner_and_the_command_reference_use_the_one_grammar() -> None:
    text = "$ kubectl get ns default \\\n>   -o name\nnamespace/default\n$ kind get clusters\n"
    assert runner_split is split_console
    block = Block(Path("docs/demo.md"), 1, "console", text)
    assert command_lines(block) == ["kubectl get ns default    -o name", "kind get clusters"]
