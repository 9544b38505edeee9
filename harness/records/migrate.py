"""Run records of older schema versions brought up to the current one, one step per version, when they are read.

Version 3 is version 2 with every field written out: a row's ``status``, ``error``, ``runtime`` ... and a speed
entry's ``clock`` and ``pages`` are present in every record, so readers never guess a default. ``complete`` is
applied by the writer before validation and by the reader after migrating (a hand-trimmed file gets the same
defaults, from this one place); ``MIGRATIONS[n]`` turns a version-n record into version n + 1.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

CURRENT = 3

TOP_DEFAULTS = {"created_utc": None, "suite": None, "headline": "psnr_y", "description": None, "datasets": [],
                "missing": [], "speed_reference": None, "phase_seconds": {}, "wall_seconds": 0.0, "accepted": [],
                "ntire_average": {}, "ntire_runs": {}, "shard": None, "shards": []}
ROW_DEFAULTS = {"variant": "", "status": "ok", "error": None, "n_images": None, "checkpoint": None, "source": None,
                "per_image": [], "runtime": None, "timing_input": None, "speed": None, "complexity": None,
                "training": None}
# The clock a speed ratio was taken on and the memory pages of its timing processes (run.timing chooses them);
# speed entries written before these were recorded were timed on the wall clock, on regular pages.
WALL_CLOCK, THREAD_CPU_CLOCK = "wall", "thread CPU time"
HUGE_PAGES, MIXED_PAGES, REGULAR_PAGES = "huge", "mixed", "regular"
SPEED_DEFAULTS = {"clock": WALL_CLOCK, "pages": REGULAR_PAGES}


def complete(record: dict) -> dict:
    """A copy of ``record`` with every optional field present (defaults as above); the input is not changed."""
    out = copy.copy(record)
    for name, default in TOP_DEFAULTS.items():
        out.setdefault(name, copy.deepcopy(default))
    rows = out.get("results")
    if isinstance(rows, list):
        out["results"] = [_complete_row(r) if isinstance(r, dict) else r for r in rows]
    return out


def _complete_row(row: dict) -> dict:
    out = dict(row)
    for name, default in ROW_DEFAULTS.items():
        out.setdefault(name, copy.deepcopy(default))
    if isinstance(out["speed"], dict):
        out["speed"] = {**SPEED_DEFAULTS, **out["speed"]}
    return out


def _v2_to_v3(record: dict) -> dict:
    return {**complete(record), "schema_version": 3}


MIGRATIONS: dict[int, Callable[[dict], dict]] = {2: _v2_to_v3}


def migrate(record: dict) -> dict:
    """``record`` at the current version (unchanged when it is already there). A version with no path to the
    current one is returned as it is, for the validator to refuse by name."""
    version = record.get("schema_version")
    while isinstance(version, int) and not isinstance(version, bool) and version in MIGRATIONS:
        record = MIGRATIONS[version](record)
        version = record["schema_version"]
    return record
