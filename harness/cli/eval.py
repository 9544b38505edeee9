"""`eval`: models x datasets x protocols -> one record file; its arguments and the command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sr_harness import HarnessError
from sr_harness.config.options import EXTERNAL_OPTIONS, RunOptions
from sr_harness.errors import EXIT_CODES_HELP, EXIT_FAILED_ROWS, positive_int


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


MAX_MODEL_ARGS_CHARS = 65536
MAX_MODEL_ARGS_DEPTH = 16  # constructor arguments are flat or a list of widths; deeper nesting is not arguments


def _depth(value, level: int = 1) -> int:
    if level > MAX_MODEL_ARGS_DEPTH:
        return level
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return max((_depth(v, level + 1) for v in children), default=level)


def _external_value(parser, dest: str, value: str, option: str):
    import json  # noqa: PLC0415

    if dest == "args":
        if len(value) > MAX_MODEL_ARGS_CHARS:
            parser.error(f"{option}: {len(value)} characters, at most {MAX_MODEL_ARGS_CHARS}: give keyword arguments, "
                         "not data")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            parser.error(f"{option}: not JSON ({exc.msg}); e.g. {option} '{{\"feature_channels\": 52}}'")
        except RecursionError:
            parsed = None
        if parsed is None or _depth(parsed) > MAX_MODEL_ARGS_DEPTH:
            parser.error(f"{option}: nested more than {MAX_MODEL_ARGS_DEPTH} levels deep; give flat keyword arguments")
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
                       allow_abbrev=False)
    RunOptions.add_arguments(p)
    for dest, (flag, metavar, text) in EXTERNAL_OPTIONS.items():
        p.add_argument(flag, dest=dest, action=_ExternalOption, metavar=metavar, help=text)
    p.add_argument("--ntire-runs", type=positive_int, default=1, metavar="N",
                   help="NTIRE mode: repeat the whole evaluation in N fresh processes, runtime = mean of the runs "
                   "(the organizers use 5)")
    p.add_argument("--if-data-present", action="store_true",
                   help="exit 0 without running when a --data or --weights-dir folder is absent (optional extras)")
    p.add_argument("--out", required=True, help="record file to write (JSON)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out record")
    p.add_argument("--report", default=None, help="also render an HTML report to this file")
    p.add_argument("--baseline", default=None, help="baseline record for the report's diff section")
    p.add_argument("--isolated-entry", default=None, help=argparse.SUPPRESS)  # run.isolation's children
    p.set_defaults(func=cmd_eval, name=None, external=None)


def cmd_eval(args) -> int:
    from sr_harness.config.build import config_from  # noqa: PLC0415
    from sr_harness.outputs import distinct  # noqa: PLC0415
    from sr_harness.records.run import record_destination, write_record  # noqa: PLC0415
    from sr_harness.records.schema import Record  # noqa: PLC0415
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
    options = RunOptions.from_namespace(args)
    cfg = config_from(options)
    baseline = optional_baseline(args.baseline)
    if args.ntire_runs > 1:
        if cfg.protocol.runtime_mode != "ntire":
            raise HarnessError("--ntire-runs needs the NTIRE runtime mode: add --runtime-mode ntire or use an NTIRE "
                               "suite")
        from sr_harness.run.fresh_runs import run_fresh  # noqa: PLC0415
        record = run_fresh(options, args.ntire_runs)
    else:
        record = _run_entries(args, options, cfg)
    write_record(record, out)
    typed = Record.of(record, str(out.path))
    print(f"wrote {out.path} ({len(typed.rows)} rows, {typed.wall_seconds:.0f} s)")
    for missing in typed.missing:
        print(f"note: {missing['model']} skipped: {missing['checkpoint']}: {missing['reason']}")
    if report:
        write_report([typed], report, baseline=baseline)
        print(f"wrote {report.path}")
    failed = [r for r in typed.rows if not r.ok]
    for row in failed:
        print(f"error: {row.model} on {row.dataset} failed: {row.error}", file=sys.stderr)
    unbuilt = _requested_but_unbuilt(options, typed)
    for entry in unbuilt:
        print(f"error: {entry['model']} was asked for by --team and could not be built: {entry['reason']}",
              file=sys.stderr)
    if not typed.rows:  # never a success having measured nothing
        print(f"error: {out.path}: no row was measured (every entry was skipped or could not be built; see the "
              "notes above)", file=sys.stderr)
    return EXIT_FAILED_ROWS if failed or unbuilt or not typed.rows else 0


def _run_entries(args, options: RunOptions, cfg) -> dict:
    """In this process, or with every foreign entry in a process of its own (run.isolation)."""
    import dataclasses  # noqa: PLC0415

    from sr_harness.run.isolation import DEFAULT_MEMORY_LIMIT_GIB, is_foreign, limit_memory, run_isolated  # noqa: PLC0415
    from sr_harness.run.runner import run  # noqa: PLC0415

    if args.isolated_entry is not None:  # a child of run_isolated: that one entry, under its memory limit
        limit_memory(options.entry_memory_limit or DEFAULT_MEMORY_LIMIT_GIB)
        chosen = tuple(e for e in cfg.models if e.key == args.isolated_entry)
        if not chosen:
            raise HarnessError(f"--isolated-entry {args.isolated_entry!r}: no such entry in this run")
        return run(dataclasses.replace(cfg, models=chosen, count_reference=False))
    if options.isolation != "none" and any(is_foreign(e) for e in cfg.models):
        return run_isolated(options, cfg)
    return run(cfg)


def _requested_but_unbuilt(options: RunOptions, record: Record) -> list:
    """Teams named one by one (``--team 0,21``) that could not be built: a run that lacks what it was asked for
    is not a success. With ``--team all`` an unbuildable team is a note, not a failure."""
    if not options.teams or [t.lower() for t in options.teams] == ["all"]:
        return []
    return [m for m in record.missing if "team" in m]


def optional_baseline(path):
    from sr_harness.records.schema import Record  # noqa: PLC0415
    if path is None:
        return None
    return Record.read(path) if Path(path).exists() else None
