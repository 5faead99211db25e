"""`python -m explorer …`: a thin command line over the library functions, one module per group of commands."""

from __future__ import annotations

import argparse
import sys

from explorer.cli import generating, info, tools, training
from explorer.errors import ExplorerError

GROUPS = (info, training, generating, tools)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m explorer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ExplorerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
