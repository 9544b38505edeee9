"""How a project checkpoint was trained, summarised for its run-record rows.

The trainer's export writes ``<stem>.train.json`` next to each checkpoint (its name is also in the checkpoint's
``extra["train_record"]``). The runner copies a summary of it into the record — recipe, per-stage steps, wall
time and validation PSNR, and every pruning curve — so a report re-rendered from the record alone still shows
it. The file is auxiliary: an unreadable or malformed one is a warning and no summary, never a failed run.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

TRAIN_SUFFIX = ".train.json"
_TOP_KEYS = ("recipe", "recipe_file", "seed", "data", "stage", "form", "total_steps", "train_wall_s", "device",
             "world_size", "exported_at")
_STAGE_KEYS = ("kind", "model", "steps", "wall_s", "val_psnr_y")


class TrainingRecordWarning(UserWarning):
    """A checkpoint's training record exists but cannot be used; the run goes on without it."""


def training_record_path(checkpoint: Path, extra: dict | None) -> Path | None:
    """The sidecar named by the checkpoint (a bare file name: it always lies next to it), else <stem>.train.json."""
    named = (extra or {}).get("train_record")
    name = Path(named).name if isinstance(named, str) and named else checkpoint.stem + TRAIN_SUFFIX
    path = checkpoint.with_name(name)
    return path if path.is_file() else None


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _widths(value) -> bool:
    return isinstance(value, list) and all(
        isinstance(w, list) and w and all(isinstance(c, int) and not isinstance(c, bool) for c in w) for w in value)


def _curve_point(point) -> dict:
    """One validated pruning step; raises ValueError or TypeError naming what is wrong."""
    if not isinstance(point, dict):
        raise TypeError("a pruning-curve point is not an object")
    checks = {"step": lambda v: isinstance(v, int) and not isinstance(v, bool), "inner_widths": _widths,
              "params": lambda v: isinstance(v, int) and not isinstance(v, bool), "flops_g": _number,
              "psnr_y": _number, "accepted": lambda v: isinstance(v, bool)}
    for key, ok in checks.items():
        if not ok(point.get(key)):
            raise ValueError(f"pruning step {point.get('step')!r}: bad or missing {key!r}")
    clean = {key: point[key] for key in checks}
    for key in ("finetune_steps", "final_loss"):
        if _number(point.get(key)):
            clean[key] = point[key]
    return clean


def _curve(stage: dict) -> list:
    """Validation PSNR-Y vs step of a stage, [[step, dB], ...]; malformed points are dropped."""
    points = stage.get("curve")
    if not isinstance(points, list):
        return []
    return [[int(p[0]), float(p[1])] for p in points if isinstance(p, list) and len(p) == 2
            and isinstance(p[0], int) and not isinstance(p[0], bool) and _number(p[1])]


def _pruning(name: str, stage: dict) -> dict:
    curve = stage["pruning_curve"]
    if not isinstance(curve, list) or not curve:
        raise ValueError(f"stage {name!r}: pruning_curve is not a non-empty list")
    return {"stage": name, "floor_db": stage.get("floor_db") if _number(stage.get("floor_db")) else None,
            "stopped_by_floor": bool(stage.get("stopped_by_floor")), "curve": [_curve_point(p) for p in curve]}


def summarise(data: dict, *, file: str) -> dict:
    """The record-ready summary of a parsed training record; raises ValueError or TypeError when malformed."""
    stages = data.get("stages") or {}
    if not isinstance(stages, dict) or not all(isinstance(s, dict) for s in stages.values()):
        raise ValueError("'stages' is not an object of stage objects")
    plain = (str, int, float, bool, type(None))
    return {"file": file, **{k: data.get(k) for k in _TOP_KEYS if isinstance(data.get(k), plain)},
            "stages": [{"name": str(name), **{k: s.get(k) for k in _STAGE_KEYS if isinstance(s.get(k), plain)},
                        "curve": _curve(s)} for name, s in stages.items()],
            "pruning": [_pruning(str(name), s) for name, s in stages.items() if "pruning_curve" in s]}


def training_summary(checkpoint: str | Path, extra: dict | None = None) -> dict | None:
    """Summary of the checkpoint's training record, or None when there is none (or it is unusable: warned)."""
    checkpoint = Path(checkpoint)
    path = training_record_path(checkpoint, extra)
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        if data.get("file") not in (None, checkpoint.name):
            raise ValueError(f"it describes {data.get('file')!r}, not {checkpoint.name!r}")
        return summarise(data, file=path.name)
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
        warnings.warn(f"{path}: training record not used ({exc}); the report shows no training details for "
                      f"{checkpoint.name} (re-export it with `python -m sr_harness train`)", TrainingRecordWarning,
                      stacklevel=2)
        return None
