"""Run records: one JSON file per run, versioned, validated on write and on load, written through outputs.

A record is typed: every section and row field has a declared type, metric values are checked against the
metric registry (finite; +inf only where a metric allows it, e.g. the PSNR of an exact copy), row keys
(model label, dataset) are unique. A bad file is one ``RecordError`` naming the file and the field.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from sr_harness import HarnessError, metrics
from sr_harness.outputs import Destination, OutputError
from sr_harness.records.migrate import (  # noqa: F401  (clock and page names re-exported)
    CURRENT, HUGE_PAGES, MIGRATIONS, MIXED_PAGES, REGULAR_PAGES, SPEED_DEFAULTS, THREAD_CPU_CLOCK, WALL_CLOCK,
    complete, migrate)

SCHEMA_VERSION = CURRENT  # older versions are migrated on load (records.migrate)
RECORD_KIND = "sr-harness-run"
ROW_STATUSES = ("ok", "failed")
SPEED_TIMES = ("median_ms", "reference_median_ms", "reference_clock_ms")  # ms, > 0 where present
SPEED_COUNTS = ("n_pairs", "n_inputs", "rounds", "processes")  # whole numbers >= 1 where present
MAX_RECORD_BYTES = 256 * 2**20  # a zoo of 80 entries on 10 data sets is a few MiB

_OPT = type(None)
# field -> accepted types, for the top level and for every result row
_TOP = {"kind": str, "schema_version": int, "run_id": str, "config": dict, "env": dict, "results": list,
        "created_utc": (str, _OPT), "suite": (str, _OPT), "headline": (str, _OPT), "description": (str, _OPT),
        "datasets": list, "missing": list, "speed_reference": (dict, _OPT), "phase_seconds": dict,
        "wall_seconds": (int, float), "accepted": list, "ntire_average": dict, "ntire_runs": dict,
        "shard": (dict, _OPT), "shards": list}
_TOP_OPTIONAL: set = set()  # version 3 writes every field (records.migrate.complete)
_ROW = {"model": str, "arch": str, "variant": str, "dataset": str, "status": str, "error": (str, _OPT),
        "n_images": (int, _OPT), "checkpoint": (dict, _OPT), "source": (dict, _OPT), "metrics": dict, "per_image": list,
        "runtime": (dict, _OPT), "timing_input": (dict, _OPT), "speed": (dict, _OPT),
        "complexity": (dict, _OPT), "training": (dict, _OPT)}
_ROW_OPTIONAL: set = set()


class RecordError(HarnessError):
    """Unreadable or invalid record, record of another schema version, or a refused overwrite."""


def _encode(value: Any) -> Any:
    """JSON has no inf/nan: identical images give PSNR = inf, stored as the string "inf"."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


_SPECIAL = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def _decode(value: Any) -> Any:
    if isinstance(value, str) and value in _SPECIAL:
        return _SPECIAL[value]
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _check_fields(data: dict, spec: dict, optional: set, where: str, path) -> None:
    for name, types in spec.items():
        if name not in data:
            if name in optional:
                continue
            raise RecordError(f"{path}: {where} lacks the field {name!r}; re-create it with `python -m sr_harness eval`")
        value = data[name]
        types = types if isinstance(types, tuple) else (types,)
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            raise RecordError(f"{path}: {where} field {name!r} is a {type(value).__name__}, expected "
                              f"{' or '.join(t.__name__ for t in types)}; re-create it with `python -m sr_harness eval`")


def _check_number(value, metric: metrics.Metric, where: str, path) -> None:
    if not metric.valid(value):
        inf = ", or inf" if metric.may_be_infinite else ""
        raise RecordError(f"{path}: {where} {metric.name} = {value!r} is not a valid {metric.label} value (a finite "
                          f"number from {metric.bounds[0]:g} to {metric.bounds[1]:g}{inf}); the run that wrote it "
                          "is broken: re-run it")


def validate_record(data: Any, path: str | os.PathLike = "<record>") -> dict:
    """Check a (decoded) record; returns it unchanged or raises one RecordError naming file and field."""
    if not isinstance(data, dict) or data.get("kind") != RECORD_KIND:
        raise RecordError(f"{path}: not an sr-harness run record (no \"kind\": \"{RECORD_KIND}\")")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        readable = ", ".join(map(str, [*MIGRATIONS, SCHEMA_VERSION]))
        raise RecordError(f"{path}: record schema_version {version!r}, this harness reads {readable}; "
                          "re-run `python -m sr_harness eval` to regenerate it")
    _check_fields(data, _TOP, _TOP_OPTIONAL, "record", path)
    headline = data.get("headline")
    if headline is not None and headline not in metrics.quality_names():
        raise RecordError(f"{path}: headline {headline!r} is not a quality metric ({', '.join(metrics.quality_names())})")
    seen = set()
    for i, row in enumerate(data["results"]):
        where = f"results[{i}]"
        if not isinstance(row, dict):
            raise RecordError(f"{path}: {where} is not an object")
        _check_fields(row, _ROW, _ROW_OPTIONAL, where, path)
        where = f"results[{i}] ({row['model']} on {row['dataset']})"
        key = result_key(row)
        if key in seen:
            raise RecordError(f"{path}: {where} appears twice; row labels must be unique per dataset")
        seen.add(key)
        if row.get("status", "ok") not in ROW_STATUSES:
            raise RecordError(f"{path}: {where} status {row['status']!r} is not one of {', '.join(ROW_STATUSES)}")
        _validate_row_values(row, where, path)
    return data


def _validate_row_values(row: dict, where: str, path) -> None:
    if row.get("status", "ok") == "failed":
        if row["metrics"]:
            raise RecordError(f"{path}: {where} is marked failed but carries metrics; a failed row has none")
        return
    for name in metrics.required_quality():
        if name not in row["metrics"]:
            raise RecordError(f"{path}: {where} lacks the metric {name!r}; re-run `python -m sr_harness eval`")
    for name, value in row["metrics"].items():
        if name in metrics.METRICS:
            _check_number(value, metrics.METRICS[name], f"{where} metric", path)
    for name, value in (row.get("complexity") or {}).items():
        if name in metrics.complexity_names():
            _check_number(value, metrics.METRICS[name], f"{where} complexity", path)
    _validate_speed(row.get("speed") or {}, where, path)
    counts = row.get("complexity") or {}
    for name, may_be_none in (("params_m", False), ("memory_mib", True)):  # memory_mib is None off CUDA
        value = counts.get(name)
        if name in counts and not (value is None and may_be_none) and not metrics.METRICS["flops_g"].valid(value):
            raise RecordError(f"{path}: {where} complexity {name} = {value!r} is not a number >= 0; re-run it")
    checkpoint = row.get("checkpoint")
    needed = (("ntire_repo", "script_sha256") if checkpoint and "team" in checkpoint  # --ntire-repo
              else ("source", "source_sha256") if checkpoint and "source" in checkpoint  # --model
              else ("path", "sha256"))
    if checkpoint is not None and not all(isinstance(checkpoint.get(k), str) for k in needed):
        raise RecordError(f"{path}: {where} checkpoint lacks its path or sha256; re-run `python -m sr_harness eval`")


def _validate_speed(speed: dict, where: str, path) -> None:
    """Every field of a speed entry the gate or the report reads: a damaged one is named here, not a crash or a
    number taken as it is inside compare."""
    if speed:
        if not isinstance(speed.get("reference"), str):
            raise RecordError(f"{path}: {where} speed lacks its reference model name; re-run it")
        if "ratio" not in speed:
            raise RecordError(f"{path}: {where} speed lacks its ratio; re-run it")
    for name in ("ratio", "low", "high"):
        if name in speed and not (metrics.METRICS["time_ratio"].valid(speed[name]) and speed[name] > 0):
            raise RecordError(f"{path}: {where} speed {name} = {speed[name]!r} is not a positive finite number; "
                              "re-run it")
    per_process = speed.get("per_process", [])
    if not isinstance(per_process, list) or not all(metrics.METRICS["time_ratio"].valid(r) and r > 0
                                                    for r in per_process):
        raise RecordError(f"{path}: {where} speed per_process must be a list of positive finite ratios; re-run it")
    for name in SPEED_TIMES:
        if name in speed and not (metrics.METRICS["median_ms"].valid(speed[name]) and speed[name] > 0):
            raise RecordError(f"{path}: {where} speed {name} = {speed[name]!r} is not a positive time; re-run it")
    for name in SPEED_COUNTS:
        value = speed.get(name, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise RecordError(f"{path}: {where} speed {name} = {value!r} is not a whole number >= 1; re-run it")


def checked(record: dict, path="<record>") -> dict:
    """``record`` (in memory or as read) at the current version, every field present, validated."""
    return validate_record(_decode(_encode(complete(migrate(record)))), path)


def record_text(record: dict, path="<record>") -> str:
    """The file text of ``record`` at the current version with every field written out, validated."""
    record = complete(migrate(record))
    validate_record(_decode(_encode(record)), path)
    return json.dumps(_encode(record), indent=1, sort_keys=False, allow_nan=False) + "\n"


def record_destination(path: str | os.PathLike, *, force: bool, flag: str = "--out") -> Destination:
    """Checked before the run: absent, or a record and ``force``; never another kind of file."""
    try:
        return Destination(Path(path), "record", flag=flag, replace=force).check()
    except OutputError as exc:
        raise RecordError(str(exc)) from None


def write_record(record: dict, path: str | os.PathLike | Destination, *, force: bool = False) -> Path:
    """Validate and write ``record``; an existing file is replaced only with ``force`` (and only a record)."""
    dest = path if isinstance(path, Destination) else record_destination(path, force=force)
    text = record_text(record, dest.path)
    try:
        return dest.write_text(text)
    except OutputError as exc:
        raise RecordError(str(exc)) from None


def load_record(path: str | os.PathLike) -> dict:
    """Read and validate a record; every failure is a one-line RecordError naming the file."""
    path = Path(path)
    try:
        if path.exists() and not path.is_dir():
            if not path.is_file():  # a FIFO or a device would block the read or never end
                raise RecordError(f"{path}: not a regular file; give a record written by `python -m sr_harness eval`")
            size = path.stat().st_size
            if size > MAX_RECORD_BYTES:
                raise RecordError(f"{path}: {size} bytes, over a record's {MAX_RECORD_BYTES} limit; "
                                  "give a record written by `python -m sr_harness eval`")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecordError(f"{path}: no such record file (run `python -m sr_harness eval --out {path}` first)") from None
    except IsADirectoryError:
        raise RecordError(f"{path}: is a directory, not a record file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(f"{path}: cannot read record ({type(exc).__name__}: {exc})") from None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        where = f"line {exc.lineno}: {exc.msg}" if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        raise RecordError(f"{path}: not a valid JSON record ({where}); re-create it with `python -m sr_harness eval`") \
            from None
    if not isinstance(data, dict) or data.get("kind") != RECORD_KIND:
        return validate_record(data, path)  # refused by name
    return validate_record(complete(migrate(_decode(data))), path)  # a hand-trimmed file gets the defaults


def result_key(result: dict) -> tuple[str, str]:
    """A result row is identified by (model label, dataset name)."""
    return result["model"], result["dataset"]

