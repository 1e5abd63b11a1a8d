"""Stability: ``make test`` on clean clones, N times in a row warm, and once with an empty cache.

Each run clones the checkout's HEAD into a fresh folder and runs ``.ci/run``
there, as CI does; nothing is re-run, so a flake shows as a failed run. The
cold runs come first: they point ``K8SNOTES_CACHE`` at an empty folder (and
delete it after), so the Docker engine k8snotes starts, whose data root is in
the cache, starts empty too, as on a fresh machine.

    python benchmarks/stability.py --warm 5 --cold 1

Prints one line per run (wall time, pytest's summary), the set-up's steps with
their times, and the pages' figures from the run's junit report (kept beside
its log: ``PYTEST_ARGS=--junitxml=...``, which the Makefile passes to pytest),
and writes them, after every run, to
``benchmarks/results/stability-<date>-<commit>.json``. Runs take the machine's
Docker engine: do not run anything else with Docker meanwhile.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite import CpuMeter, report

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"^=+ (.*(?:passed|failed|error).*) in [\d.]+s", re.M)
SETUP_STEP = re.compile(
    r"^\[k8snotes\] (.*: done in [\d.]+ s|setup: all \d+ steps done in \d+ s)$", re.M
)


def setup_steps(stderr: str) -> list[str]:
    """What ``k8snotes setup`` did and how long each part took, from its progress lines."""
    end = stderr.find("[k8snotes] setup: all ")
    end = stderr.find("\n", end) if end >= 0 else len(stderr)
    return SETUP_STEP.findall(stderr[:end])


def one_run(kind: str, index: int) -> dict[str, object]:
    """Clone HEAD, run ``.ci/run`` there; return its figures."""
    work = Path(tempfile.mkdtemp(prefix=f"k8snotes-stability-{kind}{index}-"))
    env = dict(os.environ, PYTEST_ARGS=f"--junitxml={work / 'junit.xml'}")
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
        meter = CpuMeter()
        meter.start()
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
        meter.stop()
        (work / "run.log").write_text(proc.stdout + proc.stderr)
        summaries = SUMMARY.findall(proc.stdout)
        junit = work / "junit.xml"
        pages = report(junit, seconds, meter, whole_site=False) if junit.exists() else []
        return {
            "kind": kind,
            "index": index,
            "commit": cloned,
            "exit": proc.returncode,
            "seconds": round(seconds, 1),
            "pytest": summaries[-1] if summaries else "",
            "setup": setup_steps(proc.stderr),
            "pages": pages,
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
    out = ROOT / "benchmarks" / "results" / f"stability-{datetime.date.today()}-{commit}.json"
    out.parent.mkdir(exist_ok=True)
    for kind, count in (("cold", args.cold), ("warm", args.warm)):
        for i in range(1, count + 1):
            run = one_run(kind, i)
            runs.append(run)
            status = "green" if run["exit"] == 0 else f"FAILED (exit {run['exit']})"
            print(
                f"{kind} {i}: {status}, {run['seconds']} s, {run['pytest']}  log: {run['log']}",
                flush=True,
            )
            for line in [*run["setup"], *run["pages"]]:  # type: ignore[misc]
                print(f"  {line}", flush=True)
            out.write_text(json.dumps({"commit": commit, "runs": runs}, indent=1))
    green = sum(1 for r in runs if r["exit"] == 0)
    print(f"{green} of {len(runs)} runs green")
    return 0 if green == len(runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
