"""CI shards: every block in exactly one job (a set-up page in each job that needs it), the same
split in every job whatever its cache holds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from k8snotes.needs import Needs

pytest_plugins = ["pytester"]

FAKE_CLUSTER = """
import pytest

from k8snotes.cluster.base import ClusterInfo


@pytest.fixture(scope="session")
def k8s_cluster():
    return ClusterInfo("fake", "fake", "", "", [], False)
"""

PAGES = {
    "setup.md": [],
    "a.md": ["setup.md"],
    "b.md": ["setup.md"],
    "c.md": ["setup.md"],
    "d.md": ["setup.md"],
    "t1.md": [],
    "t2.md": ["t1.md"],
    "lone.md": [],
}
SECONDS = {"setup.md": 10, "a.md": 60, "b.md": 50, "c.md": 40, "d.md": 30, "t1.md": 30,
           "t2.md": 40, "lone.md": 10, "test_unit.py": 20, "test_more.py": 15,
           "test_last.py": 5}  # fmt: skip
TEST_FILES = ("test_unit.py", "test_more.py", "test_last.py")


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(FAKE_CLUSTER)
    pytester.makeini(
        "[pytest]\nk8snotes = true\nk8snotes_docs = docs\nk8snotes_durations = durations.json\n"
    )
    (pytester.path / "durations.json").write_text(json.dumps(SECONDS))
    docs = pytester.path / "docs"
    docs.mkdir()
    for name, needs in PAGES.items():
        front = f"---\nneeds: {json.dumps(needs)}\n---\n\n" if needs else ""
        (docs / name).write_text(
            front + f"# {name}\n\n```bash\necho one\n```\n\n```bash\necho two\n```\n"
        )
    pytester.makepyfile(
        **{f.removesuffix(".py"): "def test_one():\n    pass\n\n\ndef test_two():\n    pass\n"
           for f in TEST_FILES}
    )  # fmt: skip
    return pytester


def collected(project: pytest.Pytester, shard: str, cache: Path) -> list[str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("K8SNOTES_CACHE", str(cache))
        result = project.runpytest_subprocess(
            "--collect-only", "-q", "-p", "no:cacheprovider", f"--k8snotes-shard={shard}"
        )
    return [line for line in result.outlines if "::" in line]


def test_three_jobs_with_different_caches_cover_every_block_once(
    project: pytest.Pytester, tmp_path: Path
) -> None:
    jobs = []
    for k in (1, 2, 3):
        cache = tmp_path / f"cache-{k}"
        cache.mkdir()
        # Each job's cache says something different: the split must not read it.
        (cache / "page-durations.json").write_text(json.dumps({"a.md": 1000 * k}))
        jobs.append(collected(project, f"{k}/3", cache))
    every = collected(project, "1/1", tmp_path / "cache-all")
    blocks = [i for i in every if i.startswith("docs/")]
    assert len(blocks) == 2 * len(PAGES)
    seen = [i for job in jobs for i in job]
    setup_copies = [i for i in seen if i.startswith("docs/setup.md")]
    others = [i for i in seen if not i.startswith("docs/setup.md")]
    assert sorted(others) == sorted(i for i in every if not i.startswith("docs/setup.md"))
    pages_of = [{re.sub(r"::.*", "", i) for i in job if i.startswith("docs/")} for job in jobs]
    for pages in pages_of:  # the set-up page runs in each job that runs a page needing it
        needing = {f"docs/{p}" for p, n in PAGES.items() if "setup.md" in n}
        assert ("docs/setup.md" in pages) == bool(pages & needing)
    assert len(setup_copies) == 2 * sum("docs/setup.md" in pages for pages in pages_of)
    assert sum("docs/setup.md" in pages for pages in pages_of) >= 2  # concept pages spread
    tests = [[i for i in job if not i.startswith("docs/")] for job in jobs]
    assert sorted(i for job in tests for i in job) == sorted(  # each test file in one job
        f"{f}::test_{n}" for f in TEST_FILES for n in ("one", "two")
    )
    assert sum(bool(job) for job in tests) >= 2  # the other tests spread too


def test_the_heaviest_shard_holds_at_most_115_percent_of_an_even_share() -> None:
    needs = Needs({**PAGES, **{f: [] for f in TEST_FILES}})
    plan = needs.spread(SECONDS, 3)
    loads = [sum(SECONDS[p] for p, where in plan.items() if k in where) for k in (1, 2, 3)]
    even = (sum(SECONDS.values())) / 3
    assert max(loads) <= 1.15 * even, loads


def test_a_pull_request_runs_only_what_changed_since_the_main_ledger(
    project: pytest.Pytester, tmp_path: Path
) -> None:
    """The main branch's ledger vouches for the pages it verified as they are now."""
    from k8snotes import versions

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("K8SNOTES_CACHE", str(tmp_path / "cache"))
        main = tmp_path / "main.json"
        project.runpytest_subprocess(
            "-p", "no:cacheprovider", f"--k8snotes-ledger={main}"
        ).assert_outcomes(passed=2 * len(PAGES) + 2 * len(TEST_FILES))
        data = json.loads(main.read_text())
        # A real main run records these (kind, in reader mode); the fake cluster cannot.
        for run in data["runs"]:
            run.update(kubernetes=versions.KUBERNETES, kind=versions.KIND)
        for page in data["pages"]:
            page["leak_check"] = "passed"
        main.write_text(json.dumps(data))
        docs = project.path / "docs"
        (docs / "c.md").write_text((docs / "c.md").read_text() + "\nA new sentence.\n")
        result = project.runpytest_subprocess(
            "-p", "no:cacheprovider", f"--k8snotes-verified-by={main}", "-n", "0"
        )
    # c.md changed; in namespace mode nothing else is needed (reader mode adds its needs).
    result.assert_outcomes(passed=2 + 2 * len(TEST_FILES))
    result.stdout.fnmatch_lines(
        ["*pages not run, verified as they are by --k8snotes-verified-by: 7*",
         "  a.md: verified at commit *"]
    )  # fmt: skip


def test_the_ledgers_of_three_shards_merge_with_a_set_up_page_run_in_each(
    project: pytest.Pytester, tmp_path: Path
) -> None:
    """A set-up page runs in each shard that needs it: once as its own, elsewhere as a copy."""
    from k8snotes.cli import main as cli

    ledgers = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("K8SNOTES_CACHE", str(tmp_path / "cache"))
        for k in (1, 2, 3):
            ledgers.append(tmp_path / f"ledger-{k}.json")
            ran = project.runpytest_subprocess(
                "-p",
                "no:cacheprovider",
                f"--k8snotes-shard={k}/3",
                f"--k8snotes-ledger={ledgers[-1]}",
            )
            assert ran.ret == 0
    merged = tmp_path / "merged.json"
    assert cli(["ledger", "merge", *map(str, ledgers), "--docs", str(project.path / "docs"),
                "-o", str(merged)]) == 0  # fmt: skip
    setup_runs = sorted(
        (p["run"], p["copy"]) for p in json.loads(merged.read_text())["pages"]
        if p["page"] == "setup.md"
    )  # fmt: skip
    assert len(setup_runs) >= 2 and [c for _, c in setup_runs].count(None) == 1


def test_a_pull_requests_shards_split_what_is_left_to_run(
    project: pytest.Pytester, tmp_path: Path
) -> None:
    """Shards split the pages left after --k8snotes-verified-by, and the test files with them.

    Reader mode: c.md changed, so c.md and the set-up page it needs run, once, in one
    shard (no copy of the set-up page where no page needs it); the test files spread.
    """
    from k8snotes import versions
    from k8snotes.changes import runner_digest
    from k8snotes.ledger import Ledger, RunInfo, current_pages

    main = Ledger.start(RunInfo(date="2026-12-02T10:11:12+00:00", commit="abc1234",
                                kubernetes=versions.KUBERNETES, kind=versions.KIND,
                                runner=runner_digest()))  # fmt: skip
    for name, page in current_pages(project.path / "docs").items():
        for block in page.executable:
            main.record_block(name, block.line, block.hash, "passed", 1.0)
        main.record_page(name, page_hash=page.hash, seconds=2.0, leak_check="passed")
    main.write(tmp_path / "main.json")
    docs = project.path / "docs"
    (docs / "c.md").write_text((docs / "c.md").read_text() + "\nA new sentence.\n")
    jobs = []
    for k in (1, 2, 3):
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("K8SNOTES_CACHE", str(tmp_path / "cache"))
            result = project.runpytest_subprocess(
                "--collect-only", "-q", "-p", "no:cacheprovider", f"--k8snotes-shard={k}/3",
                f"--k8snotes-verified-by={tmp_path / 'main.json'}", "-o",
                "k8snotes_reader_mode=true", "--k8snotes-backend=kind",
            )  # fmt: skip
        jobs.append([line for line in result.outlines if "::" in line])
    pages = [sorted({re.sub(r"::.*", "", i) for i in job if i.startswith("docs/")}) for job in jobs]
    assert sorted(p for job in pages for p in job) == ["docs/c.md", "docs/setup.md"]
    assert ["docs/c.md", "docs/setup.md"] in pages
    tests = sorted(i for job in jobs for i in job if not i.startswith("docs/"))
    assert tests == sorted(f"{f}::test_{n}" for f in TEST_FILES for n in ("one", "two"))
