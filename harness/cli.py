"""Command line: `python -m harness {list, eval, compare, report, baseline}` (+ train/prune/fuse from the trainer).

Every expected failure (bad input, missing file, regression) is one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from . import PROJECT_ROOT, HarnessError

EXIT_ERROR = 2  # bad input or configuration
EXIT_REGRESSION = 1  # compare found a regression
DEFAULT_BASELINE = PROJECT_ROOT / "results" / "baseline.json"


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def cmd_list(args) -> int:
    from models import get_spec, list_models  # noqa: PLC0415

    from .config import load_suites  # noqa: PLC0415
    from .data import EVAL_IMAGES  # noqa: PLC0415

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


def cmd_eval(args) -> int:
    from .config import build_config  # noqa: PLC0415
    from .records import refuse_overwrite, write_record  # noqa: PLC0415
    from .runner import run  # noqa: PLC0415

    out = Path(args.out)
    refuse_overwrite(out, force=args.force)  # fail before minutes of work, not after
    cfg = build_config(args.suite, models=_csv(args.models) if args.models else None,
                       data=[args.data] if args.data else None, weights_dir=args.weights_dir, device=args.device,
                       runtime_mode=args.runtime_mode, rounds=args.rounds, warmup=args.warmup,
                       timing_size=args.timing_size, threads=args.threads)
    record = run(cfg)
    write_record(record, out, force=args.force)
    print(f"wrote {out} ({len(record['results'])} rows, {record['wall_seconds']:.0f} s)")
    for missing in record["missing"]:
        print(f"note: {missing['model']} skipped: {missing['checkpoint']}: {missing['reason']}")
    if args.report:
        from .report import write_report  # noqa: PLC0415
        baseline = _optional_baseline(args.baseline)
        write_report([record], args.report, baseline=baseline)
        print(f"wrote {args.report}")
    return 0


def _optional_baseline(path):
    from .records import load_record  # noqa: PLC0415
    if path is None:
        return None
    return load_record(path) if Path(path).exists() else None


def cmd_compare(args) -> int:
    from .compare import compare, format_table, has_regression  # noqa: PLC0415
    from .env import timing_mismatch  # noqa: PLC0415
    from .records import load_record  # noqa: PLC0415

    run_rec, base = load_record(args.run), load_record(args.baseline)
    deltas = compare(run_rec, base, speed_threshold=args.speed_threshold, absolute_gate=args.absolute_gate)
    mismatch = timing_mismatch(run_rec["env"], base["env"])
    print(f"run {run_rec['run_id']} vs baseline {base['run_id']}: "
          + ("absolute times compared (fingerprints match)" if not mismatch
             else f"absolute times not compared (environment differs: {', '.join(mismatch)}); ratios compared"))
    print(format_table(deltas, only_moved=not args.all))
    if has_regression(deltas):
        failing = sum(d.failing for d in deltas)
        print(f"REGRESSION: {failing} check(s) failed; if the change is intended, update the baseline with "
              f"`python -m harness baseline update --from {args.run}` and say why in the commit message",
              file=sys.stderr)
        return EXIT_REGRESSION
    print(f"ok: {len(deltas)} checks within tolerance")
    return 0


def cmd_report(args) -> int:
    from .records import load_record  # noqa: PLC0415
    from .report import write_report  # noqa: PLC0415

    records = [load_record(p) for p in args.runs]
    write_report(records, args.output, baseline=_optional_baseline(args.baseline))
    print(f"wrote {args.output}")
    return 0


def cmd_baseline_update(args) -> int:
    from .compare import compare, format_table  # noqa: PLC0415
    from .records import load_record, write_record  # noqa: PLC0415

    new = load_record(args.source)
    target = Path(args.to)
    if target.exists():
        print(format_table(compare(new, load_record(target)), only_moved=True))
    write_record(new, target, force=True)
    print(f"baseline {target} <- {args.source} (run {new['run_id']}); commit it with a message saying why")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sr-harness", description="Efficient-SR benchmark harness (NTIRE ESR protocol)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="models, suites and datasets known")
    p.add_argument("pattern", nargs="?", help="glob over model names, e.g. 'slimrlfn*'")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("eval", help="models x datasets x protocols -> one record file")
    p.add_argument("--suite", help="suite from harness/suites.toml (default, official, ntire2024)")
    p.add_argument("--models", help="comma-separated registry names, 'bicubic', or paths to .pth files")
    p.add_argument("--data", help="dataset folder, or 'embedded'")
    p.add_argument("--weights-dir", default=None, help="folder with official <model>.pth files (or SR_WEIGHTS_DIR)")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None)
    p.add_argument("--runtime-mode", choices=("ntire", "steady"), default=None)
    p.add_argument("--rounds", type=int, default=None, help="timed rounds per model (steady timing)")
    p.add_argument("--warmup", type=int, default=None, help="untimed rounds per model")
    p.add_argument("--timing-size", type=int, default=None, help="LR side of the steady-timing crops")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (overrides the suite's; recorded in the fingerprint)")
    p.add_argument("--out", required=True, help="record file to write (JSON)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    p.add_argument("--report", default=None, help="also render an HTML report to this file")
    p.add_argument("--baseline", default=None, help="baseline record for the report's diff section")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("compare", help="regression check of a run against a baseline (exit 1 on regression)")
    p.add_argument("run")
    p.add_argument("--baseline", default=str(DEFAULT_BASELINE))
    p.add_argument("--speed-threshold", type=float, default=0.10, help="relative slowdown that may fail (0.10 = 10%%)")
    p.add_argument("--absolute-gate", action="store_true",
                   help="also fail on absolute-time slowdowns when the environment fingerprints match")
    p.add_argument("--all", action="store_true", help="list every check, not only what moved")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("report", help="render records as one self-contained HTML file")
    p.add_argument("runs", nargs="+")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--baseline", default=None, help="baseline record for the diff section")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("baseline", help="manage the committed regression baseline")
    bsub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    u = bsub.add_parser("update", help="replace the baseline with a run record (the one explicit update)")
    u.add_argument("--from", dest="source", required=True, help="run record, e.g. results/latest.json")
    u.add_argument("--to", default=str(DEFAULT_BASELINE))
    u.set_defaults(func=cmd_baseline_update)

    _add_trainer_commands(sub)
    return parser


def _add_trainer_commands(sub) -> None:
    """The trainer registers train/prune/fuse; imported lazily so the CLI works without it."""
    try:
        trainer_cli = importlib.import_module("harness.trainer.cli")
    except ModuleNotFoundError as exc:
        if exc.name not in ("harness.trainer", "harness.trainer.cli"):
            raise
        return
    trainer_cli.add_subcommands(sub)


def main(argv: list[str] | None = None) -> int:
    return run_command(build_parser().parse_args(argv))


def run_command(args) -> int:
    """Run a parsed command (this CLI's or the trainer's standalone one) with the same error handling."""
    try:
        return args.func(args)
    except HarnessError as exc:
        return _fail(exc)
    except (KeyError, ValueError, OSError) as exc:
        # Errors of the models / protocols / data layers are written as one line naming the file; anything
        # else is a bug and keeps its traceback.
        if type(exc).__module__.split(".")[0] in ("models", "protocols", "harness"):
            return _fail(exc)
        raise


def _fail(exc) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
