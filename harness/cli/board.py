"""`sr-harness leaderboard` (every NTIRE year's entries on one page) and `sr-harness merge` (shard records)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from sr_harness import HarnessError
from sr_harness.errors import EXIT_FAILED_ROWS

ZOO_SUITE = "ntire-zoo"


def _outputs(html: str):
    """The page and its CSV and Markdown tables beside it, each checked before any work."""
    from sr_harness.outputs import Destination, distinct  # noqa: PLC0415
    from sr_harness.report.leaderboard import is_leaderboard_table  # noqa: PLC0415
    from sr_harness.report.page import report_destination  # noqa: PLC0415

    page = report_destination(html, flag="-o")
    tables = [Destination(page.path.with_suffix(s), "table", flag="-o", replace=True,
                          recognise=is_leaderboard_table).check() for s in (".csv", ".md")]
    distinct(page, *tables)
    return page, *tables


def _evaluate(args, records_dir: Path) -> list[Path]:
    """One eval per --ntire-repo (its every team) and one for --models; their records in ``records_dir``."""
    from sr_harness.cli.main import main  # noqa: PLC0415

    common = [*sum((["--data", d] for d in args.data), []), *(["--device", args.device] if args.device else []),
              *shlex.split(args.eval_args or ""),
              *(["--force"] if args.force else []), *(["--shard", args.shard] if args.shard else [])]
    runs = [(Path(repo).resolve().name, ["--suite", ZOO_SUITE, "--ntire-repo", repo, "--team", args.team])
            for repo in args.ntire_repo]
    if args.models:
        runs.append(("models", ["--models", args.models, "--runtime-mode", "steady"]))
    records_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, argv in runs:
        out = records_dir / f"{name}{'.shard' + args.shard.replace('/', 'of') if args.shard else ''}.json"
        print(f"leaderboard: evaluating {name} -> {out}", flush=True)
        code = main(["eval", *argv, *common, "--out", str(out)])
        if code not in (0, EXIT_FAILED_ROWS) or not out.is_file():
            raise HarnessError(f"leaderboard: the evaluation of {name} failed (exit {code}); see the line above")
        written.append(out)
    return written


def cmd_leaderboard(args) -> int:
    from sr_harness.records.run import load_record  # noqa: PLC0415
    from sr_harness.report.leaderboard import render, to_csv, to_markdown  # noqa: PLC0415

    if not args.runs and not args.ntire_repo and not args.models:
        raise HarnessError("leaderboard: give records to render, or --ntire-repo DIR (repeatable) / --models with "
                           "--data to evaluate first")
    if (args.ntire_repo or args.models) and not args.data:
        raise HarnessError("leaderboard: --ntire-repo / --models need --data DIR (e.g. ../shared/datasets/Set5)")
    page, csv_dest, md_dest = _outputs(args.output)
    paths = [Path(p) for p in args.runs]
    if args.ntire_repo or args.models:
        records_dir = Path(args.records or page.path.with_name(page.path.stem + "_records"))
        paths += _evaluate(args, records_dir)
    if args.shard:
        print(f"leaderboard: shard {args.shard} evaluated into {', '.join(map(str, paths))}; merge every shard's "
              "records with `sr-harness merge`, then render them with `sr-harness leaderboard MERGED.json ...`")
        return 0
    records = [load_record(p) for p in paths]
    page.write_text(render(records))
    csv_dest.write_text(to_csv(records))
    md_dest.write_text(to_markdown(records))
    print(f"wrote {page.path}, {csv_dest.path}, {md_dest.path}")
    return 0


def cmd_merge(args) -> int:
    from sr_harness.records.merge import merge_records  # noqa: PLC0415
    from sr_harness.records.run import load_record, record_destination, write_record  # noqa: PLC0415
    from sr_harness.run.env import timing_mismatch  # noqa: PLC0415

    dest = record_destination(args.output, force=args.force, flag="-o")
    records = [load_record(p) for p in args.shards]
    merged = merge_records(records, args.shards, lambda a, b: not timing_mismatch(a, b))
    write_record(merged, dest)
    machines = len({s["machine"] for s in merged["shards"]})
    note = "" if machines == 1 else f"; timed on {machines} machines: runtimes compare only within one (see shards)"
    print(f"wrote {dest.path} ({len(merged['results'])} rows from {len(records)} shards{note})")
    if machines > 1:
        print(f"note: {dest.path}: shards were timed on {machines} different machines", file=sys.stderr)
    return 0


def add_subcommands(sub) -> None:
    from sr_harness.config.shards import shard_spec  # noqa: PLC0415

    p = sub.add_parser("leaderboard", help="one page of every NTIRE year's entries (and your models): HTML, CSV, "
                       "Markdown")
    p.add_argument("runs", nargs="*", metavar="RECORD", help="run records to put on the board (e.g. merged shards)")
    p.add_argument("--ntire-repo", action="append", default=[], metavar="DIR",
                   help="evaluate every team of this NTIRE ESR repository first (repeatable; its year is known "
                        "from its test_demo.py or its folder name)")
    p.add_argument("--team", default="all", metavar="N[,M...]", help="teams of each repository (default all)")
    p.add_argument("--models", default=None, help="also evaluate these registry models or checkpoints")
    p.add_argument("--data", action="append", default=[], help="dataset folder (repeatable)")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None)
    p.add_argument("--shard", type=shard_spec, default=None, metavar="K/N",
                   help="evaluate only slice K of N (then merge the shards and render the merged records)")
    p.add_argument("--records", default=None, metavar="DIR",
                   help="where the evaluations' records go (default: <output stem>_records/ beside -o)")
    p.add_argument("--eval-args", default=None, metavar="'OPTIONS'",
                   help="more eval options for every evaluation, quoted as one argument, e.g. '--isolation none "
                        "--rounds 3'")
    p.add_argument("--force", action="store_true", help="replace records of an earlier evaluation")
    p.add_argument("-o", "--output", required=True, help="the HTML page; the .csv and .md tables go beside it")
    p.set_defaults(func=cmd_leaderboard)

    p = sub.add_parser("merge", help="join the shard records of one `eval --shard K/N` run into one record")
    p.add_argument("shards", nargs="+", metavar="SHARD.json")
    p.add_argument("-o", "--output", required=True, help="the merged record")
    p.add_argument("--force", action="store_true", help="replace an existing record at -o")
    p.set_defaults(func=cmd_merge)
