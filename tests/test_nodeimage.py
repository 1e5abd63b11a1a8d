"""The kind node image: image archives, the ctr shim, the CNI daemon, the build definition."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from k8snotes import versions
from k8snotes.provision import binaries, cni, docker, images, nodeimage

KUBEADM_IMAGES = [
    "registry.k8s.io/kube-apiserver:v1.37.2",
    "registry.k8s.io/kube-controller-manager:v1.37.2",
    "registry.k8s.io/kube-scheduler:v1.37.2",
    "registry.k8s.io/kube-proxy:v1.37.2",
    "registry.k8s.io/coredns/coredns:v1.14.6",
    "registry.k8s.io/pause:3.10.2",
    "registry.k8s.io/etcd:3.7.0-0",
]


def test_qualify_and_split_tag() -> None:
    assert images.qualify("kindest/node:v1") == "docker.io/kindest/node:v1"
    assert images.qualify("debian:bookworm-slim") == "docker.io/library/debian:bookworm-slim"
    assert images.qualify("registry.k8s.io/pause:3.10.2") == "registry.k8s.io/pause:3.10.2"
    assert images.qualify("localhost/x:1") == "localhost/x:1"
    assert images.qualify("host:5000/x:1") == "host:5000/x:1"
    assert images.split_tag("registry.k8s.io/coredns/coredns:v1.14.6") == (
        "registry.k8s.io/coredns/coredns",
        "v1.14.6",
    )
    assert images.split_tag("host:5000/x") == ("host:5000/x", "latest")


def _member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def test_rewrite_archive_puts_qualified_repositories_first(tmp_path: Path) -> None:
    manifest = [
        {
            "Config": "abc123.json",
            "RepoTags": ["kindest/kindnetd:v1", "registry.k8s.io/pause:3.10.2"],
            "Layers": ["l1/layer.tar"],
        },
        {"Config": "def456.json", "RepoTags": ["debian:bookworm-slim"], "Layers": []},
    ]
    src = tmp_path / "in.tar"
    with tarfile.open(src, "w") as tar:
        _member(tar, "l1/layer.tar", b"layer")
        _member(tar, "abc123.json", b"{}")
        _member(tar, "def456.json", b"{}")
        _member(tar, "manifest.json", json.dumps(manifest).encode())
        _member(tar, "repositories", b'{"kindest/kindnetd": {"v1": "abc123"}}')
    out = images.rewrite_archive(src, tmp_path / "out.tar")
    with tarfile.open(out) as tar:
        names = tar.getnames()
        assert names[0] == "repositories"
        assert names.count("repositories") == 1
        assert set(names) == {
            "repositories",
            "l1/layer.tar",
            "abc123.json",
            "def456.json",
            "manifest.json",
        }
        repos = json.loads(tar.extractfile("repositories").read())  # type: ignore[union-attr]
        assert tar.extractfile("l1/layer.tar").read() == b"layer"  # type: ignore[union-attr]
    assert repos == {
        "docker.io/kindest/kindnetd": {"v1": "abc123"},
        "registry.k8s.io/pause": {"3.10.2": "abc123"},
        "docker.io/library/debian": {"bookworm-slim": "def456"},
    }
    assert not (tmp_path / "out.tar.part").exists()


def _real_ctr_stand_in(tmp_path: Path) -> dict[str, str]:
    fake = tmp_path / "ctr-real"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    fake.chmod(0o755)
    shim = tmp_path / "ctr"
    shim.write_text(nodeimage.CTR_SHIM)
    shim.chmod(0o755)
    return {**os.environ, "K8SNOTES_REAL_CTR": str(fake)}


def _shim(tmp_path: Path, env: dict[str, str], *args: str) -> list[str]:
    proc = subprocess.run(
        [str(tmp_path / "ctr"), *args], env=env, capture_output=True, text=True, check=True
    )
    return proc.stdout.splitlines()


def test_ctr_shim_maps_info_and_drops_import_labels(tmp_path: Path) -> None:
    env = _real_ctr_stand_in(tmp_path)
    assert _shim(tmp_path, env, "info") == ["version"]
    assert _shim(tmp_path, env, "--namespace=k8s.io", "info") == ["version"]
    imported = _shim(
        tmp_path,
        env,
        "--namespace=k8s.io",
        "images",
        "import",
        "--label=io.cri-containerd.pinned=pinned",
        "--all-platforms",
        "--no-unpack",
        "-",
    )
    assert imported == [
        "--namespace=k8s.io",
        "images",
        "import",
        "--all-platforms",
        "--no-unpack",
        "-",
    ]
    tag = ["--namespace=k8s.io", "images", "tag", "--force", "a b", "c"]
    assert _shim(tmp_path, env, *tag) == tag


NODES = {
    "items": [
        {
            "metadata": {"name": "k-control-plane"},
            "spec": {"podCIDR": "10.244.0.0/24"},
            "status": {
                "addresses": [
                    {"type": "InternalIP", "address": "172.18.0.3"},
                    {"type": "Hostname", "address": "k-control-plane"},
                ]
            },
        },
        {
            "metadata": {"name": "k-worker"},
            "spec": {"podCIDR": "10.244.1.0/24"},
            "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.2"}]},
        },
        {
            "metadata": {"name": "k-worker2"},
            "spec": {},
            "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.4"}]},
        },
    ]
}


@pytest.fixture
def cni_script(tmp_path: Path) -> tuple[Path, Path]:
    if not shutil.which("jq"):
        pytest.skip("jq is not installed (the CNI image has it)")
    script = tmp_path / "k8snotes-cni"
    script.write_text(cni.SCRIPT)
    script.chmod(0o755)
    nodes = tmp_path / "nodes.json"
    nodes.write_text(json.dumps(NODES))
    return script, nodes


def _cni(script: Path, command: str, nodes: Path, host_ip: str) -> str:
    """What the CNI script prints for ``command`` (it must succeed)."""
    return subprocess.run(
        [str(script), command, str(nodes), host_ip],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout


def test_cni_conflist_for_this_node(cni_script: tuple[Path, Path]) -> None:
    script, nodes = cni_script
    out = _cni(script, "conflist", nodes, "172.18.0.2")
    conf = json.loads(out)
    ptp, portmap = conf["plugins"]
    assert ptp["type"] == "ptp" and ptp["ipMasq"] is False, "kindnetd's: Pods keep their address"
    assert ptp["ipam"]["type"] == "host-local"
    assert ptp["ipam"]["ranges"] == [[{"subnet": "10.244.1.0/24"}]]
    assert portmap == {"type": "portmap", "capabilities": {"portMappings": True}}


def test_cni_conflist_fails_until_the_node_has_a_pod_cidr(cni_script: tuple[Path, Path]) -> None:
    script, nodes = cni_script
    for ip in ("172.18.0.4", "10.0.0.1"):
        proc = subprocess.run([str(script), "conflist", str(nodes), ip], capture_output=True)
        assert proc.returncode != 0
        assert proc.stdout == b""


def test_cni_routes_to_other_nodes(cni_script: tuple[Path, Path]) -> None:
    script, nodes = cni_script
    out = _cni(script, "routes", nodes, "172.18.0.3")
    assert out.splitlines() == ["10.244.1.0/24 172.18.0.2"]


def test_cni_node_name_by_internal_ip(cni_script: tuple[Path, Path]) -> None:
    script, nodes = cni_script
    out = _cni(script, "node-name", nodes, "172.18.0.2")
    assert out == "k-worker\n"


def test_cni_masquerades_only_what_leaves_the_pod_range(cni_script: tuple[Path, Path]) -> None:
    script, _ = cni_script
    out = subprocess.run(
        [str(script), "masquerade", "10.244.0.0/16,fd00:10:244::/56"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "type nat hook postrouting priority srcnat;" in out
    assert "ip saddr { 10.244.0.0/16 } ip daddr != { 10.244.0.0/16 } masquerade" in out
    assert out.startswith("table ip k8snotes-cni\ndelete table ip k8snotes-cni\n")
    proc = subprocess.run([str(script), "masquerade", "fd00:10:244::/56"], capture_output=True)
    assert proc.returncode != 0 and proc.stdout == b""


def test_cni_script_starts_the_enforcer_with_checked_flags() -> None:
    assert "@ENFORCER_ARGS@" not in cni.SCRIPT
    line = next(x for x in cni.SCRIPT.splitlines() if x.strip().startswith("kube-network-policies"))
    assert '--hostname-override="$1"' in line
    for arg in (
        "--nfqueue-id=101",
        "--fail-open",
        "--disable-nri",
        "--netfilter-bug-1766-fix=false",
    ):
        assert arg in line
    assert "kube-network-policies" in cni.DOCKERFILE and "nftables" in cni.DOCKERFILE


def test_the_stand_in_image_gets_the_enforcer_binary() -> None:
    dockerfile, needs = nodeimage.component_specs(KUBEADM_IMAGES)[cni.KINDNETD_IMAGE]
    assert dockerfile == cni.DOCKERFILE
    assert needs == {"kube-network-policies": "kube-network-policies"}


def _fake_kind_base(root: Path) -> Path:
    base = root / "base"
    for rel, text in {
        "Dockerfile": "FROM x\n",
        "files/usr/local/bin/entrypoint": "#!/bin/bash\n",
        "files/kind/bin/mount-product-files.sh": "#!/bin/bash\n",
        "files/etc/containerd/config.toml": "restrict_oom_score_adj = false\n",
        "files/etc/default/kubelet": "KUBELET_EXTRA_ARGS=--runtime-cgroups=/x",
    }.items():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_text(text)
    return base


def test_base_dockerfile(tmp_path: Path) -> None:
    base = _fake_kind_base(tmp_path)
    files = nodeimage.kind_files(base)
    assert "usr/local/bin/entrypoint" in files
    text = nodeimage.base_dockerfile(files, "k1")
    assert text.startswith(f"FROM {docker.BASE_IMAGE}\n")
    assert "containerd runc containernetworking-plugins" in text
    assert "/usr/local/bin/entrypoint" in text and "/kind/bin/mount-product-files.sh" in text
    assert f'sandbox_image = "registry.k8s.io/pause:{versions.PAUSE}"' in text
    assert "restrict_oom_score_adj = true" in text
    assert "--fail-cgroupv1=false" in text
    assert f'{nodeimage.KEY_LABEL}="k1"' in text
    assert "# syntax" not in text and "--chmod" not in text, "legacy builder only"


def test_component_specs_cover_kubeadm_and_kind_images() -> None:
    specs = nodeimage.component_specs(KUBEADM_IMAGES)
    assert set(KUBEADM_IMAGES) <= set(specs)
    assert cni.KINDNETD_IMAGE in specs
    assert nodeimage.STORAGE_PROVISIONER_IMAGE in specs
    assert nodeimage.STORAGE_HELPER_IMAGE in specs
    assert specs["registry.k8s.io/kube-apiserver:v1.37.2"][0].startswith("FROM scratch")
    assert "iptables conntrack" in specs["registry.k8s.io/kube-proxy:v1.37.2"][0]
    assert "USER 65535:65535" in specs["registry.k8s.io/pause:3.10.2"][0]
    with pytest.raises(RuntimeError):
        nodeimage.component_specs(KUBEADM_IMAGES[:3])


def test_build_key_follows_the_files(tmp_path: Path) -> None:
    base = _fake_kind_base(tmp_path)
    specs = nodeimage.component_specs(KUBEADM_IMAGES)
    key = nodeimage.build_key(base, specs)
    assert key == nodeimage.build_key(base, specs)
    (base / "files/etc/default/kubelet").write_text("KUBELET_EXTRA_ARGS=--other")
    assert nodeimage.build_key(base, specs) != key


def test_gomod_replaces_and_require() -> None:
    go_mod = """module x

go 1.25.0

require (
\tsigs.k8s.io/gateway-api v1.4.0
\tgithub.com/a/b v1.0.0 // indirect
)

require github.com/c/d v0.1.0

replace (
\tgithub.com/abbot/go-http-auth => github.com/containous/go-http-auth v0.4.1
\t// a comment
\tgithub.com/gorilla/mux => github.com/containous/mux v0.0.0-2025
)

replace github.com/x/y => github.com/z/y v1.2.3 // pinned
"""
    assert binaries.gomod_replaces(go_mod) == [
        "github.com/abbot/go-http-auth => github.com/containous/go-http-auth v0.4.1",
        "github.com/gorilla/mux => github.com/containous/mux v0.0.0-2025",
        "github.com/x/y => github.com/z/y v1.2.3",
    ]
    assert binaries.gomod_require(go_mod, "sigs.k8s.io/gateway-api") == "v1.4.0"
    assert binaries.gomod_require(go_mod, "github.com/a/b") == "v1.0.0"
    assert binaries.gomod_require(go_mod, "github.com/c/d") == "v0.1.0"
    assert binaries.gomod_require(go_mod, "github.com/none") is None


def _docker_save_stand_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exit_code: int = 0
) -> Path:
    """A ``docker`` first on ``PATH`` whose ``save`` writes a small image archive (no engine).

    ``docker save`` is the one thing ``_save_cache`` asks of Docker; each call is logged
    to the returned file, and the archive is ``stand-in-image.tar`` beside it.
    """
    image = tmp_path / "stand-in-image.tar"
    with tarfile.open(image, "w") as tar:
        _member(tar, "manifest.json", json.dumps([{"RepoTags": [nodeimage.NODE_IMAGE]}]).encode())
        _member(tar, "layer.tar", os.urandom(4096))
    log = tmp_path / "docker-calls"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "docker"
    fake.write_text(
        f'#!/bin/sh\necho "$*" >> "{log}"\n[ "$1" = save ] || exit 99\n'
        f'cat "{image}"\nexit {exit_code}\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def test_save_cache_gzips_the_saved_image_and_drops_older_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("K8SNOTES_CACHE", str(tmp_path / "cache"))
    log = _docker_save_stand_in(tmp_path, monkeypatch)
    older = nodeimage.cached_archive("older-build-key")
    older.parent.mkdir(parents=True)
    older.write_bytes(b"an archive of an earlier build")
    dest = nodeimage._save_cache("0123456789abcdef")
    assert dest == nodeimage.cached_archive("0123456789abcdef")
    assert gzip.decompress(dest.read_bytes()) == (tmp_path / "stand-in-image.tar").read_bytes()
    assert log.read_text().splitlines() == [f"save {nodeimage.NODE_IMAGE}"]
    assert sorted(dest.parent.iterdir()) == [dest], "the older build and the .part are gone"


def test_a_failed_save_leaves_no_archive_and_keeps_the_older_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("K8SNOTES_CACHE", str(tmp_path / "cache"))
    _docker_save_stand_in(tmp_path, monkeypatch, exit_code=1)
    older = nodeimage.cached_archive("older-build-key")
    older.parent.mkdir(parents=True)
    older.write_bytes(b"an archive of an earlier build")
    failed = re.escape(f"docker save {nodeimage.NODE_IMAGE} failed")
    with pytest.raises(docker.DockerError, match=failed):
        nodeimage._save_cache("0123456789abcdef")
    assert not nodeimage.cached_archive("0123456789abcdef").exists()
    assert older.read_bytes() == b"an archive of an earlier build"


def test_a_node_image_in_the_engine_but_not_in_the_cache_is_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cleared cache on an engine that kept the image (found by the cold stability run).

    The engine's answers (the build key, the image's labels) are given; ``_save_cache``
    runs as it is, on the ``docker save`` stand-in.
    """
    monkeypatch.setenv("K8SNOTES_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("K8SNOTES_STATE", raising=False)
    key = "0123456789abcdef"
    monkeypatch.setattr(nodeimage, "node_image_key", lambda: (key, "base", []))
    monkeypatch.setattr(docker, "ensure_engine", lambda: None)
    monkeypatch.setattr(images, "labels", lambda tag: {nodeimage.KEY_LABEL: key})
    log = _docker_save_stand_in(tmp_path, monkeypatch)
    assert nodeimage.ensure_node_image(allow_pull=False) == nodeimage.NODE_IMAGE
    archive = nodeimage.cached_archive(key)
    assert gzip.decompress(archive.read_bytes()) == (tmp_path / "stand-in-image.tar").read_bytes()
    assert nodeimage.ensure_node_image(allow_pull=False) == nodeimage.NODE_IMAGE
    assert log.read_text().splitlines() == [f"save {nodeimage.NODE_IMAGE}"], "saved once"


@pytest.mark.docker
def test_node_image_is_built_once_and_holds_what_kind_needs() -> None:
    was_running = docker.engine_running()
    docker.ensure_engine()
    try:
        tag = nodeimage.ensure_node_image(allow_pull=False)
        key, _, _ = nodeimage.node_image_key()
        assert images.labels(tag).get(nodeimage.KEY_LABEL) == key
        assert nodeimage.cached_archive(key).exists()
        out = docker.docker(
            "run",
            "--rm",
            "--entrypoint",
            "sh",
            tag,
            "-c",
            "crictl --version; containerd --version; ls /opt/cni/bin;"
            " grep -h -e restrict_oom -e sandbox_image /etc/containerd/config.toml;"
            " cat /etc/default/kubelet; ls /kind/manifests",
        )
        assert f"crictl version {versions.CRICTL}" in out
        assert "containerd" in out and "ptp" in out and "host-local" in out
        assert "restrict_oom_score_adj = true" in out
        assert f"registry.k8s.io/pause:{versions.PAUSE}" in out
        assert "--fail-cgroupv1=false" in out
        assert "default-cni.yaml" in out and "default-storage.yaml" in out
    finally:
        if not was_running:
            docker.stop_engine()
