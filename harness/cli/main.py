"""Command line: `python -m sr_harness {list, eval, report}`; eval in cli/eval.py, compare and baseline in
cli/gate.py, calibrate in cli/calibrate.py, leaderboard and merge in cli/board.py, train/prune/fuse from the
trainer.

Every failure is one line on stderr and an exit code (sr_harness.errors); --debug shows the traceback instead.
Nothing heavy (torch) is imported before a command runs, so --help, --version and list start fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sr_harness.cli.eval import add_eval, optional_baseline
from sr_harness.errors import EXIT_CODES_HELP, run_command


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415
    try:
        return version("sr-harness")
    except PackageNotFoundError:
        return "unknown (not installed)"


def cmd_list(args) -> int:
    from sr_harness.models import get_spec, list_models  # noqa: PLC0415

    from sr_harness.config.build import EVAL_IMAGES, load_suites  # noqa: PLC0415

    print("models:")
    for name in list_models(args.pattern):
        spec = get_spec(name)
        tag = "official weights" if spec.official else "no official weights"
        print(f"  {name:<22} x{spec.scale}  {spec.form:<8} {tag}: {spec.description}")
    print("suites:")
    for name, suite in load_suites().items():
        models = ", ".join(m.key for m in suite.models)
        print(f"  {name:<10} {suite.description}\n             models: {models}")
    print("datasets:")
    print(f"  embedded    scikit-image sample images, evaluation split: {', '.join(EVAL_IMAGES)} (LR by MATLAB bicubic)")
    print("  embedded:train  the trainer's images (never evaluated)")
    print("  DIR         a folder: Set5-style HR/ + LR_bicubic_X4/, NTIRE *_HR/*_LR, <DIR>/HR, or plain HR images")
    return 0


def cmd_report(args) -> int:
    from sr_harness.outputs import Destination, distinct  # noqa: PLC0415
    from sr_harness.records.schema import Record  # noqa: PLC0415
    from sr_harness.report.page import report_destination, write_report  # noqa: PLC0415
    from sr_harness.report.tables import is_table  # noqa: PLC0415

    fmt = args.format or {".csv": "csv", ".md": "md"}.get(Path(args.output).suffix.lower(), "html")
    dest = report_destination(args.output, flag="-o") if fmt == "html" else \
        Destination(Path(args.output), "table", flag="-o", replace=True, recognise=is_table).check()
    runs = [*args.runs, *[p for p in args.optional if Path(p).exists()]]
    inputs = [Destination(Path(p), "record", flag="a run record") for p in runs]
    distinct(dest, *inputs)
    records = [Record.read(p) for p in runs]
    if fmt == "html":
        speed_ab = None
        if args.speed_ab and Path(args.speed_ab).exists():
            from sr_harness.records.speed_ab import load_ab_record  # noqa: PLC0415

            speed_ab = load_ab_record(args.speed_ab)
            if speed_ab.get("run_id") != records[0].run_id:
                print(f"note: {args.speed_ab} judged run {speed_ab.get('run_id')}, not {records[0].run_id}: "
                      "its section is left out", file=sys.stderr)
                speed_ab = None
        write_report(records, dest, baseline=optional_baseline(args.baseline), speed_ab=speed_ab)
    else:
        from sr_harness.report.tables import to_csv, to_markdown  # noqa: PLC0415

        dest.write_text(to_csv(records) if fmt == "csv" else to_markdown(records))
    print(f"wrote {dest.path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sr-harness", description="Efficient-SR benchmark harness (NTIRE ESR "
                                     "protocol)", epilog=EXIT_CODES_HELP)
    parser.add_argument("--version", action="version", version=f"sr-harness {_version()}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error instead of one line")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="models, suites and datasets known")
    p.add_argument("pattern", nargs="?", help="glob over model names, e.g. 'slimrlfn*'")
    p.set_defaults(func=cmd_list)

    add_eval(sub)

    p = sub.add_parser("report", help="render records as one self-contained HTML file (or the table as CSV/Markdown)")
    p.add_argument("runs", nargs="+")
    p.add_argument("-o", "--output", required=True, help="output file (an earlier report or table is replaced, "
                   "nothing else)")
    p.add_argument("--format", choices=("html", "csv", "md"), default=None, help="html (default; the whole report), "
                   "or the main table as csv or md (Markdown); by default taken from the -o suffix")
    p.add_argument("--optional", action="append", default=[], metavar="RECORD",
                   help="also render this record when it exists (repeatable)")
    p.add_argument("--baseline", default=None, help="baseline record for the diff section")
    p.add_argument("--speed-ab", default=None, metavar="SPEED_AB.json",
                   help="the A/B record compare wrote (its section is left out when the file is absent)")
    p.set_defaults(func=cmd_report)

    from sr_harness.cli.calibrate import add_subcommand  # noqa: PLC0415  (argument definitions only: no torch)
    from sr_harness.cli.gate import add_subcommands as add_gate_commands  # noqa: PLC0415

    nested = add_gate_commands(sub)
    add_subcommand(sub)
    from sr_harness.cli.board import add_subcommands as add_board_commands  # noqa: PLC0415

    add_board_commands(sub)
    from sr_harness.trainer.commands import add_subcommands  # noqa: PLC0415  (argument definitions only: no torch)

    add_subcommands(sub)
    for command in [*sub.choices.values(), *nested]:  # --debug is accepted after the command name too
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: usage errors exit 2, --help / --version exit 0
        return int(exc.code or 0)
    return run_command(args.func, args, debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
