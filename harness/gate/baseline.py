"""`baseline update`: the one explicit way the committed baseline changes, and what it refuses.

The new record must be valid (records.validate_record: schema, finite metrics, unique rows), hold no failed row,
belong to the same suite and datasets as the current baseline, and have the same rows (new rows only with
``allow_new_rows``). A record that regresses against the current baseline is refused unless ``accept`` gives a
reason; the reason is stored in the new baseline (``accepted``) and shown in the report.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sr_harness import HarnessError
from sr_harness.gate.compare import compare, format_table
from sr_harness.records.run import load_record, record_destination, write_record
from sr_harness.records.schema import Record


class BaselineError(HarnessError):
    pass


class BaselineRegression(BaselineError):
    """The record regresses against the current baseline and no --accept reason was given."""


def _same(what: str, new, old, source, target) -> None:
    if new != old:
        raise BaselineError(f"{source}: {what} {new!r} differ from the baseline's {old!r} ({target}); "
                            "a baseline is replaced only by a run of the same suite")


def timing_note(record: dict, source) -> str | None:
    """A baseline timed like any run, where its suite times baselines longer (protocol.baseline_timing): accepted,
    but the gate's measured detection (results/calibration.json) assumes the longer timing."""
    typed = Record.of(record, str(source))
    factor = typed.protocol.get("baseline_timing", 1)
    if factor > 1 and not typed.config.get("timed_for_baseline"):
        return (f"note: {source} was timed as a regular run; suite {typed.suite!r} times a baseline {factor}x "
                f"longer (eval --for-baseline), which finds small slowdowns more often (README: measured error rates)")
    return None


def update_baseline(source: str | Path, target: str | Path, *, allow_new_rows: bool = False,
                    accept: str | None = None) -> tuple[dict, str]:
    """Validate ``source`` against ``target`` and write it there; returns (record, table of what moved)."""
    new = load_record(source)
    typed = Record.from_loaded(new)
    failed = [f"{r.model} on {r.dataset}" for r in typed.rows if not r.ok]
    if failed:
        raise BaselineError(f"{source}: row(s) {', '.join(failed)} failed; a failed run cannot be a baseline")
    if not typed.rows:
        raise BaselineError(f"{source}: has no result rows; run the suite first")
    if accept is not None and not accept.strip():
        raise BaselineError("--accept needs a reason, e.g. --accept 'retrained on the 291 images'")
    dest = record_destination(target, force=True, flag="--to")
    table = ""
    if Path(target).exists():
        base = Record.read(target)
        _same("suite", typed.suite, base.suite, source, target)
        _same("datasets", sorted(typed.datasets), sorted(base.datasets), source, target)
        added = sorted(typed.by_key().keys() - base.by_key().keys())
        if added and not allow_new_rows:
            raise BaselineError(f"{source}: row(s) {', '.join(f'{m} on {d}' for m, d in added)} are not in the "
                                f"baseline {target}; pass --allow-new-rows to add them")
        deltas = compare(typed, base)
        table = format_table(deltas, only_moved=True)
        failing = [f"{d.model}/{d.dataset} {d.metric} {d.status}" for d in deltas
                   if d.failing and d.status != "new"]  # new rows: allowed above by --allow-new-rows
        if failing and accept is None:
            raise BaselineRegression(f"{source}: regresses against the baseline {target} ({len(failing)} failing "
                                     f"check(s), first: {failing[0]}); baseline unchanged; pass --accept 'reason' "
                                     "to replace it anyway")
        if failing:
            new = dict(new, accepted=[{"reason": accept.strip(), "run_id": new["run_id"], "failing": failing,
                                       "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}])
    write_record(new, dest)
    return new, table
