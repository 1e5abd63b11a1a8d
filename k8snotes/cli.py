"""The ``k8snotes`` command: provision, list and run a page's blocks, manage the test cluster."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from k8snotes.provision import binaries


def _cmd_setup(args: argparse.Namespace) -> int:
    binaries.ensure_all()
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``k8snotes`` command."""
    parser = argparse.ArgumentParser(prog="k8snotes", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    setup = sub.add_parser("setup", help="provision everything the tests need (cached)")
    setup.set_defaults(func=_cmd_setup)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
