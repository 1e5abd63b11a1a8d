"""Reader's machines side by side: a Docker engine of its own in a network namespace of its own.

A page in reader mode uses what a reader's machine has, under a reader's
names: one Docker engine, kind's default cluster ``kind`` and context
``kind-kind``, ``localhost:80`` for the ingress controller. Two such machines
cannot share one host as they are, so to run pages side by side the run gives
each pytest-xdist worker a machine:

- machine 1 is the host itself (its Docker engine, its network);
- machine K (2, 3, ...) is the network namespace ``k8snotes-mK``, with a
  ``dockerd`` of its own started in it (its own socket, data root and exec
  root), and a way out as a reader's machine has: a veth pair to the host
  (``10.213.K.0/30``), masqueraded there, so ``docker build`` reaches the
  Debian mirror. The worker that runs the machine's pages moves into the namespace
  (``setns``) and points ``DOCKER_HOST`` at that engine, so its pages' kind
  clusters, published ports and ``curl localhost`` are that machine's, under
  the same names a reader's have.

The engine's data root is kept in the cache (its images, as those of the host
engine k8snotes starts, make the next run warm); the namespace and the engine
are removed at the end of the run. Running several kind clusters at once needs
more inotify instances than a host's default 128, and the machines' way out needs IP
forwarding: :data:`HOST_SETTINGS`, which the run's leader changes and puts back.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from k8snotes import locks, paths
from k8snotes.locks import held
from k8snotes.progress import step

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
RUN_DIR = Path("/run/k8snotes")
"""Sockets and exec roots (short paths: unix socket names are limited to 108 bytes)."""
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
INOTIFY_LIMIT = Path("/proc/sys/fs/inotify/max_user_instances")
INOTIFY_WANTED = 512
"""What kind's known-issues page suggests for several clusters on one host."""
HOST_SETTINGS = {IP_FORWARD: 1, INOTIFY_LIMIT: INOTIFY_WANTED}
"""What machines side by side need of the host (at least): their way out, and inotify instances.

The run's leader sets them before any machine starts and puts them back at the
end (:meth:`k8snotes.runner.bringup.Bringup.hold_shared`, a host ledger)."""


class MachineError(RuntimeError):
    """A machine's namespace or engine could not be made, entered or removed."""


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)


_host_netns: int | None = None
"""An open descriptor of the host's network namespace, once this process has left it."""


def _on_host(*args: str) -> subprocess.CompletedProcess[str]:
    """Run a command in the host's network namespace (this process may be in a machine's)."""
    if _host_netns is None:
        return _run(*args)
    return subprocess.run(
        ["nsenter", f"--net=/proc/self/fd/{_host_netns}", *args],
        capture_output=True,
        text=True,
        timeout=60,
        pass_fds=(_host_netns,),
    )


@dataclass(frozen=True)
class Machine:
    """Reader's machine ``index`` (2 or more): a network namespace and a Docker engine."""

    index: int

    @property
    def name(self) -> str:
        """The network namespace's name, ``k8snotes-mK``."""
        return f"k8snotes-m{self.index}"

    @property
    def netns(self) -> Path:
        return NETNS_DIR / self.name

    @property
    def run_dir(self) -> Path:
        return RUN_DIR / self.name

    @property
    def data_root(self) -> Path:
        """The engine's images and containers, kept in the cache between runs."""
        return paths.cache_dir() / "machines" / self.name / "docker"

    @property
    def docker_host(self) -> str:
        """``DOCKER_HOST`` for this machine's engine."""
        return f"unix://{self.run_dir / 'docker.sock'}"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "dockerd.pid"

    def describe(self) -> str:
        """What differs from a reader's machine, for the test report."""
        return (
            f"machine {self.index}: network namespace {self.name} with a Docker engine of its "
            f"own ({self.docker_host}); names, ports and commands as on a reader's machine"
        )

    def answers(self) -> bool:
        """True when this machine's engine answers ``docker info``."""
        if not shutil.which("docker"):
            return False
        try:
            proc = subprocess.run(
                ["docker", "-H", self.docker_host, "info", "--format", "{{.ServerVersion}}"],
                capture_output=True,
                text=True,
                timeout=10,
            )
        except subprocess.TimeoutExpired:
            return False
        return proc.returncode == 0

    @property
    def host_link(self) -> str:
        """The host's end of the veth pair (the namespace's end is ``k8snotes0``)."""
        return f"k8snotes-m{self.index}h"

    @property
    def subnet(self) -> str:
        return f"10.213.{self.index}.0/30"

    def _rules(self) -> list[list[str]]:
        """The host's iptables rules that let the machine out: table, chain, rule."""
        tag = ["-m", "comment", "--comment", self.name]
        return [
            ["nat", "POSTROUTING", "-s", self.subnet, "-j", "MASQUERADE", *tag],
            ["filter", "FORWARD", "-i", self.host_link, "-j", "ACCEPT", *tag],
            ["filter", "FORWARD", "-o", self.host_link, "-j", "ACCEPT", *tag],
        ]

    def _connect(self) -> None:
        """The veth pair, the namespace's default route, and the host's NAT for it."""
        prefix = f"10.213.{self.index}"
        commands = [
            ["ip", "link", "add", self.host_link, "type", "veth", "peer", "name", "k8snotes0",
             "netns", self.name],
            ["ip", "addr", "add", f"{prefix}.1/30", "dev", self.host_link],
            ["ip", "link", "set", self.host_link, "up"],
            ["ip", "-n", self.name, "addr", "add", f"{prefix}.2/30", "dev", "k8snotes0"],
            ["ip", "-n", self.name, "link", "set", "k8snotes0", "up"],
            ["ip", "-n", self.name, "route", "add", "default", "via", f"{prefix}.1"],
        ]  # fmt: skip
        for table, chain, *rule in self._rules():
            commands.append(["iptables", "-t", table, "-I", chain, "1", *rule])
        for args in commands:
            proc = _run(*args)
            if proc.returncode != 0:
                raise MachineError(f"{' '.join(args)}: {proc.stderr.strip()}")

    def _disconnect(self) -> None:
        for table, chain, *rule in self._rules():
            while _on_host("iptables", "-t", table, "-D", chain, *rule).returncode == 0:
                pass
        _on_host("ip", "link", "delete", self.host_link)

    def start(self, timeout: float = 90) -> None:
        """Make the namespace and start its engine (nothing to do when it answers)."""
        if os.geteuid() != 0:
            raise MachineError("a second reader's machine needs root (ip netns, dockerd)")
        if IP_FORWARD.read_text().strip() != "1":  # fail closed: no way out, no apt, no images
            raise MachineError(
                f"{IP_FORWARD} is off: the run's leader turns it on for machines side by side"
            )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with held(self.run_dir / "start.lock", f"reader's machine {self.index}", locks.BRING_UP):
            RUN_DIR.mkdir(parents=True, exist_ok=True)
            if not self.netns.exists():
                for args in (
                    ("ip", "netns", "add", self.name),
                    ("ip", "-n", self.name, "link", "set", "lo", "up"),
                ):
                    proc = _run(*args)
                    if proc.returncode != 0:
                        raise MachineError(f"{' '.join(args)}: {proc.stderr.strip()}")
                self._connect()
            if self.answers():
                return
            from k8snotes.provision import docker

            runtime_args, _ = docker.runtime_args()
            self.data_root.mkdir(parents=True, exist_ok=True)
            log_path = self.run_dir / "dockerd.log"
            with step(f"starting the Docker engine of reader's machine {self.index}"):
                with log_path.open("ab") as log:
                    command = ["nsenter", f"--net={self.netns}", "dockerd", *runtime_args]
                    command += ["--data-root", str(self.data_root)]
                    command += ["--exec-root", str(self.run_dir / "exec")]
                    command += ["--pidfile", str(self.pid_file), "-H", self.docker_host]
                    proc_ = subprocess.Popen(
                        command,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                deadline = time.monotonic() + timeout
                while not self.answers():
                    if proc_.poll() is not None or time.monotonic() > deadline:
                        tail = log_path.read_text(errors="replace")[-1500:]
                        self.stop()
                        raise MachineError(
                            f"the Docker engine of machine {self.index} did not answer:\n{tail}"
                        )
                    time.sleep(0.5)

    def enter(self) -> None:
        """Move the calling thread (and what it starts later) into the machine.

        ``setns`` moves the calling thread only: call it from the thread that
        runs the pages, before it starts any of their processes.
        """
        global _host_netns
        libc = ctypes.CDLL(None, use_errno=True)
        if _host_netns is None:
            _host_netns = os.open("/proc/self/ns/net", os.O_RDONLY)
        fd = os.open(self.netns, os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                errno = ctypes.get_errno()
                raise MachineError(f"setns {self.netns}: {os.strerror(errno)}")
        finally:
            os.close(fd)
        os.environ["DOCKER_HOST"] = self.docker_host

    def stop(self, timeout: float = 60) -> None:
        """Stop the engine (its containers with it) and remove the namespace."""
        from k8snotes.provision import docker

        try:
            pid = int(self.pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pid = 0
        if pid and docker.process_alive(pid) and docker.is_dockerd(pid):
            docker.terminate(pid, timeout)
        shutil.rmtree(self.run_dir, ignore_errors=True)
        self._disconnect()
        if self.netns.exists():
            _run("ip", "netns", "delete", self.name)
