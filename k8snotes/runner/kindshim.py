"""What this machine changes in a page's ``kind create cluster``, printed and reported.

No registry answers here: kind's default node image (pinned by digest) and the
images a reader's new cluster pulls later (metrics-server, Traefik) cannot be
pulled. So, for ``kind create cluster`` only:

- ``--image`` names the node image built here (``$K8SNOTES_KIND_IMAGE``), unless
  the page gives one;
- a host port of the page's ``--config`` that is already taken is mapped to a
  free port instead, in a copy of the file;
- once the cluster is up, the images a reader's cluster would pull
  (``$K8SNOTES_PRELOAD_IMAGES``, built here from source under their upstream
  names) are loaded into it with ``kind load docker-image``;
- the cluster's name is recorded (``$K8SNOTES_CREATED_CLUSTERS``), so the run
  deletes what its pages made and never a cluster it did not.

Each change is said on stderr and appended to ``$K8SNOTES_NOTES``, so the test
report lists it. The ``kind`` shell function of the page prelude runs it in
place of ``kind create cluster``; its exit code is kind's::

    python3 -m k8snotes.runner.kindshim create cluster --config kind-config.yaml
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import yaml

KIND_TIMEOUT = 900.0
"""Seconds ``kind create cluster`` may take here; then it is killed and the shim exits 124."""


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
        from k8snotes.provision.nodeimage import DIFFERENCES

        notes.append(
            f"kind create cluster ran with --image {image} (kind's default node image cannot be pulled here); "
            f"the image built here differs from kind's: {'; '.join(DIFFERENCES)}"
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


def cluster_name(args: list[str]) -> str:
    """The ``--name`` of a ``kind create cluster`` command line (kind's default: ``kind``)."""
    for i, arg in enumerate(args):
        if arg == "--name" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--name="):
            return arg.split("=", 1)[1]
    return "kind"


def _note(note: str) -> None:
    print(f"[k8snotes] {note}", file=sys.stderr)
    if notes_file := os.environ.get("K8SNOTES_NOTES"):
        with open(notes_file, "a") as out:
            out.write(note + "\n")


def main(argv: list[str]) -> int:
    """Run ``kind ARGV`` with the changes above; return kind's exit code."""
    workdir = Path(os.environ.get("K8SNOTES_SHIM_DIR") or os.getcwd())
    workdir.mkdir(parents=True, exist_ok=True)
    args, notes = rewrite(argv, os.environ.get("K8SNOTES_KIND_IMAGE", ""), workdir)
    for note in notes:
        _note(note)
    if args[:2] == ["create", "cluster"] and (
        record := os.environ.get("K8SNOTES_CREATED_CLUSTERS")
    ):
        # Recorded before kind starts: a creation cut short still leaves a node the run deletes.
        with open(record, "a") as out:
            out.write(cluster_name(args) + "\n")
    try:
        code = subprocess.call(["kind", *args], timeout=KIND_TIMEOUT)
    except subprocess.TimeoutExpired:
        _note(f"kind {' '.join(args)} did not finish within {KIND_TIMEOUT:.0f} s: stopped")
        return 124
    if code != 0 or args[:2] != ["create", "cluster"]:
        return code
    name = cluster_name(args)
    preload = os.environ.get("K8SNOTES_PRELOAD_IMAGES", "").split()
    if preload:
        loaded = subprocess.run(
            ["kind", "load", "docker-image", "--name", name, *preload],
            timeout=600,
            capture_output=True,
            text=True,
        )
        if loaded.returncode != 0:
            print(loaded.stdout + loaded.stderr, file=sys.stderr)
            return loaded.returncode
        _note(
            f"images a reader's cluster pulls were loaded into {name} from copies built here "
            f"(no registry): {', '.join(preload)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
