"""The Docker engine provisioning: runc wrapper, capability detection, base image."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from k8snotes.provision import docker, runc_wrapper

FULL = "CapBnd:\t000001ffffffffff\n"
NO_SYS_RESOURCE = "CapInh:\t0000000000000000\nCapBnd:\t000001fffeffffff\nCapAmb:\t0\n"

CAPS = ["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_SYS_RESOURCE", "CAP_NET_ADMIN"]


def _spec() -> dict[str, object]:
    sets = {name: list(CAPS) for name in runc_wrapper.CAP_SETS}
    return {"ociVersion": "1.0.2", "process": {"args": ["sh"], "capabilities": sets}}


def test_strip_capability_from_a_bundle_spec() -> None:
    spec = _spec()
    assert runc_wrapper.strip_capability(spec)
    caps = spec["process"]["capabilities"]  # type: ignore[index]
    for name in runc_wrapper.CAP_SETS:
        assert caps[name] == ["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_NET_ADMIN"]
    assert not runc_wrapper.strip_capability(spec), "a second pass changes nothing"


def test_strip_capability_from_an_exec_process_file() -> None:
    process = {"args": ["ls"], "capabilities": {"bounding": list(CAPS), "effective": list(CAPS)}}
    assert runc_wrapper.strip_capability(process)
    assert "CAP_SYS_RESOURCE" not in process["capabilities"]["bounding"]  # type: ignore[index]


def test_strip_capability_without_capabilities() -> None:
    assert not runc_wrapper.strip_capability({"process": {"args": ["sh"]}})
    assert not runc_wrapper.strip_capability({})


def test_spec_files_follow_runc_commands(tmp_path: Path) -> None:
    global_opts = ["--root", "/run/x", "--log", "/l.json", "--log-format", "json"]
    create = [*global_opts, "create", "--bundle", "/b", "--pid-file", "/p", "id"]
    assert runc_wrapper.spec_files(create, tmp_path) == [Path("/b/config.json")]
    assert runc_wrapper.spec_files(["run", "--bundle=/c", "id"], tmp_path) == [
        Path("/c/config.json")
    ]
    assert runc_wrapper.spec_files(["create", "id"], tmp_path) == [tmp_path / "config.json"]
    exec_ = [*global_opts, "exec", "--process", "/tmp/p.json", "--detach", "id"]
    assert runc_wrapper.spec_files(exec_, tmp_path) == [Path("/tmp/p.json")]
    assert runc_wrapper.spec_files([*global_opts, "start", "id"], tmp_path) == []
    assert runc_wrapper.spec_files(["--version"], tmp_path) == []


def test_installed_wrapper_rewrites_then_runs_the_real_runc(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps(_spec()))
    # "echo" stands in for runc: the wrapper must exec it with the arguments unchanged.
    wrapper = runc_wrapper.install(tmp_path / "wrapper", "/bin/echo", "/usr/bin/python3")
    out = subprocess.run(
        [str(wrapper), "--root", "/r", "create", "--bundle", str(bundle), "cid"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.split() == ["--root", "/r", "create", "--bundle", str(bundle), "cid"]
    spec = json.loads((bundle / "config.json").read_text())
    assert "CAP_SYS_RESOURCE" not in spec["process"]["capabilities"]["bounding"]
    assert "CAP_SYS_ADMIN" in spec["process"]["capabilities"]["bounding"]
    assert wrapper.read_text().startswith("#!/usr/bin/python3 -I\n")
    assert "REAL_RUNC = '/bin/echo'" in wrapper.read_text()


def test_capability_detection() -> None:
    assert docker.lacks_sys_resource(NO_SYS_RESOURCE)
    assert not docker.lacks_sys_resource(FULL)
    assert docker.bounding_caps(FULL) == 0x1FFFFFFFFFF
    with pytest.raises(docker.DockerError):
        docker.bounding_caps("Name:\tx\n")


def test_process_alive_treats_zombies_as_gone() -> None:
    assert docker.process_alive(os.getpid())
    proc = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while docker.process_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    # Not reaped yet: a zombie, which kill -0 would call alive.
    assert not docker.process_alive(proc.pid)
    proc.wait()
    assert not docker.process_alive(proc.pid)


def test_apt_mirror_from_deb822_and_one_line_sources() -> None:
    deb822 = (
        "Types: deb\n# http://snapshot.debian.org/archive/debian/20250520T000000Z\n"
        "URIs: http://mirror.example/debian/\nSuites: bookworm\n\n"
        "Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n"
    )
    assert docker.apt_mirror({"debian.sources": deb822}) == "http://mirror.example/debian"
    one_line = "deb [arch=amd64] http://ftp.example.org/debian bookworm main\n"
    assert docker.apt_mirror({"sources.list": one_line}) == "http://ftp.example.org/debian"
    other = "deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n"
    assert docker.apt_mirror({"google.list": other}) == docker.DEFAULT_MIRROR


def test_slim_rootfs(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for rel in (
        "usr/share/doc/bash/copyright",
        "usr/share/doc/bash/README.gz",
        "usr/share/man/man1/bash.1.gz",
        "usr/share/locale/de/LC_MESSAGES/bash.mo",
        "usr/share/locale/locale.alias",
        "var/lib/apt/lists/deb.debian.org_dists_bookworm_InRelease",
        "etc/apt/sources.list",
        "etc/hostname",
        "etc/apt/apt.conf.d/.keep",
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x")
    docker.slim_rootfs(root, "http://deb.debian.org/debian")
    assert (root / "usr/share/doc/bash/copyright").exists()
    assert not (root / "usr/share/doc/bash/README.gz").exists()
    assert not (root / "usr/share/man").exists()
    assert (root / "usr/share/locale/locale.alias").exists()
    assert not (root / "usr/share/locale/de").exists()
    assert not list((root / "var/lib/apt/lists").iterdir())
    assert not (root / "etc/apt/sources.list").exists()
    sources = (root / "etc/apt/sources.list.d/debian.sources").read_text()
    assert "Suites: bookworm bookworm-updates" in sources
    assert "path-exclude /usr/share/doc/*" in (root / "etc/dpkg/dpkg.cfg.d/docker").read_text()
    assert (root / "etc/apt/apt.conf.d/docker-clean").exists()
    assert not (root / "etc/hostname").exists()


@pytest.mark.docker
def test_engine_base_image_and_privileged_containers() -> None:
    was_running = docker.engine_running()
    engine = docker.ensure_engine()
    try:
        assert docker.engine_running()
        if was_running:
            assert engine.started_here == (docker._recorded_pid() is not None)
        assert (engine.runtime == docker.RUNTIME_NAME) == (
            engine.started_here and docker.lacks_sys_resource()
        )
        if engine.started_here:  # its images live in the cache: an empty cache, an empty engine
            root = docker.docker("info", "--format", "{{.DockerRootDir}}").strip()
            assert Path(root) == docker.data_root()
        assert docker.ensure_base_image() == docker.BASE_IMAGE
        size = docker.docker("image", "inspect", "--format", "{{.Size}}", docker.BASE_IMAGE)
        assert int(size) < 120_000_000
        # kind needs privileged containers; on a host without CAP_SYS_RESOURCE only the
        # wrapper runtime makes them work.
        out = docker.docker("run", "--rm", "--privileged", docker.BASE_IMAGE, "sh", "-c", "echo ok")
        assert out.strip() == "ok"
    finally:
        if not was_running:
            assert docker.stop_engine()
            assert not docker.engine_running()
            assert not docker.pid_file().exists()


@pytest.mark.docker
def test_stop_engine_leaves_an_engine_it_did_not_start_alone(tmp_path: Path) -> None:
    if not docker.engine_running():
        pytest.skip("needs an engine that is already running")
    if docker._recorded_pid() is not None:
        pytest.skip("the running engine was started by k8snotes")
    assert docker.stop_engine() is False
    assert docker.engine_running()


def test_stop_engine_stops_only_the_recorded_dockerd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pid-file logic, on a stand-in process named ``dockerd`` (not a Docker engine)."""
    monkeypatch.setenv("K8SNOTES_STATE", str(tmp_path / "state"))
    fake = tmp_path / "dockerd"
    fake.write_bytes(Path("/bin/sleep").read_bytes())
    fake.chmod(0o755)
    recorded = subprocess.Popen([str(fake), "60"], start_new_session=True)
    other = subprocess.Popen([str(fake), "60"], start_new_session=True)
    try:
        assert docker.stop_engine() is False, "nothing recorded: nothing stopped"
        docker.pid_file().write_text(f"{recorded.pid}\n")
        # Another process does the stopping, as a later `k8snotes cluster down` would.
        code = "from k8snotes.provision import docker; print(docker.stop_engine())"
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        assert out.strip() == "True"
        assert not docker.process_alive(recorded.pid)
        assert docker.process_alive(other.pid), "an engine it did not record is left alone"
        assert not docker.pid_file().exists()
        docker.pid_file().write_text("999999999\n")
        assert docker.stop_engine() is False, "a stale pid file stops nothing"
    finally:
        for proc in (recorded, other):
            proc.kill()
            proc.wait()
