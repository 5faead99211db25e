"""`python -m explorer …`: a thin command line over the library functions."""

from __future__ import annotations

import argparse
import json
import sys

from explorer.errors import ExplorerError


def _print_json_or_text(data: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(data, indent=2, default=str))
        return
    for key, value in data.items():
        print(f"{key}: {value}")


def cmd_info(args) -> int:
    from explorer import dataset

    _print_json_or_text(dataset.summary(dataset.load_info()), args.json)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m explorer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    info = commands.add_parser("info", help="summary of the Groove MIDI Dataset")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(run=cmd_info)
    # <commands: add new sub-commands above this line>
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ExplorerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
