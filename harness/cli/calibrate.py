"""`calibrate` subcommand; registered into the harness CLI by ``add_subcommand``.

Only argument definitions at import time: the timing code (torch) loads when the command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sr_harness import HarnessError
from sr_harness.errors import positive_int


def add_subcommand(subparsers) -> None:
    p = subparsers.add_parser("calibrate",
                              help="measure the speed gate's false-alarm and detection rates on this machine")
    p.add_argument("--out", default="results/calibration.json")
    p.add_argument("--force", action="store_true", help="replace an existing --out calibration")
    p.add_argument("--rounds", type=positive_int, default=None, help="interleaved rounds per A/B (default: compare's)")
    p.add_argument("--processes", type=positive_int, default=None, help="fresh processes per A/B (default: compare's)")
    p.add_argument("--load-seconds", type=float, default=3600.0, help="upper bound of the background load")
    p.add_argument("--levels", default="0.03,0.05,0.10", help="planted slowdowns (shares of slimrlfn_x4's time)")
    p.add_argument("--null-trials", type=positive_int, default=3, help="trials of the docs-only commit per "
                   "condition")
    p.add_argument("--slowed-trials", type=positive_int, default=1, help="trials of each planted commit per "
                   "condition")
    p.add_argument("--conditions", default="quiet,loaded", help="quiet, loaded (2 busy processes) or both")
    p.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args) -> int:
    import json  # noqa: PLC0415

    from sr_harness.gate.calibrate import calibrate_ab  # noqa: PLC0415
    from sr_harness.gate.stats import DEFAULT_AB_PROCESSES, DEFAULT_AB_ROUNDS  # noqa: PLC0415
    from sr_harness.outputs import Destination  # noqa: PLC0415

    conditions = args.conditions.split(",")
    if not conditions or set(conditions) - {"quiet", "loaded"}:
        raise HarnessError(f"--conditions {args.conditions!r}: give quiet, loaded or quiet,loaded")
    levels = _fractions(args.levels, "--levels")
    dest = Destination(Path(args.out), "json", flag="--out", replace=args.force).check()
    result = calibrate_ab(levels=levels, null_trials=args.null_trials,
                          slowed_trials=args.slowed_trials, conditions=conditions, load_seconds=args.load_seconds,
                          rounds=args.rounds or DEFAULT_AB_ROUNDS, processes=args.processes or DEFAULT_AB_PROCESSES,
                          progress=lambda line: print(line, file=sys.stderr, flush=True))
    dest.write_text(json.dumps(result, indent=1, separators=(",", ":")) + "\n")
    for condition, data in result["conditions"].items():
        fa = data["false_alarms"]
        detect = ", ".join(f"{float(s):.0%} {d['detected']}/{d['n']} (measured {d['median_change']:+.1%})"
                           for s, d in data["detection"].items() if d["n"])
        print(f"{condition}: false alarms {fa['false_alarms']}/{fa['n']} (inconclusive {fa['inconclusive']}); "
              f"detected {detect}")
    print(f"wrote {dest.path}")
    return 0


def _fractions(text: str, flag: str) -> list[float]:
    from sr_harness.errors import positive_fraction  # noqa: PLC0415

    try:
        return [positive_fraction(t) for t in text.split(",")]
    except Exception as exc:  # noqa: BLE001  (argparse's message, as one line)
        raise HarnessError(f"{flag} {text!r}: {exc}; e.g. {flag} 0.03,0.05,0.10") from None
