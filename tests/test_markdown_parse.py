"""Parsing pages into blocks: nesting, includes, metadata, and every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from k8snotes.markdown import PageError, parse_page
from k8snotes.markdown.includes import Includes
from k8snotes.markdown.parse import unwrap_containers


def page(site: Path, text: str) -> Path:
    path = site / "docs" / "demo.md"
    path.write_text(text)
    return path


def test_blocks_in_order_with_lines_and_metadata(site: Path, includes: Includes) -> None:
    text = (
        "# Demo\n\n"  # 1-2
        "<!-- k8snotes: timeout=5 requires=pods -->\n"  # 3
        "```bash\necho one\n```\n\n"  # 4-6
        '!!! note "In an admonition"\n'  # 8
        "    Text.\n\n"  # 9-10
        "    ```console\n    $ echo two\n    two\n    ```\n\n"  # 11-14
        '=== "Tab"\n\n'  # 16
        '    ??? tip "Nested details"\n\n'  # 18
        '        ```yaml\n        --8<-- "demo/pod.yaml"\n        ```\n'  # 20-22
    )
    blocks = parse_page(page(site, text), includes, site)
    assert [(b.line, b.language) for b in blocks] == [(4, "bash"), (11, "console"), (20, "yaml")]
    assert blocks[0].meta == {"timeout": 5.0, "requires": "pods"}
    assert blocks[0].requires == ["pods"]
    assert blocks[1].text == "$ echo two\ntwo\n"
    assert "kind: Pod" in blocks[2].text and "name: web" in blocks[2].text
    assert blocks[2].includes == ["demo/pod.yaml"]
    assert str(blocks[0].path) == "docs/demo.md"


def test_include_section_is_exactly_what_the_site_renders(site: Path, includes: Includes) -> None:
    blocks = parse_page(page(site, '```yaml\n--8<-- "demo/pod.yaml:meta"\n```\n'), includes, site)
    assert blocks[0].text.strip() == "apiVersion: v1\nkind: Pod"


def test_unwrap_keeps_line_numbers() -> None:
    text = "!!! note\n    a\n\n    b\nafter\n"
    out = unwrap_containers(text)
    assert out.split("\n") == ["", "a", "", "b", "after", ""]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("<!-- k8snotes: skipp=x -->\n```bash\nls\n```\n", 1, "unknown metadata key 'skipp'"),
        ("<!-- k8snotes: timeout=soon -->\n```bash\nls\n```\n", 1, "is not a float"),
        ("<!-- k8snotes: background=1 -->\n```bash\nls\n```\n", 1, "takes no value"),
        ("text\n\n```bash\nls\n", 3, "unterminated code fence"),
        ('```yaml\n--8<-- "demo/missing.yaml"\n```\n', 1, "include failed"),
        ('```yaml\n--8<-- "demo/pod.yaml:nosuch"\n```\n', 1, "include failed"),
        ("```yaml\na: [1,\n```\n", 1, "YAML does not parse"),
        ("<!-- k8snotes: output -->\n```text\nhi\n```\n", 2, "output block with no command"),
        ("<!-- k8snotes: skip=x -->\n\nprose\n", 1, "not followed by a fence"),
        ("<!-- k8snotes: port=80 -->\n```bash\nls\n```\n", 2, "port= only makes sense"),
    ],
)
def test_bad_input_names_file_and_line(
    site: Path, includes: Includes, text: str, line: int, message: str
) -> None:
    with pytest.raises(PageError) as exc:
        parse_page(page(site, text), includes, site)
    assert exc.value.line == line
    assert message in exc.value.message
    assert str(exc.value).startswith(f"docs/demo.md:{line}: ")
