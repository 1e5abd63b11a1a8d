"""The library installs lean: the wheel's core has the plugin and the runner, not the site.

``pip install k8snotes`` gives another project the pytest plugin and the runner; MkDocs,
Material, mkdocstrings, Playwright and Zensical are this site's own (the ``site``,
``browser`` and ``zensical`` extras). These tests build the wheel from a copy of the
package, install it into a fresh virtualenv (pinned by ``requirements.lock``, from the
default index) and run a foreign project's page with that virtualenv's pytest, on a fake
cluster: nothing here needs Docker or Kubernetes.
"""

from __future__ import annotations

import email.parser
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The site's packages, by distribution name: none may come with the core install.
SITE_DISTRIBUTIONS = [
    "mkdocs",
    "mkdocs-material",
    "mkdocstrings",
    "mkdocstrings-python",
    "playwright",
    "zensical",
    "pytest-markdown-docs",
]
# ... nor be importable under the names the code would import them by.
SITE_MODULES = ["mkdocs", "material", "mkdocstrings", "playwright", "zensical"]

# The foreign project built in this module's workers: one virtualenv for all of its tests,
# made in minutes from the package index (so not in `make check`).
pytestmark = [pytest.mark.xdist_group("packaging"), pytest.mark.slow]

FAKE_CLUSTER = """\
import pytest

from k8snotes.cluster.base import ClusterInfo


@pytest.fixture(scope="session")
def k8s_cluster():
    return ClusterInfo("fake", "fake", "", "", [], False)
"""

PAGE = """\
# A page of another project

```bash
GREETING=hello
```

```console
$ echo "$GREETING from a lean install"
hello from a lean install
```
"""


@dataclass
class LeanInstall:
    wheel: Path
    python: Path
    cache: Path


def _uv() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{args} exited {result.returncode}:\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def lean(tmp_path_factory: pytest.TempPathFactory) -> LeanInstall:
    """The wheel, built from a copy of the package, installed alone in a fresh virtualenv."""
    base = tmp_path_factory.mktemp("packaging")
    # A copy, so that setuptools' build/ and egg-info stay out of the working tree.
    source = base / "source"
    shutil.copytree(
        ROOT / "k8snotes", source / "k8snotes", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    uv = _uv()
    _run([uv, "build", "--quiet", "--wheel", "--out-dir", str(base / "dist"), str(source)])
    (wheel,) = (base / "dist").glob("k8snotes-*.whl")
    venv = base / "venv"
    _run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)])
    python = venv / "bin" / "python"
    lock = ROOT / "requirements.lock"
    _run([uv, "pip", "install", "--quiet", "--python", str(python), "-c", str(lock), str(wheel)])
    return LeanInstall(wheel, python, base / "cache")


def _requires_dist(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = email.parser.Parser().parsestr(zf.read(name).decode())
    return metadata.get_all("Requires-Dist") or []


def _distribution(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match[0]).lower()


def test_the_wheel_requires_no_site_package_but_in_an_extra(lean: LeanInstall) -> None:
    requires = _requires_dist(lean.wheel)
    print(f"Requires-Dist of {lean.wheel.name}:", *requires, sep="\n  ")
    core = {_distribution(r) for r in requires if "extra ==" not in r}
    assert core, requires
    assert core & set(SITE_DISTRIBUTIONS) == set()
    site = {_distribution(r) for r in requires if "extra == 'site'" in r.replace('"', "'")}
    assert {"mkdocs", "mkdocs-material", "mkdocstrings"} <= site


def test_the_lean_install_has_none_of_the_site_packages(lean: LeanInstall) -> None:
    check = (
        "import importlib.metadata as md, importlib.util as u, json, sys\n"
        "dists = sorted({d.metadata['Name'].lower() for d in md.distributions()})\n"
        "mods = [m for m in sys.argv[1:] if u.find_spec(m)]\n"
        "print(json.dumps({'dists': dists, 'modules': mods}))\n"
    )
    result = _run([str(lean.python), "-c", check, *SITE_MODULES])
    found = json.loads(result.stdout)
    dists = {re.sub(r"[-_.]+", "-", d) for d in found["dists"]}
    assert "k8snotes" in dists
    assert {"pytest", "pymdown-extensions", "kubernetes"} <= dists
    assert dists & set(SITE_DISTRIBUTIONS) == set()
    assert found["modules"] == []


def _run_page(lean: LeanInstall, project: Path, page: str) -> subprocess.CompletedProcess[str]:
    """That virtualenv's pytest on ``page`` in a project of its own, on a fake cluster."""
    (project / "docs").mkdir(parents=True)
    (project / "docs" / "page.md").write_text(page)
    (project / "conftest.py").write_text(FAKE_CLUSTER)
    (project / "pytest.ini").write_text("[pytest]\nk8snotes = true\nk8snotes_docs = docs\n")
    outer_bin = str(Path(sys.prefix) / "bin")
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != outer_bin]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "K8SNOTES_")) and k not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    env.update(
        PATH=os.pathsep.join([str(lean.python.parent), *path]),
        VIRTUAL_ENV=str(lean.python.parent.parent),
        # Its own cache: the plugin records page durations there.
        K8SNOTES_CACHE=str(lean.cache),
    )
    return subprocess.run(
        [str(lean.python), "-m", "pytest", "-p", "no:cacheprovider", "-rA", "docs"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _outcomes(stdout: str) -> dict[str, int]:
    """``{"passed": 2}`` from pytest's last line, ``=== 2 passed in 0.5s ===``."""
    last = stdout.strip().splitlines()[-1]
    return {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", last)}


def test_the_lean_install_runs_a_foreign_projects_page(lean: LeanInstall, tmp_path: Path) -> None:
    result = _run_page(lean, tmp_path, PAGE)
    print(result.stdout)
    assert _outcomes(result.stdout) == {"passed": 2}, result.stdout + result.stderr
    assert result.returncode == 0


def test_the_lean_install_fails_a_wrong_expected_output(lean: LeanInstall, tmp_path: Path) -> None:
    wrong = PAGE.replace("hello from a lean install\n", "goodbye from a lean install\n")
    assert wrong != PAGE
    result = _run_page(lean, tmp_path, wrong)
    assert _outcomes(result.stdout) == {"passed": 1, "failed": 1}, result.stdout + result.stderr
    assert result.returncode == 1
    assert "+hello from a lean install" in result.stdout
    assert "-goodbye from a lean install" in result.stdout
