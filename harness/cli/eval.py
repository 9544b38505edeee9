"""`eval`: models x datasets x protocols -> one record file; its arguments and the command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sr_harness import HarnessError
from sr_harness.errors import EXIT_CODES_HELP, EXIT_FAILED_ROWS, positive_int, thread_count


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


class _ExternalOption(argparse.Action):
    """``--model FILE.py:Class`` starts a model; ``--weights``, ``--data-range``, ``--scale``, ``--model-args``,
    ``--state-key`` and ``--name`` after it belong to it (so several --model options each carry their own)."""

    def __call__(self, parser, namespace, value, option_string=None):
        models = list(getattr(namespace, "external", None) or [])
        if self.dest == "source":
            models.append({"source": value})
        elif not models:
            if self.dest == "label":  # --name without --model: labels for --models, comma-separated
                namespace.name = value
                return
            parser.error(f"{option_string} belongs to a --model FILE.py:Class given before it")
        elif self.dest in models[-1]:
            parser.error(f"{option_string} given twice for --model {models[-1]['source']}")
        else:
            models[-1][self.dest] = _external_value(parser, self.dest, value, option_string)
        namespace.external = models


def _external_value(parser, dest: str, value: str, option: str):
    import json  # noqa: PLC0415

    if dest == "args":
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            parser.error(f"{option}: not JSON ({exc.msg}); e.g. {option} '{{\"feature_channels\": 52}}'")
        if not isinstance(parsed, dict):
            parser.error(f"{option}: must be a JSON object of constructor keyword arguments")
        return parsed
    if dest == "data_range":
        if value not in ("1", "255"):
            parser.error(f"{option}: must be 1 or 255 (the input range the network expects), got {value}")
        return float(value)
    if dest == "scale":
        try:
            return positive_int(value)
        except argparse.ArgumentTypeError as exc:
            parser.error(f"{option}: {exc}")
    return value


def add_eval(sub) -> None:
    p = sub.add_parser("eval", help="models x datasets x protocols -> one record file", epilog=EXIT_CODES_HELP,
                       allow_abbrev=False)  # exact names: --ntire-runs children get the same arguments
    p.add_argument("--suite", help="suite from harness/config/suites.toml (default, official, ntire2024), or of --suite-file")
    p.add_argument("--suite-file", metavar="TOML", help="your own suites file, in the format of harness/config/suites.toml; "
                   "model tables may also name a class (source = 'net.py:Net', weights, data_range, ...) or an NTIRE "
                   "team (ntire_repo, team); a file with one suite needs no --suite")
    p.add_argument("--models", help="comma-separated registry names, 'bicubic', or paths to checkpoint files")
    p.add_argument("--name", dest="label", action=_ExternalOption, help="after --model: its row label; else "
                   "comma-separated row labels for --models, in order (an empty item keeps the default)")
    p.add_argument("--model", dest="source", action=_ExternalOption, metavar="FILE.py:Class",
                   help="a network class from any source file, as it is (repeatable; the options below follow it)")
    p.add_argument("--weights", dest="weights", action=_ExternalOption, metavar="PTH",
                   help="after --model: its state dict, loaded strict (weights_only)")
    p.add_argument("--state-key", dest="state_key", action=_ExternalOption, metavar="KEY",
                   help="after --model: the nested state dict to load (params, params_ema, state_dict)")
    p.add_argument("--data-range", dest="data_range", action=_ExternalOption, metavar="1|255",
                   help="after --model: input range the network expects (default 1)")
    p.add_argument("--scale", dest="scale", action=_ExternalOption, metavar="N",
                   help="after --model: its upscaling factor (default 4)")
    p.add_argument("--model-args", dest="args", action=_ExternalOption, metavar="JSON",
                   help="after --model: constructor keyword arguments, e.g. '{\"feature_channels\": 52}'")
    p.add_argument("--ntire-repo", metavar="DIR", help="an NTIRE ESR challenge repository (test_demo.py, models/, "
                   "model_zoo/): its teams are built by the organizers' own select_model, nothing in DIR is changed")
    p.add_argument("--team", metavar="N[,M...]", help="with --ntire-repo: team ids (as select_model numbers them), "
                   "or 'all'")
    p.add_argument("--fused", action="store_true",
                   help="a model with a fold method (switch_to_deploy, reparameterize, fuse, fuse_model: --model and "
                        "--team networks, the project's unfused form) is also evaluated folded, as a row <label>_fused")
    p.add_argument("--data", action="append", help="dataset folder, or 'embedded' (repeatable)")
    p.add_argument("--weights-dir", default=None, help="folder with official <model>.pth files (or SR_WEIGHTS_DIR)")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None)
    p.add_argument("--runtime-mode", choices=("ntire", "steady"), default=None)
    p.add_argument("--rounds", type=positive_int, default=None, help="timed rounds per model (steady timing)")
    p.add_argument("--warmup", type=int, default=None, help="untimed rounds per model")
    p.add_argument("--timing-size", type=int, default=None, help="LR side of the steady-timing crops")
    p.add_argument("--timing-processes", type=positive_int, default=None, metavar="N",
                   help="split the steady rounds over N fresh processes (default: the suite's; at most --rounds)")
    p.add_argument("--for-baseline", action="store_true",
                   help="time a run that is to become the baseline: rounds and timing processes x the suite's "
                   "baseline_timing (default suite: 3, 180 rounds in 18 processes; README: regression check)")
    p.add_argument("--ntire-runs", type=positive_int, default=1, metavar="N",
                   help="NTIRE mode: repeat the whole evaluation in N fresh processes, runtime = mean of the runs "
                   "(the organizers use 5)")
    p.add_argument("--threads", type=thread_count, default=None,
                   help="torch CPU threads (overrides the suite's; recorded in the fingerprint)")
    p.add_argument("--metric", action="append", default=[], help="also compute an optional metric (ssim_rgb: "
                   "the NTIRE script's --ssim, mean SSIM over R, G, B); repeatable")
    p.add_argument("--max-pixels", type=positive_int, default=None,
                   help="refuse images with more pixels than this (default 36,000,000), checked before decoding")
    p.add_argument("--if-data-present", action="store_true",
                   help="exit 0 without running when a --data or --weights-dir folder is absent (optional extras)")
    p.add_argument("--out", required=True, help="record file to write (JSON)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out record")
    p.add_argument("--report", default=None, help="also render an HTML report to this file")
    p.add_argument("--baseline", default=None, help="baseline record for the report's diff section")
    p.set_defaults(func=cmd_eval, name=None, external=None)


def cmd_eval(args) -> int:
    from sr_harness.config.build import build_config  # noqa: PLC0415
    from sr_harness.outputs import distinct  # noqa: PLC0415
    from sr_harness.records.run import record_destination, write_record  # noqa: PLC0415
    from sr_harness.report.page import report_destination, write_report  # noqa: PLC0415

    if args.if_data_present:
        absent = [d for d in (args.data or []) if d != "embedded" and not Path(d).is_dir()]
        absent += [w for w in [args.weights_dir] if w and not Path(w).is_dir()]
        if absent:
            print(f"skipped: {', '.join(absent)} not present (--if-data-present)")
            return 0
    out = record_destination(args.out, force=args.force)  # every destination checked before minutes of work
    report = report_destination(args.report) if args.report else None
    distinct(out, *([report] if report else []))
    cfg = build_config(args.suite, models=_csv(args.models) if args.models else None, data=args.data or None,
                       weights_dir=args.weights_dir, device=args.device, runtime_mode=args.runtime_mode,
                       rounds=args.rounds, warmup=args.warmup, timing_size=args.timing_size, threads=args.threads,
                       timing_processes=args.timing_processes,
                       names=args.name.split(",") if getattr(args, "name", None) is not None else None,
                       extra_metrics=args.metric, max_pixels=args.max_pixels,
                       external=getattr(args, "external", None), ntire_repo=args.ntire_repo,
                       teams=_csv(args.team) if args.team else None, fused=args.fused,
                       for_baseline=args.for_baseline,
                       **({"suites_file": args.suite_file} if args.suite_file else {}))
    baseline = optional_baseline(args.baseline)
    if args.ntire_runs > 1:
        if cfg.protocol.runtime_mode != "ntire":
            raise HarnessError("--ntire-runs needs the NTIRE runtime mode: add --runtime-mode ntire or use an NTIRE "
                               "suite")
        from sr_harness.run.fresh_runs import run_fresh  # noqa: PLC0415
        record = run_fresh(args.argv, args.ntire_runs)
    else:
        from sr_harness.run.runner import run  # noqa: PLC0415
        record = run(cfg)
    write_record(record, out)
    print(f"wrote {out.path} ({len(record['results'])} rows, {record['wall_seconds']:.0f} s)")
    for missing in record["missing"]:
        print(f"note: {missing['model']} skipped: {missing['checkpoint']}: {missing['reason']}")
    if report:
        write_report([record], report, baseline=baseline)
        print(f"wrote {report.path}")
    failed = [r for r in record["results"] if r["status"] != "ok"]
    for row in failed:
        print(f"error: {row['model']} on {row['dataset']} failed: {row['error']}", file=sys.stderr)
    unbuilt = _requested_but_unbuilt(args, record)
    for entry in unbuilt:
        print(f"error: {entry['model']} was asked for by --team and could not be built: {entry['reason']}",
              file=sys.stderr)
    return EXIT_FAILED_ROWS if failed or unbuilt else 0


def _requested_but_unbuilt(args, record: dict) -> list[dict]:
    """Teams named one by one (``--team 0,21``) that could not be built: a run that lacks what it was asked for
    is not a success. With ``--team all`` an unbuildable team is a note, not a failure."""
    if not args.team or args.team.strip().lower() == "all":
        return []
    return [m for m in record["missing"] if "team" in m]


def optional_baseline(path):
    from sr_harness.records.run import load_record  # noqa: PLC0415
    if path is None:
        return None
    return load_record(path) if Path(path).exists() else None
