"""The package's structure is kept by import contracts (``[tool.importlinter]`` in pyproject.toml).

``lint-imports`` (import-linter) checks them; a contract broken by a new import fails
here with import-linter's report: which module imports which, line by line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    # --no-cache: nothing written into the checkout, and no stale graph.
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(ROOT / "pyproject.toml")],
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200"},  # a chain on one line, not wrapped at 80
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_import_contracts_are_kept() -> None:
    proc = lint_imports(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_a_forbidden_import_breaks_a_contract(tmp_path: Path) -> None:
    """The contracts can fail: an evaluator that imports the runner is caught (in a copy of
    the package, which lint-imports reads from its working directory)."""
    shutil.copytree(
        ROOT / "k8snotes", tmp_path / "k8snotes", ignore=shutil.ignore_patterns("__pycache__")
    )
    base = tmp_path / "k8snotes" / "evaluators" / "base.py"
    base.write_text(base.read_text() + "\nfrom k8snotes.runner import shell  # noqa: E402\n")
    proc = lint_imports(tmp_path)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "k8snotes.evaluators is not allowed to import k8snotes.runner" in proc.stdout, (
        proc.stdout + proc.stderr
    )
