"""The one change made to a page's ``kind create cluster``: the local image, a free host port."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest
import yaml

from k8snotes.runner.kindshim import rewrite

CONFIG = """\
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
  extraPortMappings:
  - containerPort: 80
    hostPort: {port}
    protocol: TCP
"""


def test_other_kind_commands_pass_unchanged(tmp_path: Path) -> None:
    assert rewrite(["get", "clusters"], "img", tmp_path) == (["get", "clusters"], [])


def test_image_added_once(tmp_path: Path) -> None:
    args, notes = rewrite(["create", "cluster"], "kindest/node:v1.37.2", tmp_path)
    assert args == ["create", "cluster", "--image", "kindest/node:v1.37.2"]
    assert len(notes) == 1
    assert "a stand-in for kindnetd" in notes[0] and "kube-network-policies v0.8.0" in notes[0]
    assert "--fail-cgroupv1=false" in notes[0]
    args, notes = rewrite(["create", "cluster", "--image", "x"], "kindest/node:v1.37.2", tmp_path)
    assert args == ["create", "cluster", "--image", "x"] and notes == []


def test_taken_host_port_is_remapped_in_a_copy(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        config = tmp_path / "kind-config.yaml"
        config.write_text(CONFIG.format(port=taken))
        work = tmp_path / "meta"
        work.mkdir()
        args, notes = rewrite(["create", "cluster", f"--config={config}"], "", work)
    copy = Path(args[2].split("=", 1)[1])
    assert copy.parent == work and config.read_text() == CONFIG.format(port=taken)
    new_port = yaml.safe_load(copy.read_text())["nodes"][0]["extraPortMappings"][0]["hostPort"]
    assert new_port != taken
    assert notes == [
        f"hostPort {taken} of {config} is held by the suite's own cluster: mapped to {new_port} instead"
    ]


def test_free_host_port_is_kept(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    config = tmp_path / "kind-config.yaml"
    config.write_text(CONFIG.format(port=free))
    args, notes = rewrite(["create", "cluster", "--config", str(config)], "", tmp_path)
    assert args == ["create", "cluster", "--config", str(config)] and notes == []


def test_a_kind_that_hangs_is_stopped_at_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from k8snotes.runner import kindshim

    fake = tmp_path / "bin" / "kind"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexec sleep 300\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    monkeypatch.setenv("K8SNOTES_SHIM_DIR", str(tmp_path / "shim"))
    monkeypatch.delenv("K8SNOTES_NOTES", raising=False)
    monkeypatch.delenv("K8SNOTES_CREATED_CLUSTERS", raising=False)
    monkeypatch.setattr(kindshim, "KIND_TIMEOUT", 1.0)
    start = time.monotonic()
    assert kindshim.main(["create", "cluster", "--name", "slow"]) == 124
    assert time.monotonic() - start < 30
    assert "did not finish within 1 s" in capsys.readouterr().err
