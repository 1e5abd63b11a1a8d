"""The results ledger (issue 22): its model and file, the versions it records, the merge's
exact-cover check, the durations file, ``k8snotes status``. No cluster, no Docker: seconds."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from k8snotes import ledger as L
from k8snotes.cli import main
from k8snotes.ledger import CurrentPage, Ledger, LedgerError, RunInfo
from k8snotes.markdown.blocks import Block

DATE = "2026-12-02T10:11:12+00:00"

SETUP = "# Set up\n\n```bash\necho setting up\n```\n\n```bash\necho ready\n```\n"
PAGE_A = (
    "---\nneeds: [setup.md]\n---\n# A\n\n```bash\necho one\n```\n\n```bash\necho two\n```\n\n"
    "<!-- k8snotes: output -->\n```\ntwo\n```\n\n"
    '<!-- k8snotes: skip="needs the internet" -->\n```bash\ncurl https://example.org\n```\n'
)
PAGE_B = '# B\n\n```yaml\n--8<-- "demo/pod.yaml"\n```\n'
PROSE = "# Prose\n\nNo blocks here.\n"


@pytest.fixture
def docs(site: Path) -> Path:
    """A docs folder: a set-up page, a page that needs it, a page with an include, prose."""
    docs = site / "docs"
    (docs / "setup.md").write_text(SETUP)
    (docs / "a.md").write_text(PAGE_A)
    (docs / "tasks").mkdir()
    (docs / "tasks" / "b.md").write_text(PAGE_B)
    (docs / "prose.md").write_text(PROSE)
    return docs


@pytest.fixture
def pages(docs: Path) -> dict[str, CurrentPage]:
    return L.current_pages(docs)


def record(
    ledger: Ledger,
    page: CurrentPage,
    outcome: L.Outcome = "passed",
    copy: int | None = None,
    seconds: float = 10.0,
) -> None:
    """Record ``page`` as a run would: its executable blocks with ``outcome``, the rest shown."""
    for block in page.blocks:
        if block.executable:
            ledger.record_block(page.name, block.line, block.hash, outcome, 1.0, copy=copy)
        else:
            reason = block.reason or L.OUTPUT_REASON
            ledger.record_block(page.name, block.line, block.hash, "shown", 0.0, reason, copy)
    ledger.record_page(
        page.name, page_hash=page.hash, seconds=seconds, leak_check="passed", copy=copy
    )


def shard(k: int, n: int, *pages: CurrentPage, copies: tuple[CurrentPage, ...] = ()) -> Ledger:
    ledger = Ledger.start(RunInfo(date=DATE, commit="abc1234", shard=f"{k}/{n}"))
    for page in pages:
        record(ledger, page)
    for page in copies:
        record(ledger, page, copy=k)
    return ledger


# -- the pages as they are now -----------------------------------------------------


def test_current_pages_hash_pages_and_blocks_and_plan_them(
    docs: Path, pages: dict[str, CurrentPage]
) -> None:
    assert list(pages) == ["a.md", "prose.md", "setup.md", "tasks/b.md"]
    a = pages["a.md"]
    assert [(b.line, b.action) for b in a.blocks] == [
        (6, "run"),
        (10, "run"),
        (15, "output"),
        (20, "skip"),
    ]
    assert a.blocks[3].reason == "needs the internet"
    assert [b.line for b in a.executable] == [6, 10]
    assert a.blocks[0].hash == L.block_hash("echo one\n")
    # The include is resolved: the hash is of the text the runner runs.
    b = pages["tasks/b.md"].blocks[0]
    assert "kind: Pod" in b.text and b.hash == L.block_hash(b.text)
    # The page hash covers what it includes: an edited snippet changes it.
    before = pages["tasks/b.md"].hash
    snippet = docs.parent / "snippets" / "demo" / "pod.yaml"
    snippet.write_text(snippet.read_text().replace("web", "web2"))
    assert L.current_pages(docs)["tasks/b.md"].hash != before
    # The runner's digest is not in it (changes.fingerprint has it).
    assert L.page_hash("x", ["y"]) == L.page_hash("x", ["y"])
    from k8snotes.changes import fingerprint

    assert L.page_hash("x", ["y"]) != fingerprint("x", ["y"])


def test_a_page_that_does_not_parse_is_named(docs: Path) -> None:
    (docs / "bad.md").write_text("# Bad\n\n<!-- k8snotes: nonsense -->\n```bash\nls\n```\n")
    bad = L.current_pages(docs)["bad.md"]
    assert bad.blocks == () and "unknown metadata key 'nonsense'" in bad.error


# -- the model and its file --------------------------------------------------------


def test_a_ledger_round_trips_through_its_file(tmp_path: Path, pages) -> None:
    ledger = shard(1, 1, pages["a.md"], pages["setup.md"])
    path = ledger.write(tmp_path / "out" / "ledger.json")
    assert path == tmp_path / "out" / "ledger.json"
    assert [p.name for p in path.parent.iterdir()] == ["ledger.json"]  # no temporary left
    data = json.loads(path.read_text())
    assert (data["format"], data["version"]) == ("k8snotes-ledger", 1)
    assert data["runs"][0]["shard"] == "1/1"
    assert set(data["blocks"][0]) == {
        "run", "page", "copy", "line", "hash", "outcome", "reason", "seconds",
    }  # fmt: skip
    assert set(data["pages"][0]) == {"run", "page", "copy", "hash", "seconds", "leak_check"}
    assert Ledger.read(path) == ledger


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"format": "other"}, "not a k8snotes ledger"),
        ({"format": "k8snotes-ledger", "version": 2}, "ledger version 2"),
        ({"format": "k8snotes-ledger", "version": 1, "blocks": [{"page": "a"}]}, "malformed"),
        (
            {"format": "k8snotes-ledger", "version": 1, "runs": [],
             "pages": [{"page": "a.md", "run": 0}]},
            "run 0 is not in the ledger's runs",
        ),
        (
            {"format": "k8snotes-ledger", "version": 1, "runs": [{"date": DATE}],
             "blocks": [{"page": "a.md", "line": 1, "hash": "", "outcome": "great"}]},
            "unknown outcome 'great'",
        ),
    ],
)  # fmt: skip
def test_a_file_that_is_not_a_ledger_this_version_reads_is_refused(
    tmp_path: Path, document: dict, message: str
) -> None:
    path = tmp_path / "l.json"
    path.write_text(json.dumps(document))
    with pytest.raises(LedgerError, match=message):
        Ledger.read(path)
    path.write_text("{not json")
    with pytest.raises(LedgerError, match="not JSON"):
        Ledger.read(path)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = Ledger.start(RunInfo(date=DATE)).write(tmp_path / "l.json")
    before = path.read_text()

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(json, "dump", broken)
    with pytest.raises(OSError, match="disk full"):
        Ledger.start(RunInfo(date="later")).write(path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["l.json"]


def test_recording_again_replaces_and_pages_accumulate_seconds() -> None:
    ledger = Ledger.start(RunInfo(date=DATE))
    ledger.record_block("a.md", 6, "h", "failed", 1.0)
    ledger.record_block("a.md", 6, "h", "passed", 2.0)  # a re-run
    ledger.record_block("a.md", 6, "h", "passed", 3.0, copy=2)  # another copy: its own record
    assert [(b.outcome, b.seconds, b.copy) for b in ledger.blocks] == [
        ("passed", 2.0, None),
        ("passed", 3.0, 2),
    ]
    ledger.record_page("a.md", page_hash="p", add_seconds=1.5)
    ledger.record_page("a.md", add_seconds=2.0, leak_check="passed")
    assert ledger.pages == [L.PageRecord("a.md", "p", 3.5, "passed")]
    with pytest.raises(ValueError, match="unknown outcome"):
        ledger.record_block("a.md", 7, "h", "great")  # type: ignore[arg-type]
    ledger.update_run(kubernetes="v1.37.2", commit=None)
    assert (ledger.run.kubernetes, ledger.run.commit) == ("v1.37.2", None)
    ledger.update_run(commit="abc1234")
    ledger.update_run(commit="zzz")  # known already: kept
    assert ledger.run.commit == "abc1234"
    with pytest.raises(TypeError, match="no field colour"):
        ledger.update_run(colour="blue")


def test_record_block_of_turns_a_skip_by_design_and_an_output_block_into_shown() -> None:
    ledger = Ledger.start(RunInfo(date=DATE))
    command = Block(Path("docs/a.md"), 10, "bash", "echo two\n")
    output = Block(Path("docs/a.md"), 15, "", "two\n", {"output": True})
    skipped = Block(Path("docs/a.md"), 20, "bash", "curl x\n", {"skip": "needs the internet"})
    ledger.record_block_of("a.md", command, "passed", 0.5, output_block=output)
    ledger.record_block_of("a.md", skipped, "skipped", 0.0, "needs the internet")
    assert [(b.line, b.outcome, b.reason) for b in ledger.blocks] == [
        (10, "passed", ""),
        (15, "shown", L.OUTPUT_REASON),
        (20, "shown", "needs the internet"),
    ]


def report(
    when: str, outcome: str, props: dict, duration: float = 1.0, text: str = "", nodeid: str = ""
):
    """What the plugin's controller gets: a pytest report's fields the ledger reads."""
    return SimpleNamespace(
        nodeid=nodeid,
        when=when,
        outcome=outcome,
        duration=duration,
        user_properties=list(props.items()),
        longreprtext=text,
    )


def test_record_report_reads_a_blocks_reports_phase_by_phase() -> None:
    ledger = Ledger.start(RunInfo(date=DATE))
    command = Block(Path("docs/a.md"), 10, "bash", "echo two\n")
    output = Block(Path("docs/a.md"), 15, "", "two\n", {"output": True})
    props = {"page": "a.md", **dict(L.block_properties(command, output, page_hash="P"))}
    ledger.record_report(report("setup", "passed", props, 5.0))
    ledger.record_report(report("call", "passed", props | {"run_kubernetes": "v1.37.2"}, 2.0))
    ledger.record_report(report("teardown", "passed", props | {"leak_check": "passed"}, 3.0))
    skip = Block(Path("docs/a.md"), 20, "bash", "kubectl top pods\n", {"requires": "metrics"})
    props = {"page": "a.md", **dict(L.block_properties(skip)), "skip_reason": "needs metrics"}
    ledger.record_report(report("call", "skipped", props, 0.0))
    broken = Block(Path("docs/a.md"), 30, "bash", "false\n")
    props = {"page": "a.md", "machine": 2, **dict(L.block_properties(broken))}
    ledger.record_report(report("setup", "failed", props, 0.5, "\nthe page could not be set up\n"))
    ledger.record_report(report("teardown", "failed", props, 0.5, "clean-up failed"))
    ledger.record_report(report("call", "passed", {"page": "a.md"}))  # not a block's: ignored
    ledger.record_report(report("call", "passed", {"line": 3}))  # no page: ignored
    assert [(b.line, b.outcome, b.reason, b.copy) for b in ledger.blocks] == [
        (10, "passed", "", None),
        (15, "shown", L.OUTPUT_REASON, None),
        (20, "skipped", "needs metrics", None),
        (30, "failed", "the page could not be set up", 2),
    ]
    assert ledger.blocks[0].hash == L.block_hash("echo two\n")
    assert ledger.pages == [
        L.PageRecord("a.md", "P", 10.0, "passed"),
        L.PageRecord("a.md", "", 1.0, "failed", copy=2),
    ]
    assert ledger.run.kubernetes == "v1.37.2"


def test_the_other_tests_are_recorded_per_file() -> None:
    ledger = Ledger.start(RunInfo(date=DATE))
    for name, outcomes in {
        "tests/test_a.py::test_one": ("passed", "passed", "passed"),
        "tests/test_a.py::test_two[x]": ("passed", "failed", "passed"),
        "tests/test_a.py::test_three": ("failed", None, "passed"),  # an error in set-up
        "tests/test_b.py::TestC::test_four": ("skipped", None, "passed"),
        "tests/test_b.py::test_five": ("passed", "passed", "failed"),  # an error in teardown
    }.items():
        for when, outcome in zip(("setup", "call", "teardown"), outcomes, strict=True):
            if outcome:
                ledger.record_report(report(when, outcome, {}, 0.5, nodeid=name))
    ledger.record_report(report("call", "passed", {}, 9.0, nodeid="docs/a.md::line 3"))
    assert ledger.tests == [
        L.TestFileRecord("tests/test_a.py", 4.0, passed=1, failed=2),
        L.TestFileRecord("tests/test_b.py", 2.5, passed=1, failed=1, skipped=1),
    ]
    assert Ledger.from_dict(json.loads(json.dumps(ledger.to_dict()))) == ledger
    assert L.durations_of_tests(ledger) == {"tests/test_a.py": 4.0, "tests/test_b.py": 2.5}


def test_a_test_file_in_two_shards_or_failing_fails_the_merge(pages) -> None:
    one, two = shard(1, 2, pages["setup.md"], pages["a.md"]), shard(2, 2, pages["tasks/b.md"])
    one.tests.append(L.TestFileRecord("tests/test_a.py", 3.0, passed=2))
    two.tests.append(L.TestFileRecord("tests/test_b.py", 3.0, passed=2))
    assert L.check_cover(Ledger.merge([one, two]), pages) == []
    two.tests.append(L.TestFileRecord("tests/test_a.py", 3.0, passed=1, failed=1))
    assert L.check_cover(Ledger.merge([one, two]), pages) == [
        "tests/test_a.py: ran in shard 1/2 and shard 2/2: a test file runs in one shard",
        "tests/test_a.py: 1 failed in shard 2/2",
    ]


def test_a_page_view_takes_its_runs_together(pages) -> None:
    a = pages["a.md"]
    ledger = Ledger.merge([shard(1, 2, a), shard(2, 2, copies=(a,))])
    ledger.pages[1].leak_check = "failed"
    ledger.blocks[5].outcome = "failed"  # line 10 of the copy
    view = ledger.view("a.md")
    assert view is not None
    assert (view.hash, view.run.shard, view.runs, view.leak_check) == (a.hash, "1/2", 2, "failed")
    assert view.counts() == {"passed": 1, "failed": 1, "shown": 2}
    assert view.failed
    # A block moved by an edit above it keeps its record; a changed one has none.
    assert view.block(99, a.blocks[0].hash) is view.blocks[6]
    assert view.block(6, "other") is None
    assert ledger.view("nowhere.md") is None


def test_overlay_keeps_each_page_as_its_latest_run_left_it(tmp_path: Path, pages) -> None:
    first = shard(1, 1, pages["a.md"], pages["setup.md"])
    later = Ledger.start(RunInfo(date="2026-12-03T00:00:00+00:00"))
    record(later, pages["a.md"], "failed")
    latest = tmp_path / "ledger" / "latest.json"
    first.write_latest(latest)
    later.write_latest(latest)
    combined = Ledger.read(latest)
    assert {b.outcome for b in combined.blocks if b.page == "a.md"} == {"failed", "shown"}
    view = combined.view("setup.md")
    assert view is not None and view.run.date == DATE
    assert [r.date for r in combined.runs] == [DATE, "2026-12-03T00:00:00+00:00"]
    # A third run of both drops the runs nothing refers to any more.
    third = shard(1, 1, pages["a.md"], pages["setup.md"])
    assert len(combined.overlay(third).runs) == 1


# -- versions ----------------------------------------------------------------------


def fake_bin(folder: Path, name: str, script: str) -> None:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)


DOCKER = """\
case "$1 $2" in
  "version --format") echo 29.1.2 ;;
  "ps --filter") echo kind-control-plane ;;
  "exec kind-control-plane") echo "containerd github.com/containerd/containerd/v2 v2.2.0 abc" ;;
  *) exit 1 ;;
esac
"""


def test_versions_are_asked_of_the_binaries_on_the_path(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    fake_bin(bin_dir, "kind", "echo 'kind v0.33.0 go1.25.1 linux/amd64'\n")
    fake_bin(bin_dir, "kubectl", 'echo \'{"clientVersion": {"gitVersion": "v1.37.1"}}\'\n')
    fake_bin(bin_dir, "docker", DOCKER)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    assert L.kind_version(env) == "v0.33.0"
    assert L.kubectl_version(env) == "v1.37.1"
    assert L.docker_version(env) == "29.1.2"
    assert L.containerd_version(env=env) == "v2.2.0"
    info = RunInfo.collect(shard="2/3", backend="kind", env=env)
    assert (info.kind, info.kubectl, info.docker, info.containerd) == (
        "v0.33.0", "v1.37.1", "29.1.2", "v2.2.0",
    )  # fmt: skip
    assert (info.shard, info.backend, info.kubernetes) == ("2/3", "kind", None)
    assert info.commit and info.runner and info.date.endswith("+00:00")
    empty = {"PATH": str(tmp_path / "nothing"), "HOME": str(tmp_path)}
    assert (L.kind_version(empty), L.docker_version(empty), L.containerd_version("n", empty)) == (
        None, None, None,
    )  # fmt: skip


def test_containerd_falls_back_to_crictl_in_the_node(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    fake_bin(
        bin_dir,
        "docker",
        '[ "$3" = crictl ] && printf "Version:  0.1.0\\nRuntimeName:  containerd\\n'
        'RuntimeVersion:  v2.1.4\\n" && exit 0\nexit 1\n',
    )
    assert L.containerd_version("node", {"PATH": str(bin_dir)}) == "v2.1.4"


def test_a_hanging_binary_is_stopped_at_its_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    fake_bin(bin_dir, "kind", "exec sleep 60\n")
    monkeypatch.setattr(L, "VERSION_TIMEOUT", 0.5)
    start = time.monotonic()
    assert L.kind_version({"PATH": str(bin_dir)}) is None
    assert time.monotonic() - start < 10


def test_every_subprocess_call_of_the_ledger_has_a_timeout() -> None:
    from tests.test_bounds import scan

    found = [str(f) for f in scan() if f.path in {"k8snotes/ledger.py", "k8snotes/stamps.py"}]
    assert found == []
    import ast

    calls = [
        node
        for node in ast.walk(ast.parse(Path(L.__file__).read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "subprocess"
    ]
    assert calls, "the ledger asks the binaries through subprocess"
    for call in calls:
        timeout = next(k.value for k in call.keywords if k.arg == "timeout")
        assert not (isinstance(timeout, ast.Constant) and timeout.value is None)


class _Version(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.rstrip("/") != "/version":
            self.send_error(404)
            return
        body = json.dumps({"gitVersion": "v1.37.2", "major": "1", "minor": "37"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Version)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: c, cluster: {{server: '{server}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
    )
    return path


def test_the_kubernetes_version_is_asked_of_the_api_server(tmp_path: Path, api_server: str) -> None:
    config = kubeconfig(tmp_path / "config", api_server)
    assert L.kubernetes_version(config) == "v1.37.2"
    assert L.kubernetes_version(env={"KUBECONFIG": str(config)}) == "v1.37.2"
    (tmp_path / ".kube").mkdir()
    kubeconfig(tmp_path / ".kube" / "config", api_server)
    assert L.kubernetes_version(env={"HOME": str(tmp_path)}) == "v1.37.2"


def test_an_unreachable_cluster_has_no_version(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = kubeconfig(tmp_path / "config", f"http://127.0.0.1:{port}")
    start = time.monotonic()
    assert L.kubernetes_version(config, timeout=2) is None
    assert time.monotonic() - start < 15
    assert L.kubernetes_version(tmp_path / "missing") is None
    assert L.kubernetes_version(env={"HOME": str(tmp_path)}) is None


def test_the_run_url_is_the_ci_runs() -> None:
    github = {
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_RUN_ID": "7",
    }
    assert L.run_url(github) == "https://github.com/o/r/actions/runs/7"
    assert L.run_url({**github, "K8SNOTES_RUN_URL": "https://x/1"}) == "https://x/1"
    assert L.run_url({}) is None


# -- the merge's check -------------------------------------------------------------


def test_shards_that_cover_every_block_once_pass(pages) -> None:
    merged = Ledger.merge(
        [shard(1, 2, pages["setup.md"], pages["a.md"]), shard(2, 2, pages["tasks/b.md"])]
    )
    assert L.check_cover(merged, pages) == []


def test_a_set_up_page_copied_to_another_shard_counts_once_per_copy(pages) -> None:
    merged = Ledger.merge(
        [
            shard(1, 2, pages["setup.md"], pages["a.md"]),
            shard(2, 2, pages["tasks/b.md"], copies=(pages["setup.md"],)),
        ]
    )
    assert L.check_cover(merged, pages) == []
    # Only copies (no shard ran it as its own): still every block once per run.
    merged = Ledger.merge(
        [
            shard(1, 2, pages["a.md"], copies=(pages["setup.md"],)),
            shard(2, 2, pages["tasks/b.md"], copies=(pages["setup.md"],)),
        ]
    )
    assert L.check_cover(merged, pages) == []


def test_a_copy_the_shards_ledger_does_not_declare_fails(pages) -> None:
    second = shard(2, 2, pages["tasks/b.md"], copies=(pages["setup.md"],))
    second.pages = [p for p in second.pages if p.copy is None]
    merged = Ledger.merge([shard(1, 2, pages["setup.md"], pages["a.md"]), second])
    assert L.check_cover(merged, pages) == [
        "setup.md: blocks recorded as copy 2 in shard 2/2, copy 2, "
        "but that ledger does not say it ran the page as a copy"
    ]


def test_a_missing_block_and_a_missing_page_are_named(pages) -> None:
    first = shard(1, 2, pages["setup.md"], pages["a.md"])
    first.blocks = [b for b in first.blocks if (b.page, b.line) != ("a.md", 10)]
    merged = Ledger.merge([first, shard(2, 2)])
    assert L.check_cover(merged, pages) == [
        "a.md:10: missing from shard 1/2",
        "tasks/b.md: missing: none of its 1 executable blocks ran (lines 3)",
    ]


def test_a_page_run_twice_and_a_block_recorded_twice_are_named(pages) -> None:
    first = shard(1, 2, pages["setup.md"], pages["a.md"])
    first.blocks.append(first.blocks[2])  # a.md:6
    merged = Ledger.merge([first, shard(2, 2, pages["setup.md"], pages["tasks/b.md"])])
    assert L.check_cover(merged, pages) == [
        "a.md:6: appears 2 times in shard 1/2",
        "setup.md: ran as its own page 2 times (shard 1/2; shard 2/2): "
        "a page runs once, or as a copy its ledger declares",
    ]


def test_a_failure_fails_the_merge(pages) -> None:
    first = shard(1, 1, pages["setup.md"], pages["tasks/b.md"])
    record(first, pages["a.md"], "failed")
    first.blocks[-1].reason = "docs/a.md:20: bash block failed"
    first.pages[0].leak_check = "failed"
    assert L.check_cover(first, pages) == [
        "a.md:6: failed in shard 1/1",
        "a.md:10: failed in shard 1/1",
        "setup.md: the leak check failed in shard 1/1",
    ]


def test_a_ledger_of_other_pages_or_texts_fails(docs: Path, pages) -> None:
    ledger = shard(1, 1, pages["setup.md"], pages["a.md"], pages["tasks/b.md"])
    ledger.record_block("gone.md", 3, "h", "passed")
    ledger.blocks[0].hash = "other"
    ledger.record_block("a.md", 8, "h", "passed")
    ledger.blocks[2].outcome = "shown"  # a.md:6, executable
    assert L.check_cover(ledger, pages) == [
        "gone.md: in the ledger, but no such page under the docs",
        "a.md:6: recorded as shown only in shard 1/1, but it is executable",
        "a.md:8: recorded in shard 1/1, but no block starts there",
        "setup.md:3: shard 1/1 ran another text than the page's now (hash differs)",
    ]
    (docs / "a.md").write_text(PAGE_A + "\nMore prose.\n")
    assert L.check_cover(shard(1, 1, *pages.values()), L.current_pages(docs)) == [
        "a.md: shard 1/1 ran another version of the page (hash differs)"
    ]


def test_shards_given_twice_or_not_at_all_are_named(pages) -> None:
    every = (pages["setup.md"], pages["a.md"], pages["tasks/b.md"])
    assert L.check_cover(Ledger.merge([shard(1, 3, *every)]), pages) == [
        "shard 2/3: no ledger",
        "shard 3/3: no ledger",
    ]
    twice = Ledger.merge([shard(1, 2, *every), shard(2, 2), shard(2, 2)])
    assert L.check_cover(twice, pages) == ["shard 2/2: 2 ledgers"]
    mixed = Ledger.merge([shard(1, 2, *every), shard(2, 3)])
    assert L.check_cover(mixed, pages)[0] == "ledgers of splits into 2 and 3 shards"


# -- durations ---------------------------------------------------------------------


def test_durations_are_the_mean_over_a_pages_runs(pages) -> None:
    first = shard(1, 2, pages["a.md"])
    record(first, pages["setup.md"], seconds=30.0)
    second = shard(2, 2, pages["tasks/b.md"])
    record(second, pages["setup.md"], copy=2, seconds=40.0)
    second.record_block("blocks-only.md", 1, "h", "passed", 2.5)
    second.record_block("blocks-only.md", 5, "h", "passed", 1.25)
    assert L.page_durations(Ledger.merge([first, second])) == {
        "a.md": 10.0,
        "blocks-only.md": 3.8,
        "setup.md": 35.0,
        "tasks/b.md": 10.0,
    }


# -- the commands ------------------------------------------------------------------


def test_ledger_merge_passes_on_an_exact_cover(
    tmp_path: Path, docs: Path, pages, capsys: pytest.CaptureFixture[str]
) -> None:
    one = shard(1, 2, pages["setup.md"], pages["a.md"]).write(tmp_path / "1.json")
    two = shard(2, 2, pages["tasks/b.md"], copies=(pages["setup.md"],)).write(tmp_path / "2.json")
    out = tmp_path / "merged.json"
    code = main(["ledger", "merge", str(one), str(two), "--docs", str(docs), "-o", str(out)])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "pages run as copies: setup.md" in text
    assert f"OK: every executable block of every page under {docs} appears exactly once" in text
    merged = Ledger.read(out)
    assert [r.shard for r in merged.runs] == ["1/2", "2/2"]
    assert L.check_cover(merged, pages) == []


def test_ledger_merge_fails_naming_each_problem(
    tmp_path: Path, docs: Path, pages, capsys: pytest.CaptureFixture[str]
) -> None:
    first = shard(1, 2, pages["setup.md"], pages["a.md"])
    first.blocks[0].outcome = "failed"
    one = first.write(tmp_path / "1.json")
    two = shard(2, 2, pages["setup.md"]).write(tmp_path / "2.json")
    out = tmp_path / "merged.json"
    code = main(["ledger", "merge", str(one), str(two), "--docs", str(docs), "-o", str(out)])
    text = capsys.readouterr().out
    assert code == 1
    assert "FAILED: 3 problems" in text
    for problem in (
        "  setup.md:3: failed in shard 1/2",
        "  setup.md: ran as its own page 2 times",
        "  tasks/b.md: missing: none of its 1 executable blocks ran (lines 3)",
    ):
        assert problem in text
    assert out.exists()  # written anyway, to be looked at
    (tmp_path / "bad.json").write_text("[]")
    assert main(["ledger", "merge", str(tmp_path / "bad.json"), "-o", str(out)]) == 1
    assert "not a k8snotes ledger" in capsys.readouterr().err


def test_ledger_durations_writes_the_sorted_durations_file(
    tmp_path: Path, pages, capsys: pytest.CaptureFixture[str]
) -> None:
    source = shard(1, 1, pages["tasks/b.md"], pages["a.md"]).write(tmp_path / "l.json")
    out = tmp_path / ".ci" / "page-durations.json"
    assert main(["ledger", "durations", str(source), "-o", str(out)]) == 0
    assert out.read_text() == '{\n "a.md": 10.0,\n "tasks/b.md": 10.0\n}\n'
    assert "2 pages, 20.0 s recorded" in capsys.readouterr().out
    # Refreshed: the pages are the ledger's; what is not a page ("(other tests)") is kept.
    out.write_text('{"(other tests)": 120.0, "gone.md": 3.0, "a.md": 1.0}')
    assert main(["ledger", "durations", str(source), "-o", str(out)]) == 0
    assert json.loads(out.read_text()) == {"(other tests)": 120.0, "a.md": 10.0, "tasks/b.md": 10.0}
    # A ledger with the other tests' files: an entry per file replaces the one for all.
    with_tests = Ledger.read(source)
    with_tests.tests.append(L.TestFileRecord("tests/test_a.py", 7.25, passed=3))
    with_tests.write(source)
    assert main(["ledger", "durations", str(source), "-o", str(out)]) == 0
    assert json.loads(out.read_text()) == {
        "a.md": 10.0, "tasks/b.md": 10.0, "tests/test_a.py": 7.2
    }  # fmt: skip
    assert "1 test files, 7.2 s" in capsys.readouterr().out
    # A run of the tests alone refreshes the test files and keeps the pages.
    tests_only = Ledger.start(RunInfo(date=DATE))
    tests_only.tests.append(L.TestFileRecord("tests/test_b.py", 3.0, passed=1))
    tests_only.write(source)
    assert main(["ledger", "durations", str(source), "-o", str(out)]) == 0
    assert json.loads(out.read_text()) == {"a.md": 10.0, "tasks/b.md": 10.0, "tests/test_b.py": 3.0}


def test_status_lists_the_pages_the_latest_ledger_does_not_vouch_for(
    docs: Path, pages, own_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--docs", str(docs)]) == 0
    text = capsys.readouterr().out
    assert "does not exist: no page is verified" in text
    assert "0 verified, 0 changed since, 3 not verified, 0 failing" in text

    ledger = shard(1, 1, pages["setup.md"], pages["tasks/b.md"])
    record(ledger, pages["a.md"], "failed")
    latest = ledger.write_latest(L.latest_path(docs))
    assert latest.parent.parent == own_cache / "ledger" and latest.name == "latest.json"
    assert L.latest_path(docs.parent / "other" / "docs") != latest  # another project's
    (docs / "setup.md").write_text(SETUP + "\nEdited.\n")
    (docs / "new.md").write_text("# New\n\n```bash\necho new\n```\n")
    assert main(["status", "--docs", str(docs)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"ledger: {latest} (1 runs")
    assert [line.split()[:3] for line in lines[1:-1]] == [
        ["failing", "a.md", "blocks"],
        ["changed", "since", "setup.md"],
        ["not", "verified", "new.md"],
    ]
    assert "blocks at lines 6, 10 failed (2026-12-02, commit abc1234)" in lines[1]
    assert lines[-1] == (
        "4 pages with blocks to run: 1 verified, 1 changed since, 1 not verified, 1 failing"
    )
    assert main(["status", "--docs", str(docs), "--check"]) == 1
    capsys.readouterr()
    assert main(["status", "--docs", str(docs), "--all"]) == 0
    assert "verified       tasks/b.md" in capsys.readouterr().out


def test_status_reads_the_ledger_it_is_given(
    tmp_path: Path, docs: Path, pages, capsys: pytest.CaptureFixture[str]
) -> None:
    every = shard(1, 1, *(p for p in pages.values() if p.executable)).write(tmp_path / "l.json")
    assert main(["status", "--docs", str(docs), "--ledger", str(every), "--check"]) == 0
    assert "3 verified" in capsys.readouterr().out
    (tmp_path / "bad.json").write_text("nope")
    assert main(["status", "--docs", str(docs), "--ledger", str(tmp_path / "bad.json")]) == 2


# -- the API on a real run of the plugin ---------------------------------------------

pytest_plugins = ["pytester"]

WIRED = """
import pytest
from pathlib import Path

from k8snotes.cluster.base import ClusterInfo
from k8snotes.ledger import Ledger, RunInfo, block_properties, current_pages

LEDGER = Ledger.start(RunInfo(date="2026-12-02T10:11:12+00:00", shard="1/1"))


@pytest.fixture(scope="session")
def k8s_cluster():
    return ClusterInfo("fake", "fake", "", "", [], False)


def pytest_runtest_setup(item):
    if hasattr(item, "block"):  # what the plugin's BlockItem would add, before its set-up
        docs = Path(str(item.config.rootpath)) / "docs"
        page = Path(item.path).relative_to(docs).as_posix()
        digest = current_pages(docs)[page].hash
        item.user_properties.append(("page", page))
        item.user_properties += block_properties(item.block, item.output_block, page_hash=digest)


def pytest_runtest_logreport(report):  # on the controller, from every worker
    LEDGER.record_report(report)


def pytest_sessionfinish(session):
    if not hasattr(session.config, "workerinput"):
        LEDGER.write(Path(str(session.config.rootpath)) / "ledger.json")
"""

WIRED_PAGE = (
    "# P\n\n```bash\necho one\n```\n\n```bash\necho two\n```\n\n"
    "<!-- k8snotes: output -->\n```\ntwo\n```\n\n"
    '<!-- k8snotes: skip="demo" -->\n```bash\necho never\n```\n\n'
    "```bash\nexit 3\n```\n"
)


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_the_api_records_a_real_run_of_the_plugin(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    pytester.makeconftest(WIRED)
    pytester.makeini("[pytest]\nk8snotes = true\nk8snotes_docs = docs\n")
    (pytester.path / "docs").mkdir()
    (pytester.path / "docs" / "page.md").write_text(WIRED_PAGE)
    pytester.runpytest("-p", "no:cacheprovider", *workers).assert_outcomes(
        passed=2, failed=1, skipped=1
    )
    ledger = Ledger.read(pytester.path / "ledger.json")
    assert [(b.line, b.outcome, b.reason) for b in ledger.blocks] == [
        (3, "passed", ""),
        (7, "passed", ""),
        (12, "shown", L.OUTPUT_REASON),
        (17, "shown", "demo"),
        (21, "failed", "docs/page.md:21: bash block failed"),
    ]
    (page,) = ledger.pages
    assert page.page == "page.md" and page.seconds > 0
    assert page.leak_check == "not run"  # the plugin would say, on the teardown report
    pages = L.current_pages(pytester.path / "docs")
    assert page.hash == pages["page.md"].hash
    assert L.check_cover(ledger, pages) == [
        "page.md:21: failed in shard 1/1: docs/page.md:21: bash block failed"
    ]
