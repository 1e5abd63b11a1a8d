"""The plugin as another project meets it: opt-in, no mkdocs.yml needed, errors at collection.

pytester runs pytest in a fresh folder, in a subprocess, with the installed plugin.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

PAGE = "# Page\n\n```bash\necho hello\n```\n"


def _project(pytester: pytest.Pytester, ini: str = "") -> None:
    pytester.makefile(".md", **{"docs/page": PAGE})
    # The unrelated project's own test: it checks its docs page exists, nothing of ours.
    pytester.makepyfile(
        test_one="from pathlib import Path\n\n"
        "def test_one():\n    assert Path('docs/page.md').read_text().startswith('# Page')\n"
    )
    if ini:
        pytester.makeini(ini)


def test_installed_plugin_collects_nothing_unless_asked(pytester: pytest.Pytester) -> None:
    _project(pytester)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--collect-only", "-q", ".")
    result.stdout.fnmatch_lines(["test_one.py::test_one", "1 test collected*"])
    assert "page.md" not in result.stdout.str()


def test_no_mkdocs_yml_is_fine_when_opted_in(pytester: pytest.Pytester) -> None:
    _project(pytester)
    pytester.makefile(".yaml", **{"snippets/pod": "apiVersion: v1\nkind: Pod\n"})
    pytester.makefile(
        ".md",
        **{"docs/include": "# I\n\n```bash\ncat <<'EOF'\n--8<-- \"snippets/pod.yaml\"\nEOF\n```\n"},
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--k8snotes", "--collect-only", "-q", "docs"
    )
    result.stdout.fnmatch_lines(["docs/include.md::line-3-bash", "docs/page.md::line-3-bash"])
    assert result.ret == 0


def test_ini_opt_in_with_another_docs_folder(pytester: pytest.Pytester) -> None:
    pytester.makefile(".md", **{"guide/intro": PAGE})
    pytester.makeini("[pytest]\nk8snotes = true\nk8snotes_docs = guide\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["guide/intro.md::line-3-bash"])


@pytest.mark.parametrize(
    ("page", "message"),
    [
        (
            "# P\n\n<!-- k8snotes: requires=pod -->\n```bash\nkubectl get pods\n```\n",
            "*docs/bad.md:4: unknown requires= value pod (known: api, docker, ingress, kind,*",
        ),
        (
            "# P\n\n```console\n$ echo hi\nhi\n```\n\n<!-- k8snotes: output -->\n```text\nhi\n```\n",
            "*docs/bad.md:9: output block after a console block*",
        ),
        (
            "# P\n\n<!-- k8snotes: retries=3 -->\n```bash\nls\n```\n",
            "*docs/bad.md:3: unknown metadata key 'retries'*",
        ),
    ],
)
def test_page_errors_are_collection_errors_with_file_and_line(
    pytester: pytest.Pytester, page: str, message: str
) -> None:
    pytester.makefile(".md", **{"docs/bad": page})
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--k8snotes", "docs")
    result.stdout.fnmatch_lines([message])
    assert result.ret != 0


def test_a_run_asked_for_k8snotes_that_is_not_enabled_stops(
    pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A ledger path outside the project, given as a separate word, moves pytest's rootdir.

    pytest picks its rootdir from the arguments before plugins add their options, so
    ``--k8snotes-verified-by /elsewhere/ledger.json`` made ``/elsewhere``'s parent the
    rootdir: no ini, k8snotes not enabled, and a run that looked like a pull request's
    ran no page (it happened here). Such a run now stops and says why.
    """
    pytester.makeini("[pytest]\nk8snotes = true\n")
    (pytester.path / "docs").mkdir()
    (pytester.path / "docs" / "page.md").write_text("# P\n\n```bash\necho hi\n```\n")
    ledger = tmp_path_factory.mktemp("elsewhere") / "ledger.json"
    ledger.write_text("{}")  # an earlier run's file, to be written over
    moved = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--k8snotes-ledger", str(ledger)
    )
    assert moved.ret == pytest.ExitCode.USAGE_ERROR
    moved.stderr.fnmatch_lines(
        ["*--k8snotes-ledger given, but k8snotes is not enabled for rootdir*"]
    )
    kept = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--collect-only", "-q", f"--k8snotes-ledger={ledger}"
    )
    assert kept.ret == pytest.ExitCode.OK, kept.stdout.str()
    kept.stdout.fnmatch_lines(["docs/page.md::line-3-bash"])
