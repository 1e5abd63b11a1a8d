"""Benchmark: the kind backend (node image, create to Ready, memory, a loaded image's pod).

Run: ``.venv/bin/python benchmarks/kind_cluster.py [--rebuild]``

Uses a cluster of its own (``k8snotes-bench``, host port 8082), so it never touches
the suite's cluster, and deletes it at the end. ``--rebuild`` also times a full node
image build (minutes; the Go binaries stay cached).
"""

from __future__ import annotations

import argparse
import subprocess
import time

from k8snotes.cluster.kind import KindBackend
from k8snotes.provision import docker, images, nodeimage

APP = "k8snotes-bench/app:1"


def timed(label: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Run ``fn`` and print how long it took."""
    start = time.monotonic()
    result = fn(*args, **kwargs)
    print(f"{label}: {time.monotonic() - start:.1f} s", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="also time a node image build")
    args = parser.parse_args()
    was_running = docker.engine_running()
    timed("docker engine ready", docker.ensure_engine)
    if args.rebuild:
        key, base, specs = nodeimage.node_image_key()
        timed("node image build (binaries cached)", nodeimage.build_node_image, key, base, specs)
    timed("node image, warm (present)", nodeimage.ensure_node_image, allow_pull=False)
    backend = KindBackend("k8snotes-bench", host_port=8082)
    try:
        start = time.monotonic()
        backend.up()
        total = time.monotonic() - start
        created = backend._recorded("create_seconds")
        print(
            f"kind create cluster (2 nodes): {created} s; up() with add-ons, all Ready: "
            f"{total:.1f} s"
        )
        time.sleep(30)
        memory = backend.memory_mib()
        print(f"resident memory after 30 s idle: {sum(memory.values()):.0f} MiB {memory}")
        images.build_image(APP, f'FROM {docker.BASE_IMAGE}\nCMD ["sleep", "infinity"]\n')
        timed("kind load docker-image", backend.load_image, APP)
        for i in range(3):
            start = time.monotonic()
            backend.kubectl("run", f"bench-{i}", f"--image={APP}", "--image-pull-policy=Never")
            backend.kubectl("wait", "--for=condition=Ready", f"pod/bench-{i}", "--timeout=60s")
            print(f"pod from the loaded image Ready: {time.monotonic() - start:.2f} s")
    finally:
        timed("down", backend.down, stop_engine=False)
        images.remove(APP)
        left = subprocess.run(
            ["docker", "ps", "-aq", "--filter", "label=io.x-k8s.kind.cluster=k8snotes-bench"],
            capture_output=True,
            text=True,
        ).stdout.split()
        print(f"containers left: {len(left)}")
        if not was_running:
            docker.stop_engine()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
