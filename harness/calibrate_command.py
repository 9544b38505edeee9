"""`calibrate` subcommand; registered into the harness CLI by ``add_subcommand``.

Only argument definitions at import time: the timing code (torch) loads when the command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from . import HarnessError
from .errors import positive_int


def add_subcommand(subparsers) -> None:
    p = subparsers.add_parser("calibrate",
                              help="measure the speed gate's false-alarm and detection rates on this machine")
    p.add_argument("--out", default="results/calibration.json")
    p.add_argument("--force", action="store_true", help="replace an existing --out calibration")
    p.add_argument("--runs", type=positive_int, default=None,
                   help="real timing runs per condition (default: the baseline's runs and 3 more)")
    p.add_argument("--baseline-runs", type=positive_int, default=None,
                   help="runs pooled into each comparison's baseline (default: the default suite's baseline_timing; "
                   "with --replay: the calibration's)")
    p.add_argument("--rounds", type=positive_int, default=None, help="interleaved rounds per run (default: the "
                   "default suite's)")
    p.add_argument("--processes", type=positive_int, default=None,
                   help="fresh processes per run (default: the default suite's timing_processes)")
    p.add_argument("--replicates", type=positive_int, default=None,
                   help="replayed comparisons per condition (default 300, or the replayed calibration's)")
    p.add_argument("--replay", metavar="CALIBRATION.json", default=None,
                   help="no timing: re-judge an earlier calibration's raw samples with today's verdict rule")
    p.add_argument("--load-seconds", type=float, default=3600.0, help="upper bound of the background load")
    p.add_argument("--ab", action="store_true",
                   help="the speed A/B's rates: planted commits in a scratch clone timed against HEAD, as CI's "
                        "compare --base times them (calibrate_ab)")
    p.add_argument("--levels", default="0.03,0.05,0.10", help="--ab: planted slowdowns (shares of slimrlfn_x4's time)")
    p.add_argument("--null-trials", type=positive_int, default=3, help="--ab: trials of the docs-only commit per "
                   "condition")
    p.add_argument("--slowed-trials", type=positive_int, default=1, help="--ab: trials of each planted commit per "
                   "condition")
    p.add_argument("--conditions", default="quiet,loaded", help="--ab: quiet, loaded (2 busy processes) or both")
    p.set_defaults(func=cmd_calibrate)


def _calibration(path: str) -> dict:
    import json  # noqa: PLC0415

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise HarnessError(f"{path}: not a readable calibration JSON ({exc}); --replay takes what calibrate wrote") \
            from None
    if not isinstance(data, dict) or data.get("kind") != "sr-harness-calibration" or not all(
            "samples_ms" in c for c in data.get("conditions", {}).values()):
        raise HarnessError(f"{path}: not a calibration with raw samples (written by calibrate since samples are kept)"
                           "; run `python -m sr_harness calibrate` once")
    return data


def cmd_calibrate(args) -> int:
    import json  # noqa: PLC0415

    from .calibrate import calibrate  # noqa: PLC0415
    from .gate_rates import replay  # noqa: PLC0415
    from .outputs import Destination  # noqa: PLC0415
    from .records import WALL_CLOCK  # noqa: PLC0415

    dest = Destination(Path(args.out), "json", flag="--out", replace=args.force).check()
    if args.ab:
        return _calibrate_ab(args, dest)
    if args.replay:
        result = replay(_calibration(args.replay), replicates=args.replicates, baseline_runs=args.baseline_runs)
    else:
        result = calibrate(n_runs=args.runs, rounds=args.rounds, processes=args.processes,
                           baseline_runs=args.baseline_runs,
                           replicates=args.replicates or 300,
                           load_seconds=args.load_seconds, progress=lambda line: print(line, file=sys.stderr))
    dest.write_text(json.dumps(result, indent=1, separators=(",", ":")) + "\n")
    clock = result["settings"].get("clock", WALL_CLOCK)  # calibrations before the clock was kept timed the wall
    for condition, data in result["conditions"].items():
        _print_rates(f"{condition} ({clock})", data)
        if "wall_clock" in data:
            _print_rates(f"{condition} (wall)", data["wall_clock"])
    print(f"wrote {dest.path}")
    return 0


def _print_rates(label: str, data: dict) -> None:
    for threshold, kinds in data["by_threshold"].items():
        real, replayed = kinds["real"], kinds["replayed"]
        detect = ", ".join(f"{k} {v['rate']:.0%}" if v["rate"] is not None else f"{k} n/a"
                           for k, v in replayed["detection_rate"].items())
        fa = replayed["false_alarm_rate"]
        print(f"{label} threshold {float(threshold):.0%}: false alarms {fa['regressed']}/{fa['conclusive']} replayed, "
              f"{real['false_alarm_rate']['regressed']}/{real['false_alarm_rate']['conclusive']} real; "
              f"detection {detect} (replayed)")


def _fractions(text: str, flag: str) -> list[float]:
    from .errors import positive_fraction  # noqa: PLC0415

    try:
        return [positive_fraction(t) for t in text.split(",")]
    except Exception as exc:  # noqa: BLE001  (argparse's message, as one line)
        raise HarnessError(f"{flag} {text!r}: {exc}; e.g. {flag} 0.03,0.05,0.10") from None


def _calibrate_ab(args, dest) -> int:
    import json  # noqa: PLC0415

    from .calibrate_ab import calibrate_ab  # noqa: PLC0415
    from .speed_stats import DEFAULT_AB_PROCESSES, DEFAULT_AB_ROUNDS  # noqa: PLC0415

    conditions = args.conditions.split(",")
    if not conditions or set(conditions) - {"quiet", "loaded"}:
        raise HarnessError(f"--conditions {args.conditions!r}: give quiet, loaded or quiet,loaded")
    result = calibrate_ab(levels=_fractions(args.levels, "--levels"), null_trials=args.null_trials,
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
