"""Benchmark: where a run's CPU goes, in core-seconds by place, and per executed block.

Run: ``.venv/bin/python benchmarks/cpu.py [--record] [--json FILE] -- COMMAND [ARG ...]``,
for example ``-- ./.ci/run`` in a clean clone, or ``-- make test``.

How it counts (root, Linux): while COMMAND runs, BSD process accounting
(``acct(2)``) writes one record for every process that exits anywhere on the
machine, containers included (the kernel writes a record into every ancestor
PID namespace's file): its command name, parent, and user and system CPU. The
run's kind clusters are deleted at its end, so their API servers, etcds,
kubelets and pods exit and are counted in full. Processes alive before and after
(a Docker engine this run did not start) are counted by the difference of
their CPU times (psutil). What no process record holds (kernel threads,
interrupts) is the machine's busy time (``/proc/stat``) minus the rest.

Each process gets a place from its name and its ancestors' (a record's parent is
the nearest later record with the parent's PID: PIDs are reused). Places:

- ``control plane``: kube-apiserver, etcd, kube-controller-manager, kube-scheduler;
- ``node agents``: the kind nodes' kubelet, containerd, shims, runc, systemd;
- ``add-ons``: CoreDNS, kube-proxy, the network daemon and its helpers,
  metrics-server, Traefik, local-path-provisioner;
- ``page workloads``: every other process in a Pod (what the pages run);
- ``kubectl``, ``docker CLI``, ``Docker engine`` (dockerd, containerd,
  docker-proxy and the node containers' shims on the host);
- ``runner (python)``: Python on the host (pytest, its workers, the shims),
  ``browser``, ``site build`` (mkdocs), ``go builds``;
- ``host shell commands``: everything else on the host (bash, curl, grep, ...).

The figure the issue asks for is core-seconds per executed block (``blocks
executed: N`` in COMMAND's output). ``--record`` writes the run as the
reference (``results/cpu-reference.json``); every run is compared with it and
says so when it costs more than 10 % more per block.

Accounting is switched off however the run ends (also on Ctrl-C). It replaces
any process accounting the machine had on (Debian's ``acct`` service): turn
that off first.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
REFERENCE = RESULTS / "cpu-reference.json"
HELD = "K8SNOTES_ACCOUNTING"
"""Set in COMMAND's environment: accounting is this run's (one file per machine), leave it alone."""
THRESHOLD = 1.10
"""A run that costs more than this times the reference per block is reported."""

RECORD = struct.Struct("<BBHIIIIIIfHHHHHHHH16s")
"""``struct acct_v3`` (linux/acct.h): 64 bytes per exited process."""
AHZ = 100
"""The unit of ``acct_v3``'s CPU times: 1/100 s."""

CONTROL_PLANE = {"kube-apiserver", "etcd", "kube-controller", "kube-scheduler"}
ADDONS = {
    "coredns", "kube-proxy", "k8snotes-cni", "kindnetd", "metrics-server", "traefik",
    "local-path-prov", "kube-network-po",
}  # fmt: skip
"""Command names as the kernel keeps them (15 characters at most)."""
BROWSER = ("chromium", "chrome", "headless_shell")
GO = {"go", "compile", "link", "asm", "cgo", "vet", "gobuild"}
ORDER = [
    "control plane", "node agents", "add-ons", "page workloads", "kubectl", "docker CLI",
    "Docker engine", "runner (python)", "browser", "site build", "go builds",
    "host shell commands", "kernel and interrupts",
]  # fmt: skip


@dataclass(frozen=True)
class Exited:
    """One process accounting record: a process that exited."""

    pid: int
    ppid: int
    start: int
    """When it started (seconds since the epoch)."""
    comm: str
    cpu: float
    """User and system CPU, seconds."""


def _comp(value: int) -> int:
    """Decode a ``comp_t``: 13-bit mantissa, 3-bit base-8 exponent."""
    return (value & 0x1FFF) << (3 * ((value >> 13) & 0x7))


def read_records(data: bytes) -> list[Exited]:
    """The ``acct_v3`` records in ``data`` (a process accounting file), in the order written."""
    out = []
    for offset in range(0, len(data) - RECORD.size + 1, RECORD.size):
        fields = RECORD.unpack_from(data, offset)
        if fields[1] != 3:
            raise ValueError(f"not an acct_v3 record at byte {offset} (version {fields[1]})")
        comm = fields[18].split(b"\0", 1)[0].decode(errors="replace")
        cpu = (_comp(fields[10]) + _comp(fields[11])) / AHZ
        out.append(Exited(pid=fields[6], ppid=fields[7], start=fields[8], comm=comm, cpu=cpu))
    return out


def parents(records: Sequence[Exited]) -> list[int | None]:
    """Each record's parent record (an index), where the parent exited during the run.

    A process exits before its parent is reaped, so the parent's record is the
    nearest *later* record with the parent's PID (PIDs are reused).
    """
    latest: dict[int, int] = {}
    found: list[int | None] = [None] * len(records)
    for i in range(len(records) - 1, -1, -1):
        found[i] = latest.get(records[i].ppid)
        latest[records[i].pid] = i
    return found


def _own_place(comm: str) -> str | None:
    """A place a process has by its own name, wherever it runs."""
    if comm in CONTROL_PLANE:
        return "control plane"
    if comm in ADDONS:
        return "add-ons"
    if comm == "kubectl":
        return "kubectl"
    if comm.startswith(BROWSER):
        return "browser"
    if comm == "mkdocs":
        return "site build"
    if comm in GO:
        return "go builds"
    return None


def place_of(comm: str, above: Sequence[str]) -> str:
    """The place of a process named ``comm`` whose ancestors (parent first) are ``above``.

    The shims above it say where it ran: the host's shim runs a kind node
    (one shim above: the node's own processes), the node's shim a Pod (two).
    """
    if own := _own_place(comm):
        return own
    shims = sum(c.startswith("containerd-shim") for c in above)
    inherited = next((p for c in above if (p := _own_place(c)) is not None), None)
    if shims >= 2:
        return "add-ons" if inherited == "add-ons" else "page workloads"
    if shims == 1:
        return "add-ons" if inherited == "add-ons" else "node agents"
    if comm.startswith(("containerd", "runc", "docker-")) or comm == "dockerd":
        return "Docker engine"  # on the host: the engine, its shims (each a kind node's)
    if comm == "docker":
        return "docker CLI"
    if inherited in ("browser", "go builds", "site build"):
        return inherited
    if comm.startswith(("python", "pytest", "k8snotes")):
        return "runner (python)"
    return "host shell commands"


def places(records: Sequence[Exited]) -> list[str]:
    """The place of each record, from its own name and its ancestors' that exited too."""
    up = parents(records)
    result: list[str] = []
    for i, record in enumerate(records):
        above: list[str] = []
        j = up[i]
        while j is not None and len(above) < 64:
            above.append(records[j].comm)
            j = up[j]
        result.append(place_of(record.comm, above))
    return result


def busy_seconds() -> float:
    """The machine's busy CPU time since boot, core-seconds (``/proc/stat``)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def snapshot() -> dict[int, tuple[str, float, float]]:
    """Every live process: PID -> (name, start time, CPU seconds so far)."""
    seen = {}
    for proc in psutil.process_iter(["name", "create_time", "cpu_times"]):
        times = proc.info["cpu_times"]
        if times is None:
            continue
        seen[proc.pid] = (proc.info["name"] or "", proc.info["create_time"] or 0.0,
                          times.user + times.system)  # fmt: skip
    return seen


def attribute(
    records: Sequence[Exited],
    before: dict[int, tuple[str, float, float]],
    after: dict[int, tuple[str, float, float]],
) -> dict[str, float]:
    """Core-seconds by place: exited processes, less what those alive before had used; the living."""
    by_place: dict[str, float] = defaultdict(float)
    for record, place in zip(records, places(records), strict=True):
        cpu = record.cpu
        old = before.get(record.pid)
        if old is not None and abs(old[1] - record.start) <= 1.5:  # it ran before the start
            cpu = max(0.0, cpu - old[2])
        by_place[place] += cpu
    for pid, (name, started, cpu) in after.items():
        old = before.get(pid)
        used = cpu - old[2] if old is not None and abs(old[1] - started) < 0.01 else cpu
        if pid == os.getpid():
            continue  # this script
        by_place[place_of(name[:15], [])] += max(0.0, used)  # alive: on the host
    return by_place


class _Accounting:
    """Process accounting into ``path`` while the block runs; off however it ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.libc = ctypes.CDLL(None, use_errno=True)

    def __enter__(self) -> _Accounting:
        if held := os.environ.get(HELD):
            raise RuntimeError(f"process accounting is already this machine's run's ({held})")
        self.path.write_bytes(b"")
        if self.libc.acct(str(self.path).encode()) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"acct({self.path}): {os.strerror(errno)} (root is needed)")
        return self

    def __exit__(self, *exc: object) -> None:
        self.libc.acct(None)


def run(command: Sequence[str]) -> tuple[int, str, float, dict[str, float], float]:
    """Run ``command`` with accounting on: exit code, output, wall seconds, places, busy delta."""
    with tempfile.TemporaryDirectory(prefix="k8snotes-cpu-") as tmp:
        pacct = Path(tmp) / "pacct"
        output: list[str] = []
        before = snapshot()
        busy0 = busy_seconds()
        start = time.monotonic()
        with _Accounting(pacct):
            proc = subprocess.Popen(
                list(command),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env={**os.environ, HELD: str(pacct)},
            )
            assert proc.stdout is not None

            def pump() -> None:
                assert proc.stdout is not None
                for line in proc.stdout:
                    sys.stdout.write(line)
                    output.append(line)

            reader = threading.Thread(target=pump, daemon=True)
            reader.start()
            try:
                code = proc.wait()
            except KeyboardInterrupt:
                proc.send_signal(signal.SIGINT)
                code = proc.wait(timeout=300)
            reader.join(timeout=30)
            time.sleep(2)  # the last exits reach the file
        wall = time.monotonic() - start
        busy = busy_seconds() - busy0
        after = snapshot()
        by_place = attribute(read_records(pacct.read_bytes()), before, after)
    return code, "".join(output), wall, by_place, busy


def executed_blocks(output: str) -> int | None:
    """The sum of ``blocks executed: N`` lines in a run's output (a shard run prints one each)."""
    found = [int(n) for n in re.findall(r"^blocks executed: (\d+)", output, re.MULTILINE)]
    return sum(found) if found else None


def table(by_place: dict[str, float], busy: float, blocks: int | None) -> Iterator[str]:
    """The Markdown table: core-seconds and per block, by place."""
    counted = sum(by_place.values())
    rows = dict(by_place)
    rows["kernel and interrupts"] = max(0.0, busy - counted)
    yield "| place | core-seconds | per executed block | share |"
    yield "| --- | ---: | ---: | ---: |"
    for place in ORDER:
        seconds = rows.get(place, 0.0)
        per = f"{seconds / blocks:.2f}" if blocks else "-"
        yield f"| {place} | {seconds:.0f} | {per} | {seconds / busy:.1%} |"
    per_total = f"{busy / blocks:.2f}" if blocks else "-"
    yield f"| **all (busy CPU, /proc/stat)** | **{busy:.0f}** | **{per_total}** | 100% |"


UNACCOUNTED_LIMIT = 0.5
"""Above this share of the busy CPU in no process's record, the places are not to be trusted."""


def accounting_warning(by_place: dict[str, float], busy: float) -> str | None:
    """A warning when most of the busy CPU is in no process's record (accounting lost them)."""
    if busy <= 0:
        return None
    unaccounted = max(0.0, busy - sum(by_place.values())) / busy
    if unaccounted <= UNACCOUNTED_LIMIT:
        return None
    return (
        f"WARNING: {unaccounted:.0%} of the busy CPU is in no process's record: process "
        "accounting lost records this run, so the places above are not to be trusted"
    )


def compare(per_block: float, reference: Path) -> str:
    """How this run's core-seconds per block compare with the recorded one."""
    if not reference.exists():
        return f"no reference yet ({reference}): run with --record"
    recorded = json.loads(reference.read_text())
    ratio = per_block / recorded["per_block"]
    verdict = "COSTS MORE" if ratio > THRESHOLD else "within"
    return (
        f"{verdict}: {per_block:.2f} core-s per block against {recorded['per_block']:.2f} "
        f"recorded ({recorded['commit']}, {recorded['date']}): x{ratio:.2f} "
        f"(the limit is x{THRESHOLD:.2f})"
    )


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="write this run as the reference")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("command", nargs="+", help="what to run, after --")
    args = parser.parse_args(list(argv) if argv is not None else None)
    code, output, wall, by_place, busy = run(args.command)
    blocks = executed_blocks(output)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=30
    ).stdout.strip()
    print(f"\n$ {' '.join(args.command)}  (exit {code}, {wall:.0f} s wall, commit {commit})")
    print(f"executed blocks: {blocks if blocks is not None else 'not found in the output'}")
    for line in table(by_place, busy, blocks):
        print(line)
    if warning := accounting_warning(by_place, busy):
        print(warning)
    figures = {
        "commit": commit,
        "date": time.strftime("%Y-%m-%d"),
        "command": args.command,
        "exit": code,
        "wall": round(wall, 1),
        "busy": round(busy, 1),
        "blocks": blocks,
        "per_block": round(busy / blocks, 3) if blocks else None,
        "places": {k: round(v, 1) for k, v in by_place.items()},
    }
    if blocks:
        print(compare(busy / blocks, REFERENCE))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    if args.record and blocks and code == 0 and warning is None:
        REFERENCE.parent.mkdir(parents=True, exist_ok=True)
        REFERENCE.write_text(json.dumps(figures, indent=1) + "\n")
        print(f"recorded as the reference: {REFERENCE}")
    return code


if __name__ == "__main__":
    sys.exit(main())
