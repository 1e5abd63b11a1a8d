"""A real run stopped by SIGTERM or Ctrl-C puts the host back: nothing of it is left.

A project's page runs in reader mode on a real kind cluster (the node image
built by ``k8snotes setup``), in a pytest of its own; the signal comes in the
middle of the page. Within two minutes that pytest has exited, and there is no
process of the run, no kind cluster, container or Docker network it made, no
network namespace, the Docker engine is as it was (stopped again if the run
started it), and every sysctl and firewall rule is as before.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from k8snotes.provision import binaries, docker

pytestmark = pytest.mark.docker

PAGE = """\
# A page that makes a cluster

```bash
kind create cluster
```

<!-- k8snotes: timeout=900 -->
```bash
sleep 600
```

## Clean up

```bash
kind delete cluster
```
"""

SYSCTLS = [
    Path("/proc/sys/net/ipv4/ip_forward"),
    Path("/proc/sys/fs/inotify/max_user_instances"),
    Path("/proc/sys/fs/inotify/max_user_watches"),
]


def _lines(*args: str) -> list[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60).stdout.split("\n")


def host_state() -> dict[str, object]:
    """What the run must leave as it found it."""
    rules = [
        re.sub(r"\[\d+:\d+\]", "", line)
        for line in _lines("iptables-save")
        if line and not line.startswith("#")
    ]
    engine = docker.engine_running()
    return {
        "engine running": engine,
        "containers": sorted(_lines("docker", "ps", "-aq", "--no-trunc")) if engine else [],
        "networks": sorted(_lines("docker", "network", "ls", "-q")) if engine else [],
        "network namespaces": sorted(_lines("ip", "netns", "list")),
        "sysctls": {str(p): p.read_text().strip() for p in SYSCTLS if p.exists()},
        "iptables": rules,
    }


def run_processes(run_id: str) -> list[str]:
    """Processes whose environment carries the run's id."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if proc.environ().get("K8SNOTES_RUN_ID") == run_id:
                found.append(f"{proc.pid} {' '.join(proc.info['cmdline'] or [])[:100]}")
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def kind_nodes() -> list[str]:
    if not docker.engine_running():
        return []
    return [
        line
        for line in _lines(
            "docker", "ps", "-a", "--filter", "label=io.x-k8s.kind.cluster=kind", "-q"
        )
        if line
    ]


def _wait_for(what: str, condition: Callable[[], bool], proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 420
    while not condition():
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            pytest.fail(f"the run ended before {what}:\n{out}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} in 420 s")
        time.sleep(1)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    if not binaries.KIND.is_complete():
        pytest.fail("k8snotes setup has not built kind (run it first)")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text(PAGE)
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nk8snotes = true\nk8snotes_reader_mode = true\nk8snotes_docs = docs\n"
    )
    return tmp_path


@pytest.mark.parametrize(
    ("signum", "moment"),
    [
        (signal.SIGTERM, "the page's second block runs"),
        (signal.SIGINT, "kind create cluster has made the node"),
    ],
)
def test_a_run_stopped_in_the_middle_of_a_page_leaves_the_host_as_it_was(
    project: Path, signum: signal.Signals, moment: str
) -> None:
    if kind_nodes():
        pytest.fail("a kind cluster named 'kind' runs already: this test makes its own")
    before = host_state()
    run_id = f"interrupt-{uuid.uuid4().hex[:6]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "K8SNOTES_RUN"))}
    if "K8SNOTES_CACHE" in os.environ:
        env["K8SNOTES_CACHE"] = os.environ["K8SNOTES_CACHE"]
    env["K8SNOTES_RUN_ID"] = run_id
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--k8snotes-backend", "kind"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        if signum == signal.SIGTERM:
            _wait_for(
                moment,
                lambda: any("sleep 600" in p for p in run_processes(run_id)),
                proc,
            )
        else:
            _wait_for(moment, lambda: bool(kind_nodes()), proc)
        proc.send_signal(signum)
        started = time.monotonic()
        out, _ = proc.communicate(timeout=120)
        seconds = time.monotonic() - started
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    try:
        assert proc.returncode != 0, out
        assert "KeyboardInterrupt" in out or "Interrupted" in out, out
        assert run_processes(run_id) == [], out
        assert kind_nodes() == [], out
        after = host_state()
        assert after == before, out
    finally:
        if kind_nodes():  # the run failed to: this test made it, so this test deletes it
            subprocess.run(
                [str(binaries.KIND.bin_dir / "kind"), "delete", "cluster", "--name", "kind",
                 "--kubeconfig", str(project / "leftover-kubeconfig")],
                capture_output=True,
                timeout=300,
            )  # fmt: skip
    print(f"{signum.name} while {moment}: exited and put back in {seconds:.1f} s")
