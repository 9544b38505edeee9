"""Standalone trainer entry (``python -m sr_harness.trainer``); the harness CLI offers the same subcommands."""

from __future__ import annotations

import argparse

from sr_harness.errors import EXIT_CODES_HELP, run_command

from .commands import add_subcommands


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sr_harness.trainer", epilog=EXIT_CODES_HELP)
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error instead of one line")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return run_command(args.func, args, debug=args.debug)
