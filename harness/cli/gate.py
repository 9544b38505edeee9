"""`compare` and `baseline update`: the regression gate's commands; registered into the CLI by ``add_subcommands``.

Only argument definitions at import time: records and the verdict code load when a command runs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sr_harness import HarnessError
from sr_harness.errors import EXIT_INCONCLUSIVE, EXIT_REGRESSION, positive_fraction, positive_int
from sr_harness.gate.stats import DEFAULT_AB_PROCESSES, DEFAULT_AB_ROUNDS

DEFAULT_BASELINE = Path("results") / "baseline.json"  # of the project root (the current directory)


def cmd_compare(args) -> int:
    from sr_harness.gate.compare import DEFAULT_SPEED_THRESHOLD, INCONCLUSIVE, compare, format_table, verdict  # noqa: PLC0415
    from sr_harness.run.env import timing_mismatch  # noqa: PLC0415
    from sr_harness.records.schema import Record  # noqa: PLC0415

    run_rec, base = Record.read(args.run), Record.read(args.baseline)
    threshold = DEFAULT_SPEED_THRESHOLD if args.speed_threshold is None else args.speed_threshold
    deltas = compare(run_rec, base, speed_threshold=threshold, absolute_gate=args.absolute_gate)
    mismatch = timing_mismatch(run_rec.env, base.env)
    print(f"run {run_rec.run_id} vs baseline {base.run_id}: accuracy and complexity compared; speed against "
          "the baseline informational" + ("" if not mismatch else f" (environment differs: {', '.join(mismatch)})"))
    if args.base == "none":
        print("speed: not checked (--base none)")
    else:
        deltas += _speed_ab(args, run_rec, base, threshold)
    if all(d.status == "new" for d in deltas):  # never "ok" having checked nothing
        raise HarnessError(f"{args.baseline}: has no rows to check {args.run} against and no speed was compared, "
                           f"so nothing was checked; make it a baseline with `python -m sr_harness baseline update --from {args.run}`")
    print(format_table(deltas, only_moved=not args.all))
    failing = [d for d in deltas if d.failing]
    outcome = verdict(deltas)
    if outcome == "regression":
        print(f"REGRESSION: {len(failing)} check(s) failed ({', '.join(sorted({d.model for d in failing}))}); if the "
              f"change is intended, update the baseline with `python -m sr_harness baseline update --from {args.run} "
              "--accept 'why'` and say why in the commit", file=sys.stderr)
        return EXIT_REGRESSION
    if outcome == INCONCLUSIVE:
        print("INCONCLUSIVE: a slowdown over the threshold was flagged and re-timed, and the two measurements "
              "together were not significant: the machine was too noisy to judge (accuracy and counts passed); "
              "re-run on a quieter machine", file=sys.stderr)
        return EXIT_INCONCLUSIVE
    print(f"ok: {len(deltas)} checks within tolerance" + (" (speed not checked: --base none)"
                                                           if args.base == "none" else ""))
    return 0


def _speed_ab(args, run_rec, baseline, threshold: float) -> list:
    """The A/B of the run's suite against the base revision; its record written next to the run."""
    import json  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from sr_harness.gate.speed_ab import default_base, speed_ab  # noqa: PLC0415
    from sr_harness.outputs import Destination  # noqa: PLC0415

    if args.ab_processes > args.ab_rounds:
        raise HarnessError(f"--ab-processes {args.ab_processes} exceeds --ab-rounds {args.ab_rounds}: each process "
                           "times at least one round; give fewer processes or more rounds")
    rev = args.base or default_base(baseline, args.baseline)
    dest = Destination(Path(args.ab_out or Path(args.run).with_name("speed_ab.json")), "json", flag="--ab-out",
                       replace=True).check()
    print(f"speed: A/B of the working tree against base revision {rev[:12] if args.base is None else rev}, "
          f"{args.ab_processes} fresh processes, {args.ab_rounds} rounds, threshold {threshold:.0%}", flush=True)
    started = time.perf_counter()
    deltas, record = speed_ab(run_rec.suite, rev, threshold=threshold, rounds=args.ab_rounds,
                              processes=args.ab_processes,
                              progress=lambda i, n: print(f"  timing process {i}/{n}", file=sys.stderr, flush=True))
    record["run_id"] = run_rec.run_id  # the report shows an A/B only beside the run it was judged with
    dest.write_text(json.dumps(record, indent=1, separators=(",", ":")) + "\n")
    print(f"speed: A/B record {dest.path} ({time.perf_counter() - started:.0f} s"
          + (", flagged models re-timed)" if any(m["again"] for m in record["models"].values()) else ")"))
    return deltas


def cmd_baseline_update(args) -> int:
    from sr_harness.gate.baseline import BaselineRegression, timing_note, update_baseline  # noqa: PLC0415

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
    p.add_argument("--base", default=None, metavar="REV",
                   help="git revision whose models the working tree's are timed against, here and now (default: the "
                        "commit the baseline was measured at); 'none' skips the speed check")
    p.add_argument("--ab-rounds", type=positive_int, default=DEFAULT_AB_ROUNDS,
                   help=f"interleaved rounds of the A/B (default {DEFAULT_AB_ROUNDS})")
    p.add_argument("--ab-processes", type=positive_int, default=DEFAULT_AB_PROCESSES,
                   help=f"fresh processes the A/B rounds are split over (default {DEFAULT_AB_PROCESSES})")
    p.add_argument("--ab-out", default=None, metavar="FILE.json",
                   help="the A/B record, both sides' times per process (default: speed_ab.json beside the run)")
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
