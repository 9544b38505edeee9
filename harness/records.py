"""Run records: one JSON file per run, versioned, written atomically, never overwritten unless asked."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from . import HarnessError

SCHEMA_VERSION = 1
RECORD_KIND = "sr-harness-run"


class RecordError(HarnessError):
    """Unreadable record, record of another schema version, or a refused overwrite."""


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


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write`` on a temp file in the same folder, fsync, then os.replace: readers see old or new, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def refuse_overwrite(path: str | os.PathLike, *, force: bool) -> None:
    if Path(path).exists() and not force:
        raise RecordError(f"{path}: exists; refusing to overwrite (pass --force, or choose another --out)")


def write_record(record: dict, path: str | os.PathLike, *, force: bool = False) -> Path:
    """Write ``record`` to ``path``; refuse to replace an existing file unless ``force``."""
    path = Path(path)
    refuse_overwrite(path, force=force)
    if record.get("schema_version") != SCHEMA_VERSION:
        raise RecordError(f"{path}: record has schema_version {record.get('schema_version')!r}, "
                          f"this harness writes {SCHEMA_VERSION}")
    text = json.dumps(_encode(record), indent=1, sort_keys=False, allow_nan=False) + "\n"
    atomic_write_text(path, text)
    return path


def load_record(path: str | os.PathLike) -> dict:
    """Read and validate a record; every failure is a one-line RecordError naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecordError(f"{path}: no such record file (run `python -m harness eval --out {path}` first)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(f"{path}: cannot read record ({type(exc).__name__}: {exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(f"{path}: not a valid JSON record (line {exc.lineno}: {exc.msg}); "
                          "re-create it with `python -m harness eval`") from None
    if not isinstance(data, dict) or data.get("kind") != RECORD_KIND:
        raise RecordError(f"{path}: not an sr-harness run record (no \"kind\": \"{RECORD_KIND}\")")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise RecordError(f"{path}: record schema_version {version!r}, this harness reads {SCHEMA_VERSION}; "
                          "re-run `python -m harness eval` to regenerate it")
    for key in ("results", "env", "config"):
        if key not in data:
            raise RecordError(f"{path}: record lacks the {key!r} section; re-create it with `python -m harness eval`")
    return _decode(data)


def result_key(result: dict) -> tuple[str, str]:
    """A result row is identified by (model label, dataset name)."""
    return result["model"], result["dataset"]
