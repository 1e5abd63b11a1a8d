"""Benchmark: the whole site built by MkDocs (Material) and by Zensical, and what differs.

Run: ``.venv/bin/python benchmarks/site_build.py [--repeat 3]``

Prints the command, the median build time of each (target for MkDocs: under
5 s), the Zensical/MkDocs ratio from the same run, and the pages whose article
text differs between the two builds.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TARGET_S = 5.0


def timed(args: list[str], cwd: Path) -> float:
    start = time.monotonic()
    subprocess.run(
        args,
        cwd=cwd,
        check=True,
        capture_output=True,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": f"{BIN}:/usr/bin:/bin"},
    )
    return time.monotonic() - start


def article_text(html: str) -> str:
    body = html.split("<article", 1)[-1].split("</article>", 1)[0]
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", "", body, flags=re.S)
    # Whitespace is dropped: tags such as <abbr> split words differently, not the text.
    return "".join(re.sub(r"<[^>]+>", "", body).split())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    work = Path(tempfile.mkdtemp(prefix="k8snotes-bench-site-"))
    try:
        for name in ("mkdocs.yml", "docs", "snippets", "includes", "hooks", "k8snotes"):
            src = ROOT / name
            (
                shutil.copytree(src, work / name, symlinks=True)
                if src.is_dir()
                else shutil.copy(src, work / name)
            )
        mk = [
            timed([str(BIN / "mkdocs"), "build", "-d", "site-mkdocs"], work)
            for _ in range(args.repeat)
        ]
        zs = [
            timed([str(BIN / "zensical"), "build", "-f", "mkdocs.yml", "--clean"], work)
            for _ in range(args.repeat)
        ]
        mk_med, zs_med = statistics.median(mk), statistics.median(zs)
        pages = len(list((ROOT / "docs").rglob("*.md")))
        print(f"pages: {pages}")
        print(
            f"mkdocs build: median {mk_med:.2f} s over {args.repeat} "
            f"({', '.join(f'{t:.2f}' for t in mk)}; target < {TARGET_S} s)"
        )
        print(f"zensical build: median {zs_med:.2f} s ({', '.join(f'{t:.2f}' for t in zs)})")
        print(f"ratio zensical/mkdocs: {zs_med / mk_med:.2f}")
        differ = []
        abbr_mk = abbr_zs = 0
        for html in sorted((work / "site-mkdocs").rglob("index.html")):
            rel = html.relative_to(work / "site-mkdocs")
            other = work / "site" / rel
            if not other.exists():
                differ.append(f"{rel}: missing under Zensical")
                continue
            mine, theirs = html.read_text(), other.read_text()
            abbr_mk += mine.count("<abbr")
            abbr_zs += theirs.count("<abbr")
            if article_text(mine) != article_text(theirs):
                differ.append(f"{rel}: article text differs")
        print(
            f"glossary tooltips (<abbr>): {abbr_mk} with MkDocs, {abbr_zs} with Zensical "
            "(Zensical ignores hooks:, which append the abbreviations)"
        )
        print(f"pages that differ under Zensical: {len(differ)}")
        for line in differ:
            print("  " + line)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
