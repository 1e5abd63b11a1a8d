"""Benchmark: every page under the reader's conditions; wall time beside its floors.

Run: ``.venv/bin/python benchmarks/suite.py [--workers 2] [--machines 1] [PAGE ...]``

It runs ``pytest docs`` the way ``make test`` runs the pages (reader mode: the
pages make their clusters and delete them; ``--k8snotes-machines`` reader's
machines side by side) and, while it runs, reads how much CPU the machine
spends. It prints:

- the wall time, and pytest's summary;
- two floors no schedule beats: the longest chain of pages linked by
  ``needs`` (their own time end to end: with a machine per chain, the run
  still takes that long), and the CPU floor (the core-seconds the run used,
  divided by the cores: the run cannot end sooner unless it does less);
- the runner's overhead: the pages' own time over the time their commands
  ran (each block's ``command_seconds`` in the junit report: the time a
  reader's terminal spends on the same commands; the rest is parsing, output
  checks and the leak check between pages);
- the slowest pages, with their commands' share.

Targets (issue 14): wall under 120 s; overhead 1.1 or less.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from k8snotes.markdown.frontmatter import page_settings

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DOCKER_CPUACCT = Path("/sys/fs/cgroup/cpuacct/docker/cpuacct.usage")
"""cgroup v1: nanoseconds of CPU every Docker container has used (removed ones included)."""


def busy_core_seconds() -> float:
    """CPU time the whole machine has spent busy since boot, in core-seconds (``/proc/stat``)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def container_core_seconds() -> float | None:
    """CPU time of Docker's containers (the kind nodes), or ``None`` where it cannot be read."""
    try:
        return int(DOCKER_CPUACCT.read_text()) / 1e9
    except (OSError, ValueError):
        return None


@dataclass
class CpuMeter:
    """CPU used between :meth:`start` and :meth:`stop`, whole machine and containers."""

    started: tuple[float, float | None] = (0.0, None)
    used: float = 0.0
    containers: float | None = None
    peak_busy: float = 0.0
    """The busiest 10 s, in cores."""
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self.started = (busy_core_seconds(), container_core_seconds())
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        last = busy_core_seconds()
        while not self._stop.wait(10):
            now = busy_core_seconds()
            self.peak_busy = max(self.peak_busy, (now - last) / 10)
            last = now

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.used = busy_core_seconds() - self.started[0]
        end = container_core_seconds()
        if end is not None and self.started[1] is not None:
            self.containers = end - self.started[1]


@dataclass
class PageTimes:
    """One page's own time (its blocks, set-up and tear-down) and its commands' time."""

    own: float = 0.0
    commands: float = 0.0


def page_times(junit: Path) -> dict[str, PageTimes]:
    """Per page, from pytest's junit report; a set-up page's copies on other machines count once."""
    times: dict[str, PageTimes] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        if "page" not in props or "machine" in props:
            continue
        entry = times.setdefault(str(props["page"]), PageTimes())
        entry.own += float(case.get("time") or 0)
        entry.commands += float(props.get("command_seconds") or 0)
    return times


def longest_chain(needs: Mapping[str, list[str]], own: Mapping[str, float]) -> list[str]:
    """The chain of pages, each needing the one before, with the most own time in all.

    ```python
    import sys
    sys.path.insert(0, "benchmarks")
    from suite import longest_chain

    needs = {"setup": [], "a": ["setup"], "b": ["a"], "c": ["setup"]}
    own = {"setup": 5, "a": 1, "b": 1, "c": 4}
    assert longest_chain(needs, own) == ["setup", "c"]
    ```
    """
    memo: dict[str, list[str]] = {}

    def chain(page: str, seen: frozenset[str] = frozenset()) -> list[str]:
        if page not in memo:
            before = [chain(n, seen | {page}) for n in needs.get(page, []) if n not in seen]
            best = max(before, key=lambda c: sum(own.get(p, 0.0) for p in c), default=[])
            memo[page] = [*best, page]
        return memo[page]

    chains = [chain(page) for page in own]
    return max(chains, key=lambda c: sum(own.get(p, 0.0) for p in c), default=[])


def page_needs(pages: list[str]) -> dict[str, list[str]]:
    """The ``needs`` of each page (names relative to ``docs/``)."""
    return {p: list(page_settings(ROOT / "docs" / p).needs) for p in pages}


def report(junit: Path, wall: float, meter: CpuMeter, whole_site: bool) -> list[str]:
    """The pages' figures from a junit report, as lines: floors, CPU, overhead, slowest pages."""
    lines: list[str] = []
    times = page_times(junit)
    own = {p: t.own for p, t in times.items()}
    chain = longest_chain(page_needs(list(own)), own)
    total_own = sum(own.values())
    total_commands = sum(t.commands for t in times.values())
    cores = os.cpu_count() or 1
    lines.append(f"pages: {len(times)}; their own time summed: {total_own:.1f} s")
    lines.append(
        f"floor, longest chain of needs: {sum(own[p] for p in chain):.1f} s ({' -> '.join(chain)})"
    )
    if times:
        longest = max(times, key=lambda p: times[p].commands)
        lines.append(f"floor, longest page's commands: {times[longest].commands:.1f} s ({longest})")
    lines.append(
        f"CPU: {meter.used:.0f} core-s in {wall:.0f} s ({meter.used / wall:.2f} of {cores} cores"
        f" on average, busiest 10 s {meter.peak_busy:.2f})"
    )
    if meter.containers is not None:
        lines.append(
            f"  of which the containers (kind nodes): {meter.containers:.0f} core-s;"
            f" the rest (kubectl, the runner, Docker): {meter.used - meter.containers:.0f} core-s"
        )
    lines.append(f"floor, CPU: {meter.used / cores:.1f} s (core-seconds / {cores} cores)")
    if total_commands:
        lines.append(
            f"overhead: pages' own time / their commands' time = {total_own:.1f} / "
            f"{total_commands:.1f} = {total_own / total_commands:.2f} (target <= 1.1)"
        )
    lines.append("slowest pages (own time, commands):")
    for page in sorted(times, key=lambda p: -times[p].own)[:8]:
        lines.append(f"  {times[page].own:6.1f} s  {times[page].commands:6.1f} s  {page}")
    if whole_site:  # the target is for the whole site
        lines.append(f"target: wall < 120 s: {'met' if wall < 120 else 'missed'}")
    return lines


def run(workers: int, machines: int, pages: list[str]) -> int:
    junit = Path(tempfile.mkdtemp(prefix="k8snotes-suite-")) / "junit.xml"
    args = [str(BIN / "pytest"), *(pages or ["docs"]), "-q", "-p", "no:cacheprovider",
            f"--junitxml={junit}", "--k8snotes-machines", str(machines)]  # fmt: skip
    if workers > 1:
        args += ["-n", str(workers), "--dist", "loadgroup"]
    print("pytest:", shlex.join(args[1:]), flush=True)
    meter = CpuMeter()
    meter.start()
    start = time.monotonic()
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    wall = time.monotonic() - start
    meter.stop()
    summary = re.findall(r"^=* ?(\d+ (?:passed|failed|error).*) in [\d.]+s", proc.stdout, re.M)
    print(f"wall: {wall:.1f} s  ({summary[-1] if summary else proc.stderr[-300:]})")
    for line in report(junit, wall, meter, whole_site=not pages):
        print(line)
    return proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers (default 2)")
    parser.add_argument("--machines", type=int, default=1, help="reader's machines (default 1)")
    parser.add_argument("pages", nargs="*", help="pages to run (default: all of docs/)")
    args = parser.parse_args()
    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]))
    return run(args.workers, args.machines, args.pages)


if __name__ == "__main__":
    sys.exit(main())
