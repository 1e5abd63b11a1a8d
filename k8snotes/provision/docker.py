"""A real Docker engine: the one already running, or ``dockerd`` started (and later stopped) here.

On a CI machine (root, Debian, no init system) nothing starts dockerd, so
:func:`ensure_engine` installs ``docker.io`` if needed and starts it in the
background, recording its pid under ``<state>/docker`` so that :func:`stop_engine`
(from any process) stops exactly that engine and never one it did not start.
An engine started here keeps its images and containers in the cache
(:func:`data_root`), so an empty cache is a fresh machine's engine too.

Nothing can be pulled here, so :func:`ensure_base_image` makes
``debian:bookworm-slim`` from ``debootstrap``, cached as a gzipped tarball.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from k8snotes import locks, paths, versions
from k8snotes.locks import held
from k8snotes.processes import process_alive, process_name
from k8snotes.progress import step
from k8snotes.provision import runc_wrapper

CAP_SYS_RESOURCE = 24
"""Bit number of CAP_SYS_RESOURCE in a capability mask."""

RUNTIME_NAME = "k8snotes-runc"
"""Name under which the runc wrapper is registered with dockerd."""

BASE_IMAGE = f"debian:{versions.DEBIAN_SUITE}-slim"
"""The base image every Dockerfile of the project and the kind node image start from."""

DEFAULT_MIRROR = "http://deb.debian.org/debian"

DOCKER_TIMEOUT = 300.0
"""Seconds a :func:`docker` call may take unless it says otherwise (``ps``, ``inspect``...)."""

TRANSFER_TIMEOUT = 1800.0
"""Seconds for a docker call that moves a whole image (``save``, ``load``, ``import``)."""


class DockerError(RuntimeError):
    """The engine could not be started, stopped or used."""


@dataclass
class Engine:
    """A Docker engine that answers.

    Attributes:
        started_here: True when k8snotes started this dockerd (and will stop it).
        pid: The dockerd pid when started here, else ``None``.
        runtime: The default runtime registered by k8snotes (``""`` for plain runc).
    """

    started_here: bool
    pid: int | None = None
    runtime: str = ""


def _folder() -> Path:
    folder = paths.state_dir() / "docker"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def pid_file() -> Path:
    """Where the pid of a dockerd started by k8snotes is recorded."""
    return _folder() / "dockerd.pid"


def log_file() -> Path:
    """dockerd's log when started by k8snotes."""
    return _folder() / "dockerd.log"


def docker(*args: str, check: bool = True, timeout: float = DOCKER_TIMEOUT, **kw: object) -> str:
    """Run ``docker ARGS`` and return stdout; raise :class:`DockerError` on failure.

    A call that outlives ``timeout`` seconds is killed and raises :class:`DockerError`
    too (``check`` or not).
    """
    try:
        proc = subprocess.run(
            ["docker", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            **kw,  # type: ignore[call-overload]
        )
    except subprocess.TimeoutExpired:
        raise DockerError(
            f"docker {' '.join(args)} did not finish within {timeout:.0f} s"
        ) from None
    if check and proc.returncode != 0:
        raise DockerError(
            f"docker {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}"
        )
    return proc.stdout


def engine_running(timeout: float = 10.0) -> bool:
    """True when a Docker engine answers ``docker info``."""
    if not shutil.which("docker"):
        return False
    try:
        proc = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and bool(proc.stdout.strip())


def bounding_caps(status: str | None = None) -> int:
    """The capability bounding set (``CapBnd``) of this process, as a bit mask."""
    if status is None:
        status = Path("/proc/self/status").read_text()
    match = re.search(r"^CapBnd:\s*([0-9a-fA-F]+)", status, re.M)
    if not match:
        raise DockerError("no CapBnd line in /proc/self/status")
    return int(match.group(1), 16)


def lacks_sys_resource(status: str | None = None) -> bool:
    """True when CAP_SYS_RESOURCE is missing from the bounding set (privileged containers fail)."""
    return not bounding_caps(status) >> CAP_SYS_RESOURCE & 1


def is_dockerd(pid: int) -> bool:
    """True when process ``pid`` is a ``dockerd``."""
    return process_name(pid) == "dockerd"


def _recorded_pid() -> int | None:
    try:
        pid = int(pid_file().read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if process_alive(pid) and is_dockerd(pid) else None


def _install_packages() -> None:
    if shutil.which("dockerd") and shutil.which("debootstrap"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise DockerError("no Docker engine answers, and docker.io cannot be installed here")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with step("installing docker.io and debootstrap with apt-get"):
        cmd = ["apt-get", "install", "-y", "docker.io", "debootstrap"]
        if subprocess.run(cmd, timeout=1800, env=env, capture_output=True).returncode != 0:
            subprocess.run(
                ["apt-get", "update"], timeout=1800, env=env, check=True, capture_output=True
            )
            subprocess.run(cmd, timeout=1800, env=env, check=True, capture_output=True)


def runtime_args() -> tuple[list[str], str]:
    """dockerd arguments registering the runc wrapper where the host lacks CAP_SYS_RESOURCE, and its name."""
    if not lacks_sys_resource():
        return [], ""
    real = shutil.which("runc", path="/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin:/usr/local/bin")
    if not real:
        raise DockerError("runc not found")
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    wrapper = runc_wrapper.install(_folder() / RUNTIME_NAME, real, python)
    return [
        "--add-runtime",
        f"{RUNTIME_NAME}={wrapper}",
        "--default-runtime",
        RUNTIME_NAME,
    ], RUNTIME_NAME


def data_root() -> Path:
    """Where an engine started here keeps its images and containers: ``<cache>/docker-data``.

    In the cache, not in ``/var/lib/docker``: the cache then holds all the warm
    state (the node image, the add-on images, the base image), and a run with
    ``K8SNOTES_CACHE`` pointing at an empty folder starts from an empty engine,
    as a fresh machine does. An engine that was already running is used as it
    is, with its own data root.
    """
    return paths.cache_dir() / "docker-data"


def _start_dockerd(timeout: float) -> Engine:
    _install_packages()
    args, runtime = runtime_args()
    data_root().mkdir(parents=True, exist_ok=True)
    log = log_file().open("ab")
    proc = subprocess.Popen(
        ["dockerd", *args, "--data-root", str(data_root())],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    pid_file().write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if engine_running(timeout=5):
            return Engine(started_here=True, pid=proc.pid, runtime=runtime)
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    terminate(proc.pid, 10)
    proc.poll()
    pid_file().unlink(missing_ok=True)
    tail = log_file().read_text(errors="replace")[-2000:]
    raise DockerError(f"dockerd did not answer within {timeout:.0f} s:\n{tail}")


def ensure_engine(timeout: float = 60.0) -> Engine:
    """Return a Docker engine that answers, starting dockerd when none does.

    An engine that already answers is used as it is (and never stopped by
    :func:`stop_engine` unless k8snotes recorded starting it). Otherwise, as
    root on Debian, ``docker.io`` is installed if missing and ``dockerd`` is
    started in the background; where the host lacks CAP_SYS_RESOURCE, with the
    runc wrapper of :mod:`k8snotes.provision.runc_wrapper` as default runtime.

    Raises:
        DockerError: no engine answers and none could be started.
    """
    with held(_folder() / "engine.lock", "the Docker engine", locks.BRING_UP):
        pid = _recorded_pid()
        if engine_running():
            if pid:
                runtime = RUNTIME_NAME if lacks_sys_resource() else ""
                return Engine(started_here=True, pid=pid, runtime=runtime)
            return Engine(started_here=False)
        if pid:
            # Ours but not answering: stop it and start afresh.
            terminate(pid, 30)
        if os.geteuid() != 0:
            raise DockerError("no Docker engine answers (start one, or run as root)")
        with step("starting dockerd"):
            return _start_dockerd(timeout)


def terminate(pid: int, timeout: float) -> None:
    """SIGTERM ``pid``, SIGKILL it if it outlives ``timeout`` seconds, and reap it if it is our child."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if process_alive(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        while process_alive(pid) and time.monotonic() < deadline + 10:
            time.sleep(0.2)
    try:  # reap it when it was our own child
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def stop_engine(timeout: float = 30.0) -> bool:
    """Stop the dockerd that k8snotes started, if any; an engine it did not start is left alone.

    Returns:
        True when a dockerd was stopped.
    """
    with held(_folder() / "engine.lock", "the Docker engine", locks.BRING_UP):
        pid = _recorded_pid()
        pid_file().unlink(missing_ok=True)
        if not pid:
            return False
        terminate(pid, timeout)
        return True


def image_present(image: str) -> bool:
    """True when the engine has ``image`` locally."""
    proc = subprocess.run(["docker", "image", "inspect", image], timeout=60, capture_output=True)
    return proc.returncode == 0


def apt_mirror(sources: dict[str, str] | None = None) -> str:
    """The Debian mirror configured in the machine's apt sources (deb822 or one-line).

    Args:
        sources: File name to content; read from ``/etc/apt`` when ``None``.

    Returns:
        The first non-security ``debian`` URI found, else ``http://deb.debian.org/debian``.
    """
    if sources is None:
        sources = {}
        for path in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]:
            if path.suffix in (".list", ".sources") and path.is_file():
                sources[str(path)] = path.read_text(errors="replace")
    for content in sources.values():
        for line in content.splitlines():
            line = line.split("#", 1)[0].strip()
            uri = ""
            if line.startswith("URIs:"):
                uri = line.split(":", 1)[1].split()[0] if line.split(":", 1)[1].split() else ""
            elif line.startswith("deb "):
                words = [w for w in line.split()[1:] if not w.startswith("[")]
                uri = words[0] if words else ""
            if uri and "security" not in uri and uri.rstrip("/").endswith("/debian"):
                return uri.rstrip("/")
    return DEFAULT_MIRROR


DPKG_EXCLUDES = """\
# As in the official slim images: no documentation, man pages or translations.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
"""

APT_CONF = {
    "docker-clean": (
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n'
    ),
    "docker-no-languages": 'Acquire::Languages "none";\n',
    "docker-gzip-indexes": 'Acquire::GzipIndexes "true";\n',
    "docker-autoremove-suggests": 'Apt::AutoRemove::SuggestsImportant "false";\n',
}


def debian_sources(mirror: str, suite: str = versions.DEBIAN_SUITE) -> str:
    """``/etc/apt/sources.list.d/debian.sources`` as in the official image, on ``mirror``."""
    security = "http://deb.debian.org/debian-security"
    return (
        f"Types: deb\nURIs: {mirror}\nSuites: {suite} {suite}-updates\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        f"Types: deb\nURIs: {security}\nSuites: {suite}-security\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )


def slim_rootfs(root: Path, mirror: str) -> None:
    """Slim a ``debootstrap --variant=minbase`` tree as the official ``-slim`` images are."""
    (root / "etc/dpkg/dpkg.cfg.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/dpkg/dpkg.cfg.d/docker").write_text(DPKG_EXCLUDES)
    for name, text in APT_CONF.items():
        (root / "etc/apt/apt.conf.d" / name).write_text(text)
    (root / "etc/apt/sources.list").unlink(missing_ok=True)
    (root / "etc/apt/sources.list.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/apt/sources.list.d/debian.sources").write_text(debian_sources(mirror))
    share = root / "usr/share"
    for sub in ("man", "groff", "info", "lintian", "linda"):
        shutil.rmtree(share / sub, ignore_errors=True)
    for doc in (share / "doc").glob("*"):
        if doc.is_dir() and not doc.is_symlink():
            for item in doc.iterdir():
                if item.name != "copyright":
                    shutil.rmtree(
                        item
                    ) if item.is_dir() and not item.is_symlink() else item.unlink()
    locale = share / "locale"
    if locale.is_dir():
        for item in locale.iterdir():
            if item.name != "locale.alias":
                shutil.rmtree(item) if item.is_dir() else item.unlink()
    for pattern in (
        "var/lib/apt/lists/*",
        "var/cache/apt/*.bin",
        "var/cache/apt/archives/*.deb",
        "var/log/*.log",
        "var/log/apt/*",
        "var/cache/debconf/*-old",
    ):
        for item in root.glob(pattern):
            if item.is_file() or item.is_symlink():
                item.unlink()
    for name in ("etc/hostname", "etc/resolv.conf"):
        (root / name).unlink(missing_ok=True)
    (root / "etc/machine-id").write_text("")


def base_tarball() -> Path:
    """Cache path of the gzipped root filesystem of :data:`BASE_IMAGE`."""
    return paths.cache_dir() / "images" / f"debian-{versions.DEBIAN_SUITE}-slim.tar.gz"


def build_base_tarball(dest: Path) -> Path:
    """``debootstrap --variant=minbase``, slim it, and write it as a gzipped tarball."""
    if not shutil.which("debootstrap"):
        _install_packages()
    mirror = apt_mirror()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rootfs-", dir=dest.parent) as tmp:
        root = Path(tmp) / "root"
        with step(f"debootstrap {versions.DEBIAN_SUITE} from {mirror}"):
            proc = subprocess.run(
                ["debootstrap", "--variant=minbase", versions.DEBIAN_SUITE, str(root), mirror],
                timeout=1800,
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                raise DockerError(f"debootstrap failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        slim_rootfs(root, mirror)
        part = dest.with_name(dest.name + ".part")
        subprocess.run(
            ["tar", "-C", str(root), "--numeric-owner", "-czf", str(part), "."],
            timeout=600,
            check=True,
        )
        part.rename(dest)
    return dest


def ensure_base_image() -> str:
    """Make :data:`BASE_IMAGE` present in the engine (from the cached tarball, built if absent).

    Returns:
        The image name.
    """
    if image_present(BASE_IMAGE):
        return BASE_IMAGE
    with held(_folder() / "base-image.lock", "the Debian base image build", locks.BUILD):
        if image_present(BASE_IMAGE):
            return BASE_IMAGE
        tarball = base_tarball()
        if not tarball.exists():
            build_base_tarball(tarball)
        with step(f"importing {BASE_IMAGE}"):
            docker(
                "import",
                "--change",
                'CMD ["bash"]',
                str(tarball),
                BASE_IMAGE,
                timeout=TRANSFER_TIMEOUT,
            )
    return BASE_IMAGE
