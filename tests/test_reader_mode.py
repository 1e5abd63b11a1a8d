"""Reader mode without a cluster: page order, front matter, the leak check, clean-up after failure."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from k8snotes.markdown import parse_page
from k8snotes.markdown.blocks import PageError
from k8snotes.markdown.frontmatter import page_settings
from k8snotes.markdown.includes import Includes
from k8snotes.plugin import page_order
from k8snotes.runner.inventory import Inventory, new_lines
from k8snotes.runner.kindshim import cluster_name
from k8snotes.runner.session import BlockFailure, BlockSkipped, PageSession
from k8snotes.runner.urlshim import rewrite


def test_pages_run_after_what_they_need_and_dependents_follow_their_need() -> None:
    needs = {
        "concepts/a.md": ["concepts/prepare.md"],
        "concepts/prepare.md": [],
        "concepts/z.md": ["concepts/prepare.md"],
        "index.md": [],
        "tasks/1.md": [],
        "tasks/2.md": ["tasks/1.md"],
        "tasks/3.md": ["tasks/2.md"],
    }
    assert page_order(needs) == [
        "concepts/prepare.md",
        "concepts/a.md",
        "concepts/z.md",
        "index.md",
        "tasks/1.md",
        "tasks/2.md",
        "tasks/3.md",
    ]


def test_a_page_needing_two_pages_waits_for_both() -> None:
    needs = {"a.md": [], "b.md": [], "c.md": ["a.md", "b.md"]}
    order = page_order(needs)
    assert order.index("c.md") > max(order.index("a.md"), order.index("b.md"))


def test_front_matter_needs_and_keeps(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text("---\nneeds: tasks/one.md\nkeeps: ['docker image x:*']\n---\n# P\n")
    settings = page_settings(page)
    assert settings.needs == ["tasks/one.md"] and settings.keeps == ["docker image x:*"]
    page.write_text("---\nneeds: {a: 1}\n---\n# P\n")
    with pytest.raises(PageError, match="must be a list of strings"):
        page_settings(page)


def test_new_lines_are_leaks_unless_kept() -> None:
    before = Inventory(frozenset({"docker image a:1", "kube v1 Pod default/old"}), "uid-1")
    after = Inventory(
        frozenset({"docker image a:1", "docker image b:1", "kube v1 Pod default/web"}), "uid-1"
    )
    assert new_lines(before, after) == ["docker image b:1", "kube v1 Pod default/web"]
    assert new_lines(before, after, ["docker image b:*"]) == ["kube v1 Pod default/web"]


def test_a_cluster_the_page_made_counts_by_its_containers_not_its_objects() -> None:
    before = Inventory(frozenset(), "")
    after = Inventory(
        frozenset({"docker container kind-control-plane", "kube v1 Namespace kube-system"}), "u"
    )
    assert new_lines(before, after) == ["docker container kind-control-plane"]


def test_url_shim_and_kind_shim_helpers() -> None:
    args, notes = rewrite(["apply", "--filename=https://h/a.yaml"], {"https://h/a.yaml": "/c/a"})
    assert args == ["apply", "--filename=/c/a"] and len(notes) == 1
    assert rewrite(["apply", "-f", "https://other"], {}) == (["apply", "-f", "https://other"], [])
    assert cluster_name(["create", "cluster"]) == "kind"
    assert cluster_name(["create", "cluster", "--name=dev"]) == "dev"
    assert cluster_name(["create", "cluster", "--name", "x"]) == "x"


@pytest.fixture
def reader_page(tmp_path: Path) -> Path:
    (tmp_path / "mkdocs.yml").write_text("site_name: t\n")
    (tmp_path / "docs").mkdir()
    return tmp_path


def _session(root: Path, text: str) -> tuple[PageSession, list]:
    page = root / "docs" / "page.md"
    page.write_text(text)
    blocks = parse_page(page, Includes(root / "mkdocs.yml"), root)
    session = PageSession(Path("docs/page.md"), root, None, {"api"}, {}, "", home=root / "home")
    return session, blocks


def test_reader_page_starts_in_an_empty_folder_with_the_readers_home(reader_page: Path) -> None:
    session, blocks = _session(
        reader_page,
        '# P\n\n```console\n$ ls -A | wc -l\n0\n$ echo "$HOME"; echo "${KUBECONFIG:-none}"\n'
        f"{reader_page}/home\nnone\n```\n",
    )
    try:
        session.run_block(blocks[0])
    finally:
        session.close()


def test_clean_up_blocks_run_after_a_failure(reader_page: Path) -> None:
    session, blocks = _session(
        reader_page,
        "# P\n\n```bash\nfalse\n```\n\n```bash\necho skipped\n```\n\n"
        "## Clean up\n\n```bash\necho cleaned > ~/cleaned\n```\n",
    )
    try:
        with pytest.raises(BlockFailure):
            session.run_block(blocks[0])
        with pytest.raises(BlockSkipped, match="an earlier block of this page failed"):
            session.run_block(blocks[1])
        session.run_block(blocks[2])
        assert (reader_page / "home" / "cleaned").read_text() == "cleaned\n"
    finally:
        session.close()


def test_a_process_the_page_left_running_is_a_leak(reader_page: Path) -> None:
    seconds = 300 + uuid.uuid4().int % 600
    session, blocks = _session(reader_page, f"# P\n\n```bash\nsetsid sleep {seconds} &\n```\n")
    try:
        session.run_block(blocks[0])
    finally:
        session.close()
    try:
        left = session.leaks([], settle=0)
        assert any(f"sleep {seconds}" in line for line in left), left
    finally:
        subprocess.run(["pkill", "-f", f"sleep {seconds}"], check=False)
    assert session.leaks([], settle=0) == []
