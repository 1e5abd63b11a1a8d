"""Processes read through psutil: alive or gone, their names, and the leak check's process lines."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest

from k8snotes.check.inventory import MARKER, process_lines
from k8snotes.processes import process_alive, process_name

# Page ids of this test process only: other tests may run pages beside it.
PAGE_1, PAGE_2, GONE = (f"test-processes-{os.getpid()}-{n}" for n in (1, 2, 3))

LISTENER = """
import os, socket, time
a = socket.socket(); a.bind(("127.0.0.1", 0)); a.listen()
os.dup(a.fileno())  # one socket, two descriptors: one port
b = socket.socket(); b.bind(("127.0.0.1", 0))  # bound, not listening
print(a.getsockname()[1], flush=True)
time.sleep(60)
"""


@pytest.fixture
def zombie() -> Iterator[subprocess.Popen[bytes]]:
    """A child that has exited and was not waited for."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"], env={**os.environ, MARKER: GONE})
    deadline = time.monotonic() + 10
    while psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.02)
    yield proc
    proc.wait(timeout=10)


def test_process_alive_and_name(zombie: subprocess.Popen[bytes]) -> None:
    assert process_alive(os.getpid())
    assert process_name(os.getpid()) == psutil.Process().name()
    assert not process_alive(zombie.pid)
    zombie.wait(timeout=10)
    assert not process_alive(zombie.pid)
    assert process_name(zombie.pid) is None
    assert not process_alive(0) and not process_alive(-1) and process_name(0) is None


def test_process_lines_name_the_page_s_processes_and_their_listening_ports(
    zombie: subprocess.Popen[bytes],
) -> None:
    env = {**os.environ, MARKER: PAGE_1}
    listener = subprocess.Popen(
        [sys.executable, "-c", LISTENER, "an argument"], env=env, stdout=subprocess.PIPE, text=True
    )
    sleeper = subprocess.Popen(["sleep", "60"], env=env)
    other = subprocess.Popen(["sleep", "60"], env={**os.environ, MARKER: PAGE_2})
    try:
        assert listener.stdout is not None
        port = listener.stdout.readline().strip()
        command = " ".join([sys.executable, "-c", LISTENER, "an argument"])
        assert process_lines(PAGE_1) == {
            f"process {listener.pid} {command[:120]} (listening on {port})",
            f"process {sleeper.pid} sleep 60",
        }
        assert process_lines(PAGE_2) == {f"process {other.pid} sleep 60"}
        assert process_lines(GONE) == set()  # exited: nothing left to clean up
    finally:
        for proc in (listener, sleeper, other):
            proc.kill()
            proc.wait(timeout=10)
