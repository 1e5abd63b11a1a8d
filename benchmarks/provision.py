"""Benchmark: provisioning the binaries from Go module sources, cold and warm.

Run: ``.venv/bin/python benchmarks/provision.py [--cold]``

Without ``--cold`` it prints what the cache recorded when each group was
provisioned (``complete.json``: source and seconds) and times a warm
``ensure_all`` (target: builds nothing, well under a second). With ``--cold``
it provisions everything again into a fresh temporary cache (target for the
cluster's binaries: under 15 minutes on 2 cores), then deletes it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from k8snotes import paths
from k8snotes.provision import binaries

CLUSTER_GROUPS = ["kubernetes", "etcd", "kwok", "kind"]


def recorded() -> None:
    total = 0.0
    for name, group in binaries.GROUPS.items():
        record = group.root / "complete.json"
        if not record.exists():
            print(f"  {name:24s} not provisioned")
            continue
        data = json.loads(record.read_text())
        total += data["seconds"] if name in CLUSTER_GROUPS else 0
        print(f"  {name:24s} {group.version:9s} {data['source']:9s} {data['seconds']:7.1f} s")
    print(
        f"  cluster binaries ({', '.join(CLUSTER_GROUPS)}), as first provisioned: {total:.0f} s "
        f"({total / 60:.1f} min; target < 15 min)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cold", action="store_true", help="provision again into a fresh cache")
    args = parser.parse_args()
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    print(f"cache: {paths.cache_dir()}")
    recorded()
    start = time.monotonic()
    binaries.ensure_all(CLUSTER_GROUPS)
    print(f"  warm ensure_all of the cluster binaries: {time.monotonic() - start:.3f} s")
    if args.cold:
        fresh = Path(tempfile.mkdtemp(prefix="k8snotes-cold-"))
        os.environ["K8SNOTES_CACHE"] = str(fresh)
        try:
            start = time.monotonic()
            binaries.ensure_all(CLUSTER_GROUPS)
            cold = time.monotonic() - start
            print(
                f"  cold provisioning of the cluster binaries: {cold:.0f} s ({cold / 60:.1f} min)"
            )
        finally:
            shutil.rmtree(fresh, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
