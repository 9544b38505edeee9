"""`compare` and `baseline update`: the regression gate's commands; registered into the CLI by ``add_subcommands``.

Only argument definitions at import time: records and the verdict code load when a command runs.
"""

from __future__ import annotations

import sys

from . import PROJECT_ROOT
from .errors import EXIT_INCONCLUSIVE, EXIT_REGRESSION, EXIT_SPEED_UNCONFIRMED, positive_fraction

DEFAULT_BASELINE = PROJECT_ROOT / "results" / "baseline.json"


def cmd_compare(args) -> int:
    from .compare import DEFAULT_SPEED_THRESHOLD, compare, format_table, has_regression, is_inconclusive  # noqa: PLC0415
    from .env import timing_mismatch  # noqa: PLC0415
    from .records import load_record  # noqa: PLC0415

    run_rec, base = load_record(args.run), load_record(args.baseline)
    first = load_record(args.retimed) if isinstance(args.retimed, str) else None
    threshold = DEFAULT_SPEED_THRESHOLD if args.speed_threshold is None else args.speed_threshold
    deltas = compare(run_rec, base, speed_threshold=threshold, absolute_gate=args.absolute_gate, first=first)
    mismatch = timing_mismatch(run_rec["env"], base["env"])
    print(f"run {run_rec['run_id']} vs baseline {base['run_id']}: "
          + ("absolute times compared (fingerprints match)" if not mismatch
             else f"absolute times not compared (environment differs: {', '.join(mismatch)}); ratios compared")
          + f"; speed threshold {threshold:.0%}")
    print(format_table(deltas, only_moved=not args.all))
    failing = [d for d in deltas if d.failing]
    if failing and not args.retimed and all(d.metric == "time_ratio" for d in failing):
        print(f"SPEED REGRESSION TO CONFIRM: {len(failing)} time ratio(s) grew; time once more in a fresh run and "
              f"compare it with --retimed (.ci/run does): a regression that repeats fails", file=sys.stderr)
        return EXIT_SPEED_UNCONFIRMED
    if has_regression(deltas):
        print(f"REGRESSION: {len(failing)} check(s) failed; if the change is intended, update the baseline with "
              f"`python -m sr_harness baseline update --from {args.run} --accept 'why'` and say why in the commit",
              file=sys.stderr)
        return EXIT_REGRESSION
    if is_inconclusive(deltas):
        print("INCONCLUSIVE: the speed reference timed against its own copy was not 1 within its interval: the "
              "machine was too noisy to judge speed (accuracy and counts passed); re-run on a quieter machine",
              file=sys.stderr)
        return EXIT_INCONCLUSIVE
    print(f"ok: {len(deltas)} checks within tolerance")
    return 0


def cmd_baseline_update(args) -> int:
    from .baseline import BaselineRegression, timing_note, update_baseline  # noqa: PLC0415

    try:
        new, table = update_baseline(args.source, args.to, allow_new_rows=args.allow_new_rows, accept=args.accept)
    except BaselineRegression as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REGRESSION
    if table:
        print(table)
    note = timing_note(new, args.source)
    if note:
        print(note, file=sys.stderr)
    print(f"baseline {args.to} <- {args.source} (run {new['run_id']}); commit it with a message saying why")
    return 0


def add_subcommands(sub) -> list:
    """Adds compare and baseline; returns the nested parsers (baseline update) for options every command takes."""
    p = sub.add_parser("compare", help="regression check of a run against a baseline (exit 1 on regression)")
    p.add_argument("run")
    p.add_argument("--baseline", default=str(DEFAULT_BASELINE))
    p.add_argument("--speed-threshold", type=positive_fraction, default=None,
                   help="relative slowdown that may fail (default 0.03 = 3%%; its measured error rates are in "
                        "results/calibration.json)")
    p.add_argument("--retimed", nargs="?", const=True, default=False, metavar="FIRST.json",
                   help="this run re-times a suspected speed regression (exit 6 before): a repeated one fails, exit 1; "
                        "with the first run's record, both runs' timing processes are judged together")
    p.add_argument("--absolute-gate", action="store_true",
                   help="also fail on absolute-time slowdowns when the environment fingerprints match")
    p.add_argument("--all", action="store_true", help="list every check, not only what moved")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("baseline", help="manage the committed regression baseline")
    bsub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    u = bsub.add_parser("update", help="replace the baseline with a run record (the one explicit update)")
    u.add_argument("--from", dest="source", required=True, help="run record, e.g. results/latest.json")
    u.add_argument("--to", default=str(DEFAULT_BASELINE))
    u.add_argument("--allow-new-rows", action="store_true", help="accept rows the current baseline lacks")
    u.add_argument("--accept", default=None, metavar="REASON",
                   help="replace the baseline even though the record regresses against it; REASON is stored")
    u.set_defaults(func=cmd_baseline_update)

    return [u]
