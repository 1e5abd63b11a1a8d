"""Benchmark: time to Ready nodes and idle memory of a test cluster (not a test).

Run: ``.venv/bin/python benchmarks/cluster.py --backend kwok [--repeat 3]``

Prints the command, each figure and the target it is measured against.
Uses a cluster name of its own, so it never touches the suite's cluster.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from k8snotes.cluster.kwok import KwokBackend

TARGETS = {"kwok_ready_s": 5.0, "kwok_rss_mib": 1024.0}


def rss_mib(pids: list[int]) -> float:
    """Resident memory of the processes and all their descendants, in MiB."""
    total = 0
    seen: set[int] = set()
    todo = list(pids)
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo += children.get(pid, [])
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def bench_kwok(repeat: int) -> None:
    times = []
    for _ in range(repeat):
        backend = KwokBackend("bench-kwok")
        start = time.monotonic()
        backend.up()
        times.append(time.monotonic() - start)
        time.sleep(10)  # let it settle to idle
        mem = rss_mib(backend._pids())
        backend.down()
    print(
        f"kwok: up to {3} Ready nodes: median {statistics.median(times):.2f} s over {repeat} "
        f"(runs: {', '.join(f'{t:.2f}' for t in times)}; target <= {TARGETS['kwok_ready_s']} s)"
    )
    print(
        f"kwok: idle resident memory of the whole cluster: {mem:.0f} MiB "
        f"(target < {TARGETS['kwok_rss_mib']:.0f} MiB)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["kwok"], default="kwok")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    print(
        "machine:",
        subprocess.run(["uname", "-srm"], capture_output=True, text=True).stdout.strip(),
        f"{subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores",
    )
    bench_kwok(args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
