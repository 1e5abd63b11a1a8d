"""The runner against a real cluster (kwok): broken pages fail at the right line, nothing is left."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from k8snotes.cluster.kwok import KwokBackend
from k8snotes.evaluators import registry
from tests.conftest import MKDOCS_YML

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def kwok() -> Iterator[KwokBackend]:
    """The kwok cluster the inner runs share: reused if up, else started and stopped here."""
    backend = KwokBackend()
    started = not backend.is_up()
    if started:
        backend.up()
    yield backend
    if started:
        backend.down()


def run_page(
    tmp_path: Path,
    text: str,
    files: dict[str, str] | None = None,
    *extra: str,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run one page through pytest in a project of its own, as `pytest docs/page.md` would."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "mkdocs.yml").write_text(MKDOCS_YML)
    (tmp_path / "docs").mkdir(exist_ok=True)
    (tmp_path / "docs" / "page.md").write_text(text)
    for name, content in (files or {}).items():
        path = tmp_path / "snippets" / "page" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    env = {**os.environ, **(env or {}), "K8SNOTES_RUN_ID": f"inner-{uuid.uuid4().hex[:6]}"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "docs/page.md",
            "--rootdir",
            str(tmp_path),
            "-c",
            "/dev/null",
            "-p",
            "no:cacheprovider",
            "--k8snotes",
            "--k8snotes-backend",
            "kwok",
            "-v",
            "-ra",
            *extra,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_passing_page_counts_blocks_and_skips_by_reason(kwok: KwokBackend, tmp_path: Path) -> None:
    page = (
        "# P\n\n"
        "```bash\nkubectl create configmap demo --from-literal=a=1\n```\n\n"
        "```console\n$ kubectl get configmap demo -o jsonpath='{.data.a}'\n1\n```\n\n"
        '<!-- k8snotes: skip="needs the internet" -->\n```bash\ncurl https://example.org\n```\n\n'
        "<!-- k8snotes: requires=pods -->\n```bash\nkubectl logs demo\n```\n"
    )
    proc = run_page(tmp_path, page)
    assert proc.returncode == 0, proc.stdout
    assert "blocks executed: 2 (2 passed on kwok)" in proc.stdout
    assert "1 x needs the internet" in proc.stdout
    assert "1 x needs pods: not available on backend kwok" in proc.stdout
    assert "SKIPPED [1] docs/page.md:13: needs the internet" in proc.stdout


def test_broken_command_reports_page_line_command_exit_and_output(
    kwok: KwokBackend, tmp_path: Path
) -> None:
    proc = run_page(
        tmp_path, "# P\n\nText.\n\n```bash\nkubectl get configmap does-not-exist\n```\n"
    )
    assert proc.returncode == 1
    out = proc.stdout
    assert "docs/page.md:5: bash block failed" in out
    assert "kubectl get configmap does-not-exist" in out
    assert "exit code: 1 (expected 0)" in out
    assert 'configmaps "does-not-exist" not found' in out


def test_broken_manifest_fails_schema_validation(kwok: KwokBackend, tmp_path: Path) -> None:
    manifest = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: web\n    image: x\n    livenessProbe:\n      httpGet:\n        path: /\n        port: 80\n        periodSeconds: 10\n"
    page = '# P\n\n```yaml\n--8<-- "page/pod.yaml"\n```\n'
    proc = run_page(tmp_path, page, {"pod.yaml": manifest})
    assert proc.returncode == 1
    assert "docs/page.md:3: manifest does not match the v1.37 schema" in proc.stdout
    assert "periodSeconds" in proc.stdout


def test_broken_output_shows_a_diff_with_page_lines(kwok: KwokBackend, tmp_path: Path) -> None:
    page = "# P\n\n```console\n$ kubectl create configmap demo\nconfigmap/demo configured\n```\n"
    proc = run_page(tmp_path, page)
    assert proc.returncode == 1
    assert "page line 5: configmap/demo configured" in proc.stdout
    assert "+configmap/demo created" in proc.stdout


def test_hung_block_fails_in_bounded_time_and_leaves_no_process(
    kwok: KwokBackend, tmp_path: Path
) -> None:
    seconds = 300 + uuid.uuid4().int % 600  # a number no other process sleeps for
    page = f"# P\n\n<!-- k8snotes: timeout=2 -->\n```bash\nsleep {seconds} & sleep {seconds}\n```\n"
    start = time.monotonic()
    proc = run_page(tmp_path, page)
    assert time.monotonic() - start < 60
    assert proc.returncode == 1
    assert "docs/page.md:4" in proc.stdout and "timed out, process group killed" in proc.stdout
    left = subprocess.run(["pgrep", "-f", f"sleep {seconds}"], capture_output=True, text=True)
    assert left.stdout == ""


def test_background_block_is_waited_for_and_stopped(kwok: KwokBackend, tmp_path: Path) -> None:
    port = 20000 + int(uuid.uuid4().hex[:4], 16) % 20000
    page = (
        f"# P\n\n<!-- k8snotes: background port={port} -->\n"
        f"```bash\npython3 -m http.server {port} --bind 127.0.0.1\n```\n\n"
        f"```bash\ncurl -sf -o /dev/null http://127.0.0.1:{port}/\n```\n"
    )
    proc = run_page(tmp_path, page)
    assert proc.returncode == 0, proc.stdout
    left = subprocess.run(["pgrep", "-f", f"http.server {port}"], capture_output=True, text=True)
    assert left.stdout == ""


def test_page_namespace_and_files_are_removed(kwok: KwokBackend, tmp_path: Path) -> None:
    seen = tmp_path / "seen"  # outside the page's folder, which must go
    page = (
        "# P\n\n```bash\n"
        f'kubectl get namespace "$K8SNOTES_NAMESPACE" -o name > {seen}\n'
        f'echo "$PWD" >> {seen}; echo "$KUBECONFIG" >> {seen}\n'
        "```\n"
    )
    proc = run_page(tmp_path, page)
    assert proc.returncode == 0, proc.stdout
    # What the page saw: a namespace and a folder of its own (so there is something to check).
    ns, workdir, kubeconfig = seen.read_text().splitlines()
    assert ns.startswith("namespace/page-"), ns
    assert Path(kubeconfig).parent == Path(workdir).parent
    assert Path(workdir).parent.name.startswith("k8snotes-page-")
    # Deletion does not wait: the namespace is gone or on its way, never still Active.
    left = subprocess.run(
        [
            "kubectl",
            "get",
            ns,
            "--ignore-not-found",
            "-o",
            "jsonpath={.metadata.labels.k8snotes\\.dev/page} {.status.phase}",
        ],
        env=kwok.env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert left in ("", "page Terminating"), left
    assert not Path(workdir).parent.exists(), "the page's folder is left"


def test_interactive_command_without_stdin_is_refused(kwok: KwokBackend, tmp_path: Path) -> None:
    proc = run_page(tmp_path, "# P\n\n```bash\nkubectl exec -it web -- bash\n```\n")
    assert proc.returncode == 1
    assert "interactive command needs stdin=" in proc.stdout


def test_unknown_metadata_is_a_collection_error(kwok: KwokBackend, tmp_path: Path) -> None:
    proc = run_page(tmp_path, "# P\n\n<!-- k8snotes: retries=3 -->\n```bash\nls\n```\n")
    assert proc.returncode != 0
    assert "docs/page.md:3: unknown metadata key 'retries'" in proc.stdout


def test_existing_backend_uses_a_copy_of_the_named_context(
    kwok: KwokBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from k8snotes.cluster.existing import ExistingBackend

    monkeypatch.setenv("KUBECONFIG", str(kwok.kubeconfig))
    original = kwok.kubeconfig.read_text()
    kube_home = Path.home() / ".kube"
    before = sorted(str(p) for p in kube_home.rglob("*")) if kube_home.exists() else None
    backend = ExistingBackend("kwok-k8snotes", state=tmp_path)
    info = backend.up()
    assert backend.is_up() and info.kubeconfig != str(kwok.kubeconfig)
    backend.down()
    assert not backend.kubeconfig.exists()
    assert kwok.is_up() and kwok.kubeconfig.read_text() == original
    after = sorted(str(p) for p in kube_home.rglob("*")) if kube_home.exists() else None
    assert after == before, "something wrote under ~/.kube"


# -- evaluators: a language added by an entry point runs like the built-in ones --------
# (here, not in a module of their own: they share this module's kwok cluster)

GREETING = textwrap.dedent(
    '''
    """A made-up language: each line is a name the shell greets."""
    from k8snotes.evaluators.base import Step


    class Greeting:
        languages = frozenset({"greeting"})

        def evaluate(self, block, context):
            for offset, name in enumerate(block.text.splitlines()):
                yield Step(context.run(f"echo hello {name}"), f"hello {name}", block.line + 1 + offset)
    '''
)


def install_package(site: Path, module: str, source: str, group: str, entry: str) -> dict[str, str]:
    """A one-module package in ``site`` with one entry point (no pip: a dist-info on PYTHONPATH).

    ``entry`` is ``NAME = module:Object`` under ``[group]``.
    """
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(source)
    dist = site / f"{module}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{group}]\n{entry}\n")
    return {"PYTHONPATH": str(site)}


def install_fake_package(site: Path) -> dict[str, str]:
    """A package ``greeting_lang`` whose entry point adds the ``greeting`` language."""
    return install_package(
        site, "greeting_lang", GREETING, "k8snotes.evaluators", "greeting = greeting_lang:Greeting"
    )


def test_an_entry_point_adds_a_language(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_fake_package(tmp_path / "site")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    registry._installed.cache_clear()
    try:
        assert type(registry.evaluator_for("greeting")).__name__ == "Greeting"
        assert "greeting" in registry.languages()
    finally:
        monkeypatch.undo()
        registry._installed.cache_clear()
    assert registry.evaluator_for("greeting") is None  # gone with its package


def test_an_added_language_runs_and_fails_at_its_line(kwok: KwokBackend, tmp_path: Path) -> None:
    env = install_fake_package(tmp_path / "site")
    page = "# P\n\n```greeting\nada\ngrace\n```\n"
    proc = run_page(tmp_path / "ok", page, env=env)
    assert proc.returncode == 0, proc.stdout
    assert "blocks executed: 1 (1 passed on kwok)" in proc.stdout

    # An evaluator's step is checked by the session: a wrong expected output fails at its line.
    broken = GREETING.replace('f"hello {name}", block', 'f"bye {name}", block')
    (tmp_path / "site" / "greeting_lang.py").write_text(broken)
    proc = run_page(tmp_path / "broken", page, env=env)
    assert proc.returncode == 1
    assert "docs/page.md:3: greeting block failed" in proc.stdout
    assert "echo hello ada" in proc.stdout
    assert "page line 4: bye ada" in proc.stdout  # the expected output, at its line


def test_exit_applies_to_yaml_blocks(kwok: KwokBackend, tmp_path: Path) -> None:
    """A manifest the API server refuses, marked ``exit=1``, passes; unmarked, it fails."""
    refused = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Not_A_Valid_Name\ndata:\n  a: '1'\n"
    )
    page = f"# P\n\n<!-- k8snotes: exit=1 -->\n```yaml\n{refused}```\n"
    proc = run_page(tmp_path / "marked", page)
    assert proc.returncode == 0, proc.stdout
    proc = run_page(tmp_path / "unmarked", f"# P\n\n```yaml\n{refused}```\n")
    assert proc.returncode == 1
    assert "exit code: 1 (expected 0)" in proc.stdout
    assert "Not_A_Valid_Name" in proc.stdout


def test_a_language_nothing_runs_is_a_failure_with_a_hint(
    kwok: KwokBackend, tmp_path: Path
) -> None:
    proc = run_page(tmp_path, "# P\n\n```toml\na = 1\n```\n")
    assert proc.returncode == 1
    assert (
        'docs/page.md:3: no runner for a toml block: run it, or give it skip="reason"'
        in proc.stdout
    )


def test_update_writes_the_real_output_and_keeps_matching_placeholders(
    kwok: KwokBackend, tmp_path: Path
) -> None:
    page = (
        "# P\n\n"
        "```bash\nkubectl create configmap demo --from-literal=a=1 --from-literal=b=2\n```\n\n"
        "```console\n"
        "$ kubectl get configmap demo\n"
        "NAME   DATA   AGE\n"
        "demo   5      <AGE>\n"
        "$ kubectl get configmap demo -o jsonpath='{.data.a}{\"\\n\"}'\n"
        "1\n"
        "```\n\n"
        "## Clean up\n\n```bash\nkubectl delete configmap demo\n```\n"
    )
    proc = run_page(tmp_path, page, None, "--k8snotes-update")
    assert proc.returncode == 0, proc.stdout
    assert "--k8snotes-update: docs/page.md:9: output updated" in proc.stdout.replace(
        str(tmp_path) + "/", ""
    )
    updated = (tmp_path / "docs" / "page.md").read_text()
    # The wrong line took the real figure; the matching header and <AGE> stayed as written.
    assert updated == page.replace("demo   5      <AGE>", "demo   2      <AGE>")
    proc = run_page(tmp_path, updated)  # and the updated page passes as it is
    assert proc.returncode == 0, proc.stdout


# -- backends: one class registered under k8snotes.backends; capabilities are probed --

BORROWED = textwrap.dedent(
    '''
    """A backend of another package: it borrows the kwok cluster that is already up."""
    import shutil

    from k8snotes.cluster.base import Backend
    from k8snotes.cluster.kwok import KwokBackend


    class Borrowed(Backend):
        name = "borrowed"

        def available(self):
            return None

        def up(self):
            info = KwokBackend().info()
            info.backend = self.name
            info.capabilities = ["api"]  # what it offers by design: no real pods
            return info

        def is_up(self):
            return KwokBackend().is_up()

        def down(self):
            shutil.rmtree(self.state, ignore_errors=True)  # the kwok cluster is not ours

        def load_image(self, image):
            raise RuntimeError("no images here")
    '''
)


def test_a_backend_from_an_entry_point_runs_pages_with_probed_capabilities(
    kwok: KwokBackend, tmp_path: Path
) -> None:
    env = install_package(
        tmp_path / "site",
        "borrowed_backend",
        BORROWED,
        "k8snotes.backends",
        "borrowed = borrowed_backend:Borrowed",
    )
    page = (
        "# P\n\n```console\n$ kubectl get configmap kube-root-ca.crt -o name\n"
        "configmap/kube-root-ca.crt\n```\n\n"
        "<!-- k8snotes: requires=pods -->\n```bash\nkubectl logs nothing\n```\n"
    )
    proc = run_page(
        tmp_path / "project",
        page,
        None,
        "--k8snotes-backend",
        "borrowed",
        env=env,
    )
    assert proc.returncode == 0, proc.stdout
    # Pods are what this backend lacks by design: a skip, with its reason. (A backend that
    # declares what the probe cannot find is a bring-up error: test_reader_mode has that.)
    assert "1 x needs pods: not available on backend borrowed" in proc.stdout
    assert "blocks executed: 1 (1 passed on borrowed)" in proc.stdout
    assert kwok.is_up()  # the borrowed cluster is still there
    assert not (kwok.state.parent / "borrowed-k8snotes").exists()  # its record is gone


def test_an_unknown_backend_names_the_ones_there_are() -> None:
    from k8snotes.cluster.registry import get_backend

    with pytest.raises(
        ValueError, match="unknown backend 'k3s'; choose one of kind, kwok, existing"
    ):
        get_backend("k3s")


def test_a_projects_conftest_gives_its_own_cluster(kwok: KwokBackend, tmp_path: Path) -> None:
    """``k8s_cluster`` overridden: the pages run there (here: the kwok cluster, named another way)."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "conftest.py").write_text(
        textwrap.dedent(
            f"""
            import pytest

            from k8snotes.cluster.base import ClusterInfo


            @pytest.fixture(scope="session")
            def k8s_cluster():
                return ClusterInfo("mine", "mine", {str(kwok.kubeconfig)!r}, "kwok-k8snotes", [], False)
            """
        )
    )
    page = "# P\n\n```console\n$ kubectl get namespace kube-system -o name\nnamespace/kube-system\n```\n"
    proc = run_page(project, page)
    assert proc.returncode == 0, proc.stdout
    assert "blocks executed: 1 (1 passed on mine)" in proc.stdout


def test_changed_runs_only_pages_whose_text_or_includes_changed(
    kwok: KwokBackend, tmp_path: Path
) -> None:
    page = (
        "# P\n\n```bash\ncat > cm.yaml <<'EOF'\n--8<-- \"page/cm.yaml\"\nEOF\n"
        "kubectl apply -f cm.yaml\nkubectl delete -f cm.yaml\n```\n"
    )
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  a: '1'\n"
    proc = run_page(tmp_path, page, {"cm.yaml": cm})
    assert proc.returncode == 0, proc.stdout
    proc = run_page(tmp_path, page, {"cm.yaml": cm}, "--k8snotes-changed")
    assert "1 deselected" in proc.stdout and "passed" not in proc.stdout, proc.stdout
    # The included file changes: the page runs again.
    proc = run_page(tmp_path, page, {"cm.yaml": cm.replace("'1'", "'2'")}, "--k8snotes-changed")
    assert "1 passed" in proc.stdout, proc.stdout
    # A failing page is never green: it runs every time.
    broken = page.replace("kubectl delete", "kubectl delete --bad-flag")
    for _ in range(2):
        proc = run_page(tmp_path, broken, {"cm.yaml": cm}, "--k8snotes-changed")
        assert "1 failed" in proc.stdout, proc.stdout
