"""Blocks that keep running (``background``): started beside the page, stopped when it ends.

A background block runs in its own process group with its output in a log
file, and never writes the page's shell state (:meth:`ShellSession.start_background
<k8snotes.runner.shell.ShellSession.start_background>`). With ``port=N`` its
start waits until ``127.0.0.1:N`` answers. At the end of the page each group
is stopped, its leader's identity checked first (:func:`~k8snotes.runner.shell.kill_group`).
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from k8snotes.check.failures import failure_report
from k8snotes.markdown.blocks import Block
from k8snotes.outcomes import BlockFailure, Result
from k8snotes.runner.shell import ShellSession, kill_group, started_at


def wait_port(port: int, timeout: float, proc: subprocess.Popen[bytes]) -> bool:
    """Wait until 127.0.0.1:``port`` accepts a connection (False if ``proc`` died first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


@dataclass
class BackgroundJob:
    """One background block's process group."""

    block: Block
    proc: subprocess.Popen[bytes]
    started: float | None
    """The leader's start time, checked before it is signalled."""

    @property
    def log(self) -> Path:
        """Where its output goes."""
        return Path(cast(list[str], self.proc.args)[1]).with_suffix(".log")


class BackgroundJobs:
    """The background blocks of one page."""

    def __init__(self, shell: ShellSession) -> None:
        self.shell = shell
        self.jobs: list[BackgroundJob] = []

    def start(self, block: Block, command: str) -> BackgroundJob:
        """Start ``command``; with the block's ``port=``, wait for the port (its ``timeout=``)."""
        proc = self.shell.start_background(command)
        job = BackgroundJob(block, proc, started_at(proc.pid))
        self.jobs.append(job)
        if block.meta.get("port") is not None:
            port = int(block.number("port", 0))
            if not wait_port(port, block.number("timeout", 30), proc):
                output = job.log.read_text(errors="replace") if job.log.exists() else ""
                result = Result(
                    command, proc.poll() or 0, f"{output}\n(port {port} never answered)", 0
                )
                raise BlockFailure(failure_report(block, result))
        return job

    def stop_all(self) -> list[str]:
        """Stop every job's process group; what survived, for the report."""
        problems = []
        for job in self.jobs:
            kill_group(job.proc.pid, started=job.started)
            if job.proc.poll() is None:
                problems.append(f"{job.block.location}: background process {job.proc.pid} survived")
        return problems
