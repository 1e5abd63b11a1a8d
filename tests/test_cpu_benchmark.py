"""benchmarks/cpu.py: process accounting records read, parents found across PID reuse, places."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _cpu() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "k8snotes_cpu_benchmark", ROOT / "benchmarks" / "cpu.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


cpu = _cpu()


def record(pid: int, ppid: int, comm: str, ticks: int = 0, stime: int = 0) -> bytes:
    """An acct_v3 record as the kernel writes it (CPU in comp_t, 1/100 s)."""
    return cpu.RECORD.pack(
        0, 3, 0, 0, 0, 0, pid, ppid, 1_700_000_000, 0.0, ticks, stime, 0, 0, 0, 0, 0, 0,
        comm.encode(),
    )  # fmt: skip


def test_comp_t_decodes_mantissa_and_base_8_exponent() -> None:
    assert cpu._comp(100) == 100
    assert cpu._comp((1 << 13) | 10) == 80  # 10 * 8
    assert cpu._comp((2 << 13) | 0x1FFF) == 0x1FFF * 64


def test_records_decode_and_a_reused_pid_finds_its_own_parent() -> None:
    data = b"".join(
        [
            record(50, 40, "sleep", ticks=150),  # a Pod's process: parent 40 (its shim)
            record(40, 30, "containerd-shim", ticks=2),  # the Pod's shim, in the node
            record(50, 20, "kubectl", ticks=40, stime=10),  # PID 50 again, on the host
            record(30, 10, "systemd", ticks=5),  # the node's init
            record(10, 1, "containerd-shim", ticks=1),  # the host's shim of the node
        ]
    )
    records = cpu.read_records(data)
    assert [(r.pid, r.comm, r.cpu) for r in records] == [
        (50, "sleep", 1.5),
        (40, "containerd-shim", 0.02),
        (50, "kubectl", 0.5),
        (30, "systemd", 0.05),
        (10, "containerd-shim", 0.01),
    ]
    assert cpu.parents(records) == [1, 3, None, 4, None]
    assert cpu.places(records) == [
        "page workloads",
        "node agents",
        "kubectl",
        "node agents",
        "Docker engine",
    ]


def test_a_record_of_another_version_is_refused() -> None:
    bad = bytearray(record(1, 0, "x"))
    bad[1] = 2
    with pytest.raises(ValueError, match="not an acct_v3 record"):
        cpu.read_records(bytes(bad))


@pytest.mark.parametrize(
    ("comm", "above", "place"),
    [
        ("kube-apiserver", ["containerd-shim", "systemd", "containerd-shim"], "control plane"),
        ("curl", ["k8snotes-cni", "containerd-shim", "systemd", "containerd-shim"], "add-ons"),
        ("kubelet", ["systemd", "containerd-shim"], "node agents"),
        ("dockerd", [], "Docker engine"),
        ("containerd", [], "Docker engine"),
        ("docker", ["bash", "python3"], "docker CLI"),
        ("bash", ["python3"], "host shell commands"),
        ("python3", ["python3"], "runner (python)"),
        ("cat", ["chromium"], "browser"),
        ("compile", ["go"], "go builds"),
    ],
)
def test_places(comm: str, above: list[str], place: str) -> None:
    assert cpu.place_of(comm, above) == place


def test_executed_blocks_add_up_over_shards() -> None:
    out = "blocks executed: 300 (passed 300)\nx\nblocks executed: 12 (passed 12)\n"
    assert cpu.executed_blocks(out) == 312
    assert cpu.executed_blocks("no summary") is None


def test_a_run_whose_records_were_lost_is_not_trusted() -> None:
    assert cpu.accounting_warning({"kubectl": 60.0, "browser": 20.0}, 100.0) is None
    warning = cpu.accounting_warning({"kubectl": 11.0, "browser": 30.0}, 100.0)
    assert warning is not None and "59% of the busy CPU" in warning


@pytest.mark.skipif(os.geteuid() != 0, reason="process accounting (acct(2)) needs root")
@pytest.mark.skipif(
    "K8SNOTES_ACCOUNTING" in os.environ,
    reason="this run is itself measured by benchmarks/cpu.py: accounting is taken",
)
def test_a_real_run_is_accounted_to_its_place() -> None:
    code, output, _wall, by_place, busy = cpu.run(
        [sys.executable, "-c", "import time\nend = time.process_time() + 0.6\n"
         "while time.process_time() < end: pass\nprint('blocks executed: 3')"]
    )  # fmt: skip
    assert code == 0 and cpu.executed_blocks(output) == 3
    assert 0.5 <= by_place["runner (python)"] <= busy + 0.1
