"""The command reference is built from the runner's own parse of the pages."""

from __future__ import annotations

from pathlib import Path

from k8snotes.commands import collect_commands, command_lines, reference_markdown, subcommand
from k8snotes.markdown import Block
from k8snotes.markdown.includes import Includes


def test_subcommands() -> None:
    assert subcommand("kubectl", ["kubectl", "get", "pods", "-o", "wide"]) == "get"
    assert subcommand("kubectl", ["kubectl", "config", "use-context", "x"]) == "config use-context"
    assert subcommand("kind", ["kind", "load", "docker-image", "app:1"]) == "load docker-image"
    assert subcommand("docker", ["docker", "run", "-d", "app"]) == "run"


def test_console_and_bash_lines() -> None:
    console = Block(
        Path("p.md"),
        1,
        "console",
        "$ kubectl get pods \\\n    -o wide\nNAME\n$ kind get clusters\nk\n",
    )
    assert command_lines(console) == ["kubectl get pods      -o wide", "kind get clusters"]
    bash = Block(Path("p.md"), 1, "bash", "kubectl apply -f a.yaml\n\nkubectl get pods\n")
    assert command_lines(bash) == ["kubectl apply -f a.yaml", "kubectl get pods"]


def test_reference_links_to_the_section_where_a_command_runs(
    site: Path, includes: Includes
) -> None:
    (site / "docs" / "tasks").mkdir()
    (site / "docs" / "tasks" / "one.md").write_text(
        "# One\n\n## Scale it up\n\n```bash\nkubectl scale deployment web --replicas=3 && kubectl get pods\n```\n"
    )
    uses = collect_commands(site / "docs", includes, site)
    assert [(u.subcommand, u.anchor) for u in uses] == [
        ("scale", "scale-it-up"),
        ("get", "scale-it-up"),
    ]
    text = reference_markdown("kubectl", uses, Path("reference/kubectl.md"))
    assert "### `kubectl scale`" in text
    assert "(../tasks/one.md#scale-it-up)" in text


def test_watch_runs_again_when_an_included_file_is_saved(tmp_path: Path) -> None:
    import threading
    import time

    from k8snotes.markdown.includes import Includes
    from k8snotes.watch import watch, watched_files

    (tmp_path / "snippets").mkdir()
    snippet = tmp_path / "snippets" / "cm.yaml"
    snippet.write_text("a: 1\n")
    page = tmp_path / "page.md"
    page.write_text("# P\n\n```bash\ncat > cm.yaml <<'EOF'\n--8<-- \"cm.yaml\"\nEOF\n```\n")
    includes = Includes(tmp_path / "mkdocs.yml", [tmp_path / "snippets"])
    assert watched_files(page, includes, tmp_path) == [page, snippet]
    runs: list[float] = []

    def save_later() -> None:
        while not runs:
            time.sleep(0.05)
        time.sleep(0.2)
        snippet.write_text("a: 2\n")

    threading.Thread(target=save_later, daemon=True).start()
    watch(page, includes, tmp_path, lambda: runs.append(time.monotonic()), interval=0.05, rounds=2)
    assert len(runs) == 2
