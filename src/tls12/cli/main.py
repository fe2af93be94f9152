"""`tls12 <command>`: the entry point and its argument parsing."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import connect, demo, explain, serve

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tls12", description="A readable TLS 1.2 stack you can watch work.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo.add_parser(commands)
    serve.add_parser(commands)
    connect.add_parser(commands)
    explain.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
