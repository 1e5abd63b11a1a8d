"""Benchmark: the whole snippet suite's wall time, and the runner's overhead.

Run: ``.venv/bin/python benchmarks/suite.py [--backend kind|kwok] [--workers 1 2]``

With the cluster already up (it is brought up first and kept), it times
``pytest docs -n N`` for each N, lists the slowest pages, then replays the same
commands as one plain bash script per page on the same cluster and prints the
ratio suite/replay (the runner's overhead; target 1.2 or less). Targets:
under 2 minutes with ``-n 2``.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from k8snotes.cluster.registry import get_backend, release_cluster, shared_cluster
from k8snotes.evaluators.console import split_console
from k8snotes.markdown import parse_page
from k8snotes.markdown.includes import Includes
from k8snotes.plan import plan
from k8snotes.runner.environment import page_environment, prepare_cluster, release_environment

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run_suite(workers: int, backend: str) -> tuple[float, list[str]]:
    args = [
        str(BIN / "pytest"),
        "docs",
        "-q",
        "-p",
        "no:cacheprovider",
        "--k8snotes-keep",
        "--k8snotes-backend",
        backend,
        "--durations=0",
    ]
    if workers > 1:
        args += ["-n", str(workers), "--dist", "loadgroup"]
    start = time.monotonic()
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    wall = time.monotonic() - start
    per_page: dict[str, float] = {}
    for m in re.finditer(r"^([\d.]+)s \w+\s+(docs/\S+?)::", proc.stdout, re.M):
        per_page[m[2]] = per_page.get(m[2], 0) + float(m[1])
    slowest = [f"{t:6.1f} s  {p}" for p, t in sorted(per_page.items(), key=lambda x: -x[1])[:5]]
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-300:]
    print(f"  pytest docs -n {workers}: {wall:.1f} s wall ({summary})")
    return wall, slowest


def replay_script(page: Path, includes: Includes, capabilities: set[str]) -> str:
    """The page's runnable commands as one plain bash script, in a namespace of its own."""
    ns = f"replay-{uuid.uuid4().hex[:6]}"
    lines = [
        f"kubectl create namespace {ns} >/dev/null",
        f"kubectl config set-context --current --namespace={ns} >/dev/null",
    ]
    for block in parse_page(page, includes, ROOT):
        if not plan(block).runs:
            continue
        if any(r not in capabilities for r in block.requires):
            continue
        if block.meta.get("stdin") or block.meta.get("editor"):
            continue
        if block.language in {"bash", "sh", "shell"}:
            if block.meta.get("background"):
                lines.append(f"( {block.text.strip()} ) >/dev/null 2>&1 &")
                if "port" in block.meta:
                    lines.append(
                        f"for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/{block.meta['port']}) 2>/dev/null && break; sleep 0.1; done"
                    )
            else:
                lines.append(block.text.strip())
        elif block.language == "console":
            lines += [cmd for cmd, _, _ in split_console(block.text)]
        elif block.language in {"yaml", "yml"}:
            verb = "apply" if block.meta.get("apply") else "apply --dry-run=server"
            lines.append(
                f"kubectl {verb} -f - >/dev/null <<'K8SNOTES_EOF'\n{block.text}K8SNOTES_EOF"
            )
    lines.append("kill $(jobs -p) 2>/dev/null; wait 2>/dev/null")
    lines.append(f"kubectl delete namespace {ns} --wait=false >/dev/null")
    return "\n".join(lines) + "\n"


def replay(backend_name: str) -> float:
    backend = get_backend(backend_name)
    info = shared_cluster(backend, "bench", prepare_cluster)
    capabilities, env_extra = page_environment(info)
    includes = Includes(ROOT / "mkdocs.yml")
    total = 0.0
    for page in sorted((ROOT / "docs").rglob("*.md")):
        script = replay_script(page, includes, capabilities)
        tmp = Path(tempfile.mkdtemp(prefix="k8snotes-replay-"))
        rel = page.relative_to(ROOT / "docs").with_suffix("")
        src = ROOT / "snippets" / rel
        work = tmp / "work"
        shutil.copytree(src, work) if src.is_dir() else work.mkdir()
        shutil.copy(info.kubeconfig, tmp / "kubeconfig")
        env = {
            **os.environ,
            **env_extra,
            "KUBECONFIG": str(tmp / "kubeconfig"),
            "HOME": str(tmp),
            "PATH": f"{BIN}:{env_extra.get('PATH', os.environ['PATH'])}",
        }
        start = time.monotonic()
        subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, timeout=900)
        total += time.monotonic() - start
        shutil.rmtree(tmp, ignore_errors=True)
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["kind", "kwok"], default=None)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    backend = args.backend or get_backend().name
    os.environ["K8SNOTES_RUN_ID"] = "bench"  # what this run starts, it stops at the end
    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]))
    start = time.monotonic()
    shared_cluster(get_backend(backend), "bench", prepare_cluster)
    print(f"backend: {backend} (cluster up or reused in {time.monotonic() - start:.1f} s)")
    walls = {}
    for n in args.workers:
        walls[n], slowest = run_suite(n, backend)
        print("  slowest pages:\n    " + "\n    ".join(slowest))
    plain = replay(backend)
    print(f"  plain bash replay of the same commands: {plain:.1f} s")
    if 1 in walls:
        print(f"  overhead ratio (pytest -n 1 / replay): {walls[1] / plain:.2f} (target <= 1.2)")
    if 2 in walls:
        print(f"  -n 2 wall: {walls[2]:.1f} s (target < 120 s)")
    release_cluster(get_backend(backend), "bench")
    release_environment("bench")
    return 0


if __name__ == "__main__":
    sys.exit(main())
