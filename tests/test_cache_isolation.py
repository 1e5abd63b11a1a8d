"""A fast test keeps to a cache of its own (``own_cache`` in ``tests/conftest.py``).

A run of the plugin records page durations and green pages in the cache folder; the
tests' inner runs do too, so each test that needs no cluster and no Docker gets a
cache of its own, and the developer's (``~/.cache/k8snotes`` or ``$K8SNOTES_CACHE``)
is left as it was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_plugin_fast import FAKE_CLUSTER

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent


def test_an_inner_run_records_into_the_tests_own_cache(
    pytester: pytest.Pytester, own_cache: Path | None
) -> None:
    """The records of a pytester run land in the test's cache (so something is written)."""
    assert own_cache is not None and os.environ["K8SNOTES_CACHE"] == str(own_cache)
    pytester.makeconftest(FAKE_CLUSTER)
    pytester.makeini("[pytest]\nk8snotes = true\nk8snotes_docs = docs\n")
    (pytester.path / "docs").mkdir()
    page = pytester.path / "docs" / "page.md"
    page.write_text("# P\n\n```bash\nsleep 0.2\n```\n")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert list(json.loads((own_cache / "page-durations.json").read_text())) == ["page.md"]
    assert list(json.loads((own_cache / "green-pages.json").read_text())) == [str(page)]


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``folder``: its size and modification time."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


def test_a_fast_run_leaves_the_real_cache_untouched(tmp_path: Path) -> None:
    """The test above, run by pytest as a developer runs it, with their cache in the environment."""
    real = tmp_path / "real-cache"  # stands for the developer's ~/.cache/k8snotes
    (real / "state").mkdir(parents=True)
    (real / "page-durations.json").write_text(json.dumps({"tasks/a.md": 12.0}))
    (real / "green-pages.json").write_text(json.dumps({"/site/docs/tasks/a.md": "f00"}))
    before = _listing(real)
    env = {**os.environ, "K8SNOTES_CACHE": str(real), "K8SNOTES_STATE": str(real / "state")}
    test = "tests/test_cache_isolation.py::test_an_inner_run_records_into_the_tests_own_cache"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", test],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
    assert _listing(real) == before
