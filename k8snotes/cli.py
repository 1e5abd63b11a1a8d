"""The ``k8snotes`` command: provision, list and run a page's blocks, manage the test cluster."""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from k8snotes import paths
from k8snotes.provision import binaries


def _cmd_setup(args: argparse.Namespace) -> int:
    """Provision what the tests need, all cached: binaries, and Docker where it can run."""
    from k8snotes.cluster.registry import docker_usable
    from k8snotes.progress import run_steps

    steps: list[tuple[str, Callable[[], object]]] = [
        (f"{name} binaries", functools.partial(binaries.ensure_all, [name]))
        for name in ("kubernetes", "etcd", "kwok", "kind", "helm")
    ]
    steps.append(("Chromium for the browser tests", _install_browser))
    started = False
    if docker_usable():
        from k8snotes.cluster import addons
        from k8snotes.provision import docker, nodeimage

        def engine() -> None:
            nonlocal started
            started = not docker.engine_running()
            docker.ensure_engine()

        steps += [
            ("the Docker engine", engine),
            ("the Debian base image", docker.ensure_base_image),
            ("the kind node image", nodeimage.ensure_node_image),
            # The images a reader's cluster pulls (metrics-server, Traefik): built here,
            # before the tests, so the pytest workers start with nothing to build.
            ("the add-on images (metrics-server, Traefik)", addons.ensure_images),
        ]
    try:
        run_steps("setup", steps)
    finally:
        if started:
            from k8snotes.provision import docker

            docker.stop_engine()
    return 0


def _install_browser() -> None:
    """Debian's Chromium for the browser tests, where it can be installed (root with apt)."""
    if shutil.which("chromium") or os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    import subprocess

    from k8snotes.progress import step

    with step("installing Debian's chromium for the browser tests"):
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "chromium"],
            timeout=1800,
            check=True,
            capture_output=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )


def _pages(names: Sequence[str]) -> list[Path]:
    root = paths.project_root()
    if not names:
        return sorted((root / "docs").rglob("*.md"))
    # Relative to the working directory, else to the checkout (as pytest's node ids are).
    return [Path(n).resolve() if Path(n).exists() else root / n for n in names]


def _cmd_list(args: argparse.Namespace) -> int:
    """Each block of each page and what will happen to it."""
    from k8snotes.markdown import PageError, parse_page
    from k8snotes.markdown.includes import Includes
    from k8snotes.plan import plan

    root = paths.project_root()
    includes = Includes(root / "mkdocs.yml")
    status = 0
    for page in _pages(args.pages):
        try:
            blocks = parse_page(page, includes, root)
        except PageError as exc:
            print(f"ERROR {exc}")
            status = 1
            continue
        for block in blocks:
            decided = plan(block)
            what = f"skipped: {decided.reason}" if decided.action == "skip" else decided.how
            req = f" (requires {','.join(block.requires)})" if block.requires else ""
            print(f"{block.location:55s} {block.language:10s} {what}{req}")
    return status


def _cmd_run(args: argparse.Namespace) -> int:
    """Run one page's blocks with live output (pytest underneath)."""
    import pytest

    extra = ["-p", "no:xdist"] if args.live else []
    argv = ["--k8snotes", *args.pages, "-v", *extra, "-p", "no:cacheprovider"]
    if args.keep:
        argv.append("--k8snotes-keep")
    if args.backend:
        argv += ["--k8snotes-backend", args.backend]
    if args.mode:
        argv += ["--k8snotes-mode", args.mode]
    return int(pytest.main(argv))


def _cmd_watch(args: argparse.Namespace) -> int:
    """Run a page now and again whenever it or an included file is saved."""
    import subprocess
    import sys

    from k8snotes.markdown.includes import Includes
    from k8snotes.watch import watch

    root = paths.project_root()
    page = _pages([args.page])[0]
    argv = [sys.executable, "-m", "k8snotes.cli", "run", str(page)]
    if args.backend:
        argv += ["--backend", args.backend]
    argv += ["--mode", args.mode]

    def run() -> None:
        subprocess.run(argv, timeout=3600)

    try:
        watch(page, Includes(root / "mkdocs.yml"), root, run)
    except KeyboardInterrupt:
        return 0
    return 0


def _backend(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from k8snotes.cluster.registry import get_backend

    return get_backend(args.backend, getattr(args, "context", None))


def _cmd_cluster(args: argparse.Namespace) -> int:
    backend = _backend(args)
    if args.action == "up":
        from k8snotes.cluster.registry import shared_cluster
        from k8snotes.runner.environment import prepare_cluster

        info = shared_cluster(backend, "cli", prepare_cluster)
        print(f"cluster {info.name} ({info.backend}) is up")
        print(f"kubeconfig: {info.kubeconfig}")
        print(f"context:    {info.context}")
        print("use it in a shell:")
        print(f"  export KUBECONFIG={info.kubeconfig} KUBECACHEDIR={backend.kubecache}")
        return 0
    if args.action == "down":
        from k8snotes.cluster.registry import get_backend
        from k8snotes.runner.environment import release_environment

        # Without --backend: every backend's suite cluster that is recorded as up
        # (``cluster up --backend kwok`` then ``cluster down`` stops kwok too).
        targets = [backend]
        if not args.backend and not getattr(args, "context", None):
            targets = [get_backend(name) for name in ("kind", "kwok")]
            targets = [t for t in targets if t.info() is not None] or [backend]
        for target in targets:
            target.down()
            print(f"cluster {target.cluster_name} ({target.name}) is down")
        release_environment("cli")
        return 0
    if args.action == "status":
        info = backend.info()
        up = backend.is_up()
        print(f"{backend.name}/{backend.cluster_name}: {'up' if up else 'down'}")
        if info and up:
            print(
                f"kubeconfig: {info.kubeconfig}\ncapabilities: {', '.join(info.capabilities)}"
                f"\npods: {'real' if info.real_pods else 'simulated'}"
            )
        return 0 if up else 3
    if args.action == "load-image":
        backend.load_image(args.image)
        return 0
    return 2


def _cmd_doctor(args: argparse.Namespace) -> int:
    """What is available here, and what each backend would need."""
    from k8snotes.cluster.registry import (
        backend_names,
        default_backend_name,
        docker_usable,
        get_backend,
    )

    print(f"cache: {paths.cache_dir()}")
    for name, group in binaries.GROUPS.items():
        print(f"  {name:11s} {group.version:9s} {'cached' if group.is_complete() else 'missing'}")
    print(f"go: {shutil.which('go') or 'missing (needed to build binaries that are not cached)'}")
    print(f"docker: {'usable' if docker_usable() else 'not available'}")
    for name in backend_names():
        if name == "existing":
            print("backend existing: only when asked, with --k8snotes-context NAME")
            continue
        try:
            why = get_backend(name).available()
        except Exception as exc:
            why = str(exc)
        print(f"backend {name}: {'ready' if why is None else why}")
    print(f"default backend: {default_backend_name()}")
    return 0


def _docs_folder(value: str | None) -> Path:
    """``--docs``: as given, else ``docs`` here, else the checkout's."""
    if value:
        return Path(value).resolve()
    here = Path("docs")
    return here.resolve() if here.is_dir() else paths.project_root() / "docs"


def _cmd_ledger(args: argparse.Namespace) -> int:
    """``ledger merge``: combine shards' ledgers, check the cover; ``ledger durations``."""
    from k8snotes import ledger as ledgers

    if args.action == "durations":
        try:
            source = ledgers.Ledger.read(args.ledger)
        except (ledgers.LedgerError, OSError) as exc:
            print(f"ledger durations: {exc}", file=sys.stderr)
            return 1
        durations = ledgers.page_durations(source)
        tests = ledgers.durations_of_tests(source)
        out = Path(args.output)
        previous: dict[str, float] = {}
        if out.is_file():
            try:
                previous = json.loads(out.read_text())
            except ValueError:
                pass
        # The ledger's pages replace every page entry, its test files every other entry;
        # a kind the ledger has no record of (a run of the tests alone) is kept as it was.
        old_pages = {k: v for k, v in previous.items() if str(k).endswith(".md")}
        old_tests = {k: v for k, v in previous.items() if not str(k).endswith(".md")}
        durations = {**(durations or old_pages), **(tests or old_tests)}
        durations = dict(sorted(durations.items()))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(durations, indent=1, sort_keys=True) + "\n")
        pages = {k: v for k, v in durations.items() if k.endswith(".md")}
        print(
            f"wrote {out}: {len(pages)} pages, {sum(pages.values()):.1f} s recorded"
            + (f"; {len(tests)} test files, {sum(tests.values()):.1f} s" if tests else "")
        )
        return 0
    read: list[ledgers.Ledger] = []
    for name in args.ledgers:
        try:
            one = ledgers.Ledger.read(name)
        except (ledgers.LedgerError, OSError) as exc:
            print(f"ledger merge: {exc}", file=sys.stderr)
            return 1
        for info in one.runs:
            print(f"{name}: {info.describe()}: {len(one.pages)} pages, {len(one.blocks)} blocks")
        read.append(one)
    merged = ledgers.Ledger.merge(read)
    if args.base:
        # A pull request's shards ran only what changed: the pages they left out stand as
        # the base ledger (the main branch's) verified them. Its runs are not shards here.
        import dataclasses

        base = ledgers.Ledger.read(args.base)
        base = ledgers.Ledger(
            [dataclasses.replace(r, shard=None) for r in base.runs], base.pages, base.blocks
        )
        merged = base.overlay(merged)
        print(f"{args.base}: the base ledger, for the pages these ledgers did not run")
    docs = _docs_folder(args.docs)
    problems = ledgers.check_cover(merged, ledgers.current_pages(docs))
    merged.write(args.output)
    outcomes: dict[str, int] = {}
    for block in merged.blocks:
        outcomes[block.outcome] = outcomes.get(block.outcome, 0) + 1
    copies = sorted({p.page for p in merged.pages if p.copy is not None})
    print(
        f"merged {len(read)} ledgers into {args.output}: {len(merged.page_names())} pages, "
        f"{len(merged.blocks)} block records ("
        + ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items()))
        + ")"
        + (f"; pages run as copies: {', '.join(copies)}" if copies else "")
    )
    if problems:
        print(f"FAILED: {len(problems)} problems against {docs}:")
        for problem in problems:
            print(f"  {problem}")
        return 1
    print(
        f"OK: every executable block of every page under {docs} appears exactly once; none failed"
    )
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    """The pages the latest ledger does not vouch for: not verified, changed since, failing."""
    from k8snotes import ledger as ledgers

    docs = _docs_folder(args.docs)
    path = Path(args.ledger) if args.ledger else ledgers.latest_path(docs)
    if path.exists():
        try:
            record = ledgers.Ledger.read(path)
        except (ledgers.LedgerError, OSError) as exc:
            print(f"status: {exc}", file=sys.stderr)
            return 2
        dates = sorted(r.date for r in record.runs)
        print(f"ledger: {path} ({len(record.runs)} runs, latest {dates[-1] if dates else '-'})")
    else:
        record = ledgers.Ledger()
        print(f"ledger: {path} does not exist: no page is verified")
    statuses = ledgers.page_statuses(record, ledgers.current_pages(docs))
    order = {"failing": 0, "changed since": 1, "not verified": 2, "verified": 3}
    shown = [s for s in statuses if args.all or s.status != "verified"]
    for status in sorted(shown, key=lambda s: (order[s.status], s.page)):
        print(f"{status.status:14s} {status.page:48s} {status.detail}")
    counts = {k: sum(s.status == k for s in statuses) for k in order}
    print(
        f"{len(statuses)} pages with blocks to run: {counts['verified']} verified, "
        f"{counts['changed since']} changed since, {counts['not verified']} not verified, "
        f"{counts['failing']} failing"
    )
    return 1 if args.check and counts["verified"] < len(statuses) else 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``k8snotes`` command."""
    parser = argparse.ArgumentParser(prog="k8snotes", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("setup", help="provision everything the tests need (cached)")
    p.set_defaults(func=_cmd_setup)
    p = sub.add_parser("list", help="each block of the pages and what will happen to it")
    p.add_argument("pages", nargs="*")
    p.set_defaults(func=_cmd_list)
    p = sub.add_parser("run", help="run pages' blocks against the test cluster, with live output")
    p.add_argument("pages", nargs="+")
    p.add_argument("--backend", default=None, help="kind, kwok or a registered backend")
    p.add_argument("--keep", action="store_true", help="leave the cluster up afterwards")
    p.add_argument(
        "--mode",
        choices=["reader", "namespace"],
        default=None,
        help="namespace: the page alone, in a namespace of the suite's cluster (quick, for "
        "authors); reader: with the pages it needs, on the clusters they make",
    )
    p.add_argument("--live", action="store_true", default=True, help=argparse.SUPPRESS)
    p.set_defaults(func=_cmd_run)
    p = sub.add_parser("watch", help="run a page again whenever it or a file it includes is saved")
    p.add_argument("page")
    p.add_argument("--backend", default=None, help="kind, kwok or a registered backend")
    p.add_argument(
        "--mode",
        choices=["reader", "namespace"],
        default="namespace",
        help="namespace (default): the page alone on the suite's cluster; reader: with its needs",
    )
    p.set_defaults(func=_cmd_watch)
    p = sub.add_parser("cluster", help="the test cluster: up, down, status, load-image")
    csub = p.add_subparsers(dest="action", required=True)
    for action in ("up", "down", "status"):
        a = csub.add_parser(action)
        a.add_argument(
            "--backend", default=None, help="kind, kwok, existing or a registered backend"
        )
        a.add_argument("--context", default=None)
    a = csub.add_parser("load-image")
    a.add_argument("image")
    a.add_argument("--backend", default=None, help="kind or a registered backend")
    p.set_defaults(func=_cmd_cluster)
    p = sub.add_parser("doctor", help="what is available here and what each backend needs")
    p.set_defaults(func=_cmd_doctor)
    p = sub.add_parser("ledger", help="results ledgers: merge the shards' ledgers, durations")
    lsub = p.add_subparsers(dest="action", required=True)
    a = lsub.add_parser(
        "merge",
        help="combine ledgers; fail unless every executable block under --docs appears "
        "exactly once (a declared copy of a set-up page once per copy) and none failed",
    )
    a.add_argument("ledgers", nargs="+", metavar="LEDGER")
    a.add_argument("--docs", default=None, help="the pages' folder (default: docs)")
    a.add_argument("-o", "--output", required=True, help="the merged ledger to write")
    a.add_argument(
        "--base",
        default=None,
        help="a pull request's merge: the main branch's merged ledger stands for the pages "
        "these ledgers did not run (--k8snotes-verified-by left them out)",
    )
    a = lsub.add_parser("durations", help="write page -> seconds (what shards balance with)")
    a.add_argument("ledger")
    a.add_argument("-o", "--output", required=True, help="e.g. .ci/page-durations.json")
    p.set_defaults(func=_cmd_ledger)
    p = sub.add_parser(
        "status", help="pages the latest ledger does not vouch for: not verified, changed, failing"
    )
    p.add_argument(
        "--ledger", default=None, help="default: the docs folder's <cache>/ledger/.../latest.json"
    )
    p.add_argument("--docs", default=None, help="the pages' folder (default: docs)")
    p.add_argument("--all", action="store_true", help="list the verified pages too")
    p.add_argument("--check", action="store_true", help="exit 1 unless every page is verified")
    p.set_defaults(func=_cmd_status)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
