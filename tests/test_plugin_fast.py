"""The plugin itself, on a fake cluster (no Kubernetes, no Docker): seconds, not minutes.

A project's ``conftest.py`` overrides the ``k8s_cluster`` fixture with a
``ClusterInfo`` that has no kubeconfig: pages run their shell blocks with
nothing to talk to, which is all these tests need (collection, plan, failure
reports, state across blocks, background, timeouts, clean-up after failure).
"""

from __future__ import annotations

import time

import pytest

pytest_plugins = ["pytester"]

FAKE_CLUSTER = """
import pytest

from k8snotes.cluster.base import ClusterInfo


@pytest.fixture(scope="session")
def k8s_cluster():
    return ClusterInfo("fake", "fake", "", "", [], False)
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(FAKE_CLUSTER)
    pytester.makeini("[pytest]\nk8snotes = true\nk8snotes_docs = docs\n")
    (pytester.path / "docs").mkdir()
    return pytester


def page(project: pytest.Pytester, text: str) -> None:
    (project.path / "docs" / "page.md").write_text(text)


def test_variables_aliases_and_options_carry_from_block_to_block(project: pytest.Pytester) -> None:
    page(
        project,
        "# P\n\n```bash\nNAME=ada\nalias greet='echo hello'\nset -o pipefail\ncd /tmp\n```\n\n"
        '```console\n$ greet "$NAME" from "$PWD"\nhello ada from /tmp\n'
        "$ false | true || echo the pipeline failed\nthe pipeline failed\n```\n",
    )
    project.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_a_failure_reports_page_line_command_exit_and_output(project: pytest.Pytester) -> None:
    page(project, "# P\n\nText.\n\n```bash\necho about to fail\nexit 3\n```\n")
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "docs/page.md:5: bash block failed",
            "command:",
            "    echo about to fail",
            "exit code: 3 (expected 0)",
            "output:",
            "    about to fail",
        ]
    )


def test_wrong_output_shows_the_page_line_of_the_expected_output(project: pytest.Pytester) -> None:
    page(project, "# P\n\n```console\n$ printf 'a\\nb\\n'\na\nc\n```\n")
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*page line 5: a*", "*page line 6: c*", "-c", "+b"])


def test_clean_up_runs_after_a_failure_and_later_blocks_are_skipped(
    project: pytest.Pytester,
) -> None:
    page(
        project,
        "# P\n\n```bash\ntouch /tmp/k8snotes-fast-$PPID\nfalse\n```\n\n"
        "```bash\necho never\n```\n\n## Clean up\n\n```bash\necho cleaned\n```\n",
    )
    result = project.runpytest("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(failed=1, skipped=1, passed=1)
    result.stdout.fnmatch_lines(["*an earlier block of this page failed (docs/page.md:3)*"])


def test_a_timeout_is_a_bound_even_for_a_process_that_left_the_group(
    project: pytest.Pytester,
) -> None:
    page(
        project,
        "# P\n\n<!-- k8snotes: timeout=1 -->\n```bash\nsetsid sleep 30 &\nsleep 30\n```\n",
    )
    start = time.monotonic()
    result = project.runpytest("-p", "no:cacheprovider")
    assert time.monotonic() - start < 15
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["exit code: none: timed out, process group killed"])


def test_a_background_block_keeps_running_and_never_writes_the_state(
    project: pytest.Pytester,
) -> None:
    page(
        project,
        "# P\n\n```bash\nX=before\n```\n\n<!-- k8snotes: background -->\n"
        "```bash\nsleep 0.2; X=from-background\n```\n\n"
        "```bash\nsleep 1; X=after\n```\n\n```console\n$ echo $X\nafter\n```\n",
    )
    project.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=4)


def test_skips_are_counted_by_reason_and_unknown_keys_are_collection_errors(
    project: pytest.Pytester,
) -> None:
    page(
        project,
        '# P\n\n<!-- k8snotes: skip="needs the internet" -->\n```bash\ncurl https://example.org\n```\n\n'
        "<!-- k8snotes: requires=pods -->\n```bash\nkubectl logs x\n```\n",
    )
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(
        ["*1 x needs the internet*", "*1 x needs pods: not available on backend fake*"]
    )
    page(project, "# P\n\n<!-- k8snotes: retries=3 -->\n```bash\ntrue\n```\n")
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*docs/page.md:3*retries*"])


def test_each_block_records_the_seconds_its_commands_ran(project: pytest.Pytester) -> None:
    """What ``benchmarks/suite.py`` divides by: the commands' own time, per block, in the junit."""
    import xml.etree.ElementTree as ET

    page(project, "# P\n\n```bash\nsleep 0.6\n```\n\n```console\n$ echo hi\nhi\n```\n")
    project.runpytest("-p", "no:cacheprovider", "--junitxml=out.xml").assert_outcomes(passed=2)
    cases = ET.parse(project.path / "out.xml").getroot().iter("testcase")
    ran = [
        {p.get("name"): p.get("value") for p in case.iter("property")}["command_seconds"]
        for case in cases
    ]
    assert len(ran) == 2
    assert 0.6 <= float(ran[0]) < 5  # the sleep, and bash around it
    assert 0 < float(ran[1]) < float(ran[0])


def test_an_unexpected_error_in_a_block_stops_the_page_and_its_clean_up_runs(
    project: pytest.Pytester,
) -> None:
    """Fail closed: not only a BlockFailure leaves the page in a state its next block cannot trust."""
    project.makeconftest(FAKE_CLUSTER + RUNNER_BUG)
    page(
        project,
        "# P\n\n```bash\necho first\n```\n\n```bash\necho second\n```\n\n"
        "## Clean up\n\n```bash\necho cleaned\n```\n",
    )
    result = project.runpytest("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(failed=1, skipped=1, passed=1)
    result.stdout.fnmatch_lines(["*RuntimeError: a bug in the runner*"])
    result.stdout.fnmatch_lines(["*an earlier block of this page failed (docs/page.md:3)*"])


RUNNER_BUG = """
from k8snotes.runner import session

_check = session.PageSession._check


calls = []


@pytest.fixture(autouse=True)
def runner_bug(monkeypatch):
    def check_once_broken(self, *args):
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("a bug in the runner")
        return _check(self, *args)

    monkeypatch.setattr(session.PageSession, "_check", check_once_broken)
"""


BROKEN_BRING_UP = """
import pytest

from k8snotes.cluster.base import ClusterInfo
from k8snotes.runner import session


@pytest.fixture(scope="session")
def k8s_cluster():
    return ClusterInfo("fake", "fake", "", "", [], False)


def _no_session(*args, **kwargs):
    raise RuntimeError("the page's namespace could not be made")


@pytest.fixture(autouse=True)
def broken(monkeypatch):
    monkeypatch.setattr(session.PageSession, "__init__", _no_session)
"""


def test_a_page_whose_session_cannot_open_is_an_error_of_its_blocks_not_a_failure(
    project: pytest.Pytester,
) -> None:
    """A bring-up that fails is reported in the set-up phase, once per block, never retried."""
    project.makeconftest(BROKEN_BRING_UP)
    page(project, "# P\n\n```bash\necho one\n```\n\n```bash\necho two\n```\n")
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of docs/page.md:3 [[]bash[]]*",
            "docs/page.md: the page could not be set up: RuntimeError: "
            "the page's namespace could not be made",
            "*ERROR at setup of docs/page.md:7 [[]bash[]]*",
            "docs/page.md: the page could not be set up: RuntimeError: "
            "the page's namespace could not be made",
        ]
    )
