"""The one change made to a page's ``kind create cluster``, printed and reported.

kind's default node image is pinned by digest and cannot be pulled where no
registry answers, and the suite's own cluster may hold host ports (80) that a
page's kind configuration also maps. So, for ``kind create cluster`` only:

- ``--image`` names the node image built here (``$K8SNOTES_KIND_IMAGE``), unless
  the page gives one;
- a host port of the page's ``--config`` that is already taken is mapped to a
  free port instead, in a copy of the file.

Each change is said on stderr and appended to ``$K8SNOTES_NOTES``, so the test
report lists it. Used by the ``kind`` shell function of the page prelude::

    python3 -m k8snotes.runner.kindshim create cluster --config kind-config.yaml
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import yaml


def port_taken(port: int) -> bool:
    """True when something listens on ``port`` on any host address."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config_index(args: list[str]) -> tuple[int, bool] | None:
    for i, arg in enumerate(args):
        if arg == "--config" and i + 1 < len(args):
            return i + 1, False
        if arg.startswith("--config="):
            return i, True
    return None


def rewrite(args: list[str], image: str, workdir: Path) -> tuple[list[str], list[str]]:
    """The arguments to run instead of ``kind ARGS``, and the changes made."""
    notes: list[str] = []
    if args[:2] != ["create", "cluster"]:
        return args, notes
    args = list(args)
    if image and not any(a == "--image" or a.startswith("--image=") for a in args):
        args += ["--image", image]
        notes.append(
            f"kind create cluster ran with --image {image} (kind's default node image cannot be pulled here)"
        )
    where = _config_index(args)
    if where is not None:
        index, inline = where
        name = args[index].split("=", 1)[1] if inline else args[index]
        path = Path(name)
        if name != "-" and path.is_file():
            config = yaml.safe_load(path.read_text())
            changed = False
            for node in config.get("nodes", []) or []:
                for mapping in node.get("extraPortMappings", []) or []:
                    host_port = int(mapping.get("hostPort", 0))
                    if host_port and port_taken(host_port):
                        new = free_port()
                        mapping["hostPort"] = new
                        changed = True
                        notes.append(
                            f"hostPort {host_port} of {name} is held by the suite's own cluster: "
                            f"mapped to {new} instead"
                        )
            if changed:
                copy = workdir / f"k8snotes-{path.name}"
                copy.write_text(yaml.safe_dump(config, sort_keys=False))
                args[index] = f"--config={copy}" if inline else str(copy)
    return args, notes


def main(argv: list[str]) -> int:
    """Print the rewritten arguments, one per line; changes go to stderr and ``$K8SNOTES_NOTES``."""
    workdir = Path(os.environ.get("K8SNOTES_SHIM_DIR") or os.getcwd())
    args, notes = rewrite(argv, os.environ.get("K8SNOTES_KIND_IMAGE", ""), workdir)
    for note in notes:
        print(f"[k8snotes] {note}", file=sys.stderr)
        if notes_file := os.environ.get("K8SNOTES_NOTES"):
            with open(notes_file, "a") as out:
                out.write(note + "\n")
    print("\n".join(args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
