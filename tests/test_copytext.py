"""What a copy button yields for a block, and which blocks the runner executes (no browser)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import markdown
import pytest

from k8snotes.markdown import Block
from k8snotes.markdown.copytext import (
    NOT_EXECUTED_LANGUAGES,
    console_commands,
    console_copy_html,
    console_lines,
    copy_text,
    executable_blocks,
)
from k8snotes.markdown.includes import Includes
from k8snotes.plan import NOT_EXECUTED


def block(language: str, text: str, **meta: object) -> Block:
    return Block(Path("docs/demo.md"), 1, language, text, dict(meta))


def test_console_copies_the_commands_without_prompts_or_output() -> None:
    text = (
        "$ kubectl get pods\n"
        "NAME   READY   STATUS\n"
        "web    1/1     Running\n"
        "$ kubectl get svc web\n"
        "NAME   TYPE\n"
    )
    assert copy_text(block("console", text)) == "kubectl get pods\nkubectl get svc web"


def test_console_output_line_starting_with_hash_is_not_a_command() -> None:
    # Pygments reads `# ` as a root prompt; the runner reads it as output.
    text = (
        "$ kubectl exec config-demo -- cat /etc/app/app.conf\n"
        "# app.conf: settings the app reads from a file\n"
        "log_level = info\n"
        "$ kubectl exec config-demo -- ls /etc/secret\n"
        "password\n"
    )
    assert copy_text(block("console", text)) == (
        "kubectl exec config-demo -- cat /etc/app/app.conf\n"
        "kubectl exec config-demo -- ls /etc/secret"
    )
    assert [kind for kind, _ in console_lines(text)] == [
        "command", "output", "output", "command", "output",
    ]  # fmt: skip


@pytest.mark.parametrize("prefix", ["> ", ""])
def test_console_continuation_lines_are_part_of_the_command(prefix: str) -> None:
    text = (
        "$ kubectl create configmap app \\\n"
        f"{prefix}  --from-literal=A=1 \\\n"
        f"{prefix}  --from-literal=B=2\n"
        "configmap/app created\n"
        "$ echo done\n"
        "done\n"
    )
    assert copy_text(block("console", text)) == (
        "kubectl create configmap app \\\n  --from-literal=A=1 \\\n  --from-literal=B=2\necho done"
    )
    assert [kind for kind, _ in console_lines(text)] == [
        "command", "continuation", "continuation", "output", "command", "output",
    ]  # fmt: skip


def test_console_output_that_looks_like_a_prompt_or_continuation_is_output() -> None:
    text = "$ cat notes\n> quoted\n% not zsh\nroot@host:/# ls\n$ \n$ echo end\n"
    assert console_commands(text) == ["cat notes", "", "echo end"]


def test_console_a_line_ending_with_a_backslash_at_the_end_of_the_block() -> None:
    assert console_commands("$ echo a \\\n") == ["echo a \\"]


def test_bash_and_other_blocks_copy_their_text_trimmed_at_the_end() -> None:
    text = "# a comment is part of a bash block\nkubectl get pods \\\n  -o wide\n\n"
    assert copy_text(block("bash", text)) == text.rstrip()
    assert copy_text(block("yaml", "kind: Pod\n")) == "kind: Pod"
    assert (
        copy_text(block("bash", "$ echo not a prompt in bash\n")) == "$ echo not a prompt in bash"
    )


def test_not_executed_languages_match_the_runner() -> None:
    assert set(NOT_EXECUTED) == NOT_EXECUTED_LANGUAGES


def test_executable_blocks_leave_out_skipped_output_and_diagram_blocks(
    site: Path, includes: Includes
) -> None:
    page = site / "docs" / "demo.md"
    page.write_text(
        "# Demo\n\n"
        "```bash\necho one\n```\n\n"  # 3
        "<!-- k8snotes: output -->\n```text\none\n```\n\n"  # 8
        '<!-- k8snotes: skip="an example" -->\n```bash\nrm -rf /\n```\n\n'  # 13
        "```mermaid\ngraph LR\n  a --> b\n```\n\n"  # 17
        "<!-- k8snotes: requires=pods -->\n```console\n$ echo two\ntwo\n```\n\n"  # 23
        '```yaml\n--8<-- "demo/pod.yaml"\n```\n'  # 28
    )
    blocks = executable_blocks(page, includes, site)
    assert [(b.line, b.language) for b in blocks] == [(3, "bash"), (23, "console"), (28, "yaml")]


# -- the site's HTML: console_copy_html -------------------------------------------------

_HIDDEN_SPAN = re.compile(r'<span class="(?:[^"]* )?(?:gp|go)(?: [^"]*)?">[^<]*</span>')


def render(fence: str) -> str:
    """A fence as the site's Markdown settings highlight it."""
    md = markdown.Markdown(
        extensions=["pymdownx.highlight", "pymdownx.superfences"],
        extension_configs={
            "pymdownx.highlight": {
                "anchor_linenums": True,
                "line_spans": "__span",
                "pygments_lang_class": True,
            }
        },
    )
    return md.convert(fence)


def copied(page_html: str) -> str:
    """What the copy button of the page's one block copies: its text without .gp and .go."""
    code = re.search(r"<code[^>]*>(.*?)</code>", page_html, re.S)
    assert code
    return html.unescape(re.sub(r"<[^>]+>", "", _HIDDEN_SPAN.sub("", code[1]))).rstrip()


CONSOLE_CASES = {
    "hash output": (
        "$ kubectl exec config-demo -- cat /etc/app/app.conf\n"
        "# app.conf: settings the app reads from a file\n"
        "log_level = info\n"
        "$ kubectl exec config-demo -- ls /etc/secret\n"
        "password\n"
    ),
    "continuations": (
        "$ kubectl create configmap app \\\n"
        ">   --from-literal=A='1 & 2' \\\n"
        '  --from-literal=B="<b>"\n'
        "configmap/app created\n"
        "\n"
        "$ echo done\n"
    ),
    "prompts pygments knows": (
        "$ cat notes\n% not zsh\n(venv) $ not a venv\nroot@host:/# ls\nuser@host:~$ x\n$  two\n"
    ),
    "a continuation that looks like a prompt": "$ echo a \\\n$ b\na $ b\n",
}


@pytest.mark.parametrize("text", CONSOLE_CASES.values(), ids=CONSOLE_CASES.keys())
@pytest.mark.parametrize("options", ["", ' title="t.sh" hl_lines="1 2 3"', ' linenums="1"'])
def test_console_html_copies_what_the_runner_runs(text: str, options: str) -> None:
    page = render(f"```console{options}\n{text}```\n")
    fixed, problems = console_copy_html(page)
    assert problems == []
    assert copied(fixed) == copy_text(block("console", text))
    # What is shown is unchanged: the same text, line for line.
    shown = re.search(r"<code[^>]*>(.*?)</code>", fixed, re.S)
    assert shown and html.unescape(re.sub(r"<[^>]+>", "", shown[1])) == text


def test_console_html_fixes_the_hash_line_and_keeps_the_commands_highlighting() -> None:
    page = render("```console\n$ kubectl get cm app\n# app.conf: settings\n```\n")
    assert copied(page) == "kubectl get cm app\napp.conf: settings"  # the bug, unfixed
    fixed, _ = console_copy_html(page)
    assert '<span class="go"># app.conf: settings\n</span>' in fixed
    assert '<span class="gp">$ </span>kubectl<span class="w"> </span>get' in fixed


def test_console_html_leaves_other_blocks_alone() -> None:
    page = render("```bash\n# a comment\n$HOME/bin/x\n```\n\n```text\n$ not a console\n```\n")
    assert console_copy_html(page) == (page, [])


def test_console_html_reports_html_it_does_not_know() -> None:
    page = '<div class="language-console highlight"><pre><code><b>$ x</b>\n</code></pre></div>'
    fixed, problems = console_copy_html(page)
    assert fixed == page
    assert len(problems) == 1 and "unexpected HTML" in problems[0]
