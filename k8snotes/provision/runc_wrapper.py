"""A ``runc`` wrapper that drops CAP_SYS_RESOURCE from the OCI spec, then runs the real runc.

Why: on some VMs root lacks CAP_SYS_RESOURCE in its capability bounding set, while
Docker 20.10 grants a privileged container every capability the kernel knows, so
``docker run --privileged`` (which kind needs) fails with "unable to apply caps:
operation not permitted". dockerd is started with this file as its default runtime
only on such hosts (see :mod:`k8snotes.provision.docker`).

This file is also installed as a standalone script: it imports only the standard
library, and :func:`install` sets :data:`REAL_RUNC` in the installed copy.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

REAL_RUNC = ""
"""Path of the real runc; set in the installed copy."""

DROPPED = "CAP_SYS_RESOURCE"
"""The capability removed from every set of the spec."""

CAP_SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")


def strip_capability(spec: dict[str, Any], cap: str = DROPPED) -> bool:
    """Remove ``cap`` from every capability set of an OCI spec or process spec.

    Args:
        spec: A bundle's ``config.json`` (capabilities under ``process``) or the
            process file of ``runc exec --process`` (capabilities at the top).
        cap: Capability name to remove.

    Returns:
        True when the spec changed.
    """
    process = spec.get("process", spec)
    caps = process.get("capabilities") if isinstance(process, dict) else None
    if not isinstance(caps, dict):
        return False
    changed = False
    for name in CAP_SETS:
        values = caps.get(name)
        if isinstance(values, list) and cap in values:
            caps[name] = [v for v in values if v != cap]
            changed = True
    return changed


def _option(args: list[str], *names: str) -> str | None:
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def spec_files(args: list[str], cwd: Path) -> list[Path]:
    """The spec files a runc command line will read.

    Args:
        args: runc's arguments (without the program name).
        cwd: Working directory (runc's default bundle).

    Returns:
        ``BUNDLE/config.json`` for ``create`` and ``run``, the ``--process``
        file for ``exec``; nothing for other commands.
    """
    commands = [a for a in args if a in ("create", "run", "exec")]
    if not commands:
        return []
    if commands[0] == "exec":
        process = _option(args, "--process", "-p")
        return [Path(process)] if process else []
    bundle = _option(args, "--bundle", "-b")
    return [Path(bundle or cwd) / "config.json"]


def rewrite(path: Path) -> bool:
    """Strip :data:`DROPPED` from the spec file at ``path`` in place; True if it changed."""
    try:
        spec = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    if not strip_capability(spec):
        return False
    tmp = path.with_name(path.name + ".k8snotes")
    tmp.write_text(json.dumps(spec))
    os.replace(tmp, path)
    return True


def install(target: Path, real_runc: str, python: str) -> Path:
    """Write this file as an executable wrapper script at ``target``.

    Args:
        target: Where the wrapper goes.
        real_runc: Absolute path of the runc to run after rewriting.
        python: Interpreter for the shebang line.

    Returns:
        ``target``.
    """
    source = Path(__file__).read_text()
    source = source.replace('REAL_RUNC = ""', f"REAL_RUNC = {real_runc!r}", 1)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    tmp.write_text(f"#!{python} -I\n{source}")
    tmp.chmod(0o755)
    os.replace(tmp, target)
    return target


def main(argv: list[str]) -> None:
    """Rewrite the spec files of this runc call, then exec the real runc."""
    for path in spec_files(argv[1:], Path.cwd()):
        rewrite(path)
    real = REAL_RUNC or "runc"
    os.execvp(real, [real, *argv[1:]])


if __name__ == "__main__":
    main(sys.argv)
