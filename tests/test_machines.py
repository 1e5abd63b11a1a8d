"""A second reader's machine: its own network namespace and Docker engine, and nothing left after."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from k8snotes.lifecycle import HostLedger, Resources
from k8snotes.runner.machines import HOST_SETTINGS, Machine

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(
        os.geteuid() != 0 or not shutil.which("dockerd") or not shutil.which("nsenter"),
        reason="a reader's machine needs root, dockerd and nsenter",
    ),
]


def _host_state(name: str) -> list[str]:
    """What a machine could leave on the host: namespaces, links, iptables rules."""
    lines = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    lines += subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout.split()
    for table in ("nat", "filter"):
        rules = subprocess.run(["iptables", "-t", table, "-S"], capture_output=True, text=True)
        lines += [r for r in rules.stdout.splitlines() if name in r]
    return sorted(line for line in lines if name in line)


def test_a_machine_has_its_own_engine_and_network_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("K8SNOTES_CACHE", str(tmp_path))  # its data root: a throw-away one
    machine = Machine(9)
    assert _host_state(machine.name) == []
    settings_before = {setting: setting.read_text() for setting in HOST_SETTINGS}
    host = Resources("the test")  # what a run's leader does before its machines start
    for setting, value in HOST_SETTINGS.items():
        assert HostLedger(host).at_least(setting, value)
    try:
        machine.start()
        assert machine.answers()
        assert _host_state(machine.name), "the namespace and its way out exist while it runs"
        # A process that enters the machine sees its network (the veth, not the host's
        # eth0), and stops it from in there: the host's side goes too.
        entered = subprocess.run(
            [
                sys.executable,
                "-c",
                "from k8snotes.runner.machines import Machine; import os; Machine(9).enter(); "
                "print(os.environ['DOCKER_HOST']); print(open('/proc/net/route').read()); "
                "Machine(9).stop()",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        assert machine.docker_host in entered
        assert "k8snotes0" in entered and "eth0" not in entered.split("Iface", 1)[1]
    finally:
        machine.stop()
        assert host.close() == []
    assert _host_state(machine.name) == []
    assert {setting: setting.read_text() for setting in HOST_SETTINGS} == settings_before
    assert not machine.answers()
