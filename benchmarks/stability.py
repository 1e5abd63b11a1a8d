"""Stability: ``make test`` on clean clones, N times in a row warm, and once with an empty cache.

Each run clones the checkout's HEAD into a fresh folder and runs ``.ci/run``
there, as CI does; nothing is re-run, so a flake shows as a failed run. The
cold run points ``K8SNOTES_CACHE`` at an empty folder (and deletes it after).

    python benchmarks/stability.py --warm 5 --cold 1

Prints one line per run (wall time, pytest's summary) and writes them to
``benchmarks/results/stability-<date>-<commit>.json``. Runs take the machine's Docker
engine: do not run anything else with Docker meanwhile.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"^=+ (.*(?:passed|failed|error).*) in [\d.]+s", re.M)


def one_run(kind: str, index: int) -> dict[str, object]:
    """Clone HEAD, run ``.ci/run`` there; return its figures."""
    work = Path(tempfile.mkdtemp(prefix=f"k8snotes-stability-{kind}{index}-"))
    env = dict(os.environ)
    cache = None
    if kind == "cold":
        cache = Path(tempfile.mkdtemp(prefix="k8snotes-cold-cache-"))
        env["K8SNOTES_CACHE"] = str(cache)
    try:
        subprocess.run(
            ["git", "clone", "-q", str(ROOT), str(work / "repo")], check=True, timeout=300
        )
        cloned = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=work / "repo",
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
        start = time.monotonic()
        proc = subprocess.run(
            ["./.ci/run"],
            cwd=work / "repo",
            env=env,
            capture_output=True,
            text=True,
            timeout=3 * 3600,
        )
        seconds = time.monotonic() - start
        (work / "run.log").write_text(proc.stdout + proc.stderr)
        summaries = SUMMARY.findall(proc.stdout)
        return {
            "kind": kind,
            "index": index,
            "commit": cloned,
            "exit": proc.returncode,
            "seconds": round(seconds, 1),
            "pytest": summaries[-1] if summaries else "",
            "log": str(work / "run.log"),
        }
    finally:
        shutil.rmtree(work / "repo", ignore_errors=True)
        if cache is not None:
            shutil.rmtree(cache, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warm", type=int, default=5, help="warm runs in a row (default 5)")
    parser.add_argument("--cold", type=int, default=1, help="runs with an empty cache (default 1)")
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout.strip()
    print(
        f"command: python benchmarks/stability.py --warm {args.warm} --cold {args.cold}  (HEAD {commit})"
    )
    runs = []
    for kind, count in (("warm", args.warm), ("cold", args.cold)):
        for i in range(1, count + 1):
            run = one_run(kind, i)
            runs.append(run)
            status = "green" if run["exit"] == 0 else f"FAILED (exit {run['exit']})"
            print(
                f"{kind} {i}: {status}, {run['seconds']} s, {run['pytest']}  log: {run['log']}",
                flush=True,
            )
    green = sum(1 for r in runs if r["exit"] == 0)
    print(f"{green} of {len(runs)} runs green")
    out = ROOT / "benchmarks" / "results" / f"stability-{datetime.date.today()}-{commit}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"commit": commit, "runs": runs}, indent=1))
    return 0 if green == len(runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
