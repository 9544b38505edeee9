"""The speed A/B's record (written by ``compare``, read by ``report --speed-ab``): checked at the door."""

from __future__ import annotations

import json
import math
from pathlib import Path

from sr_harness import HarnessError

RECORD_KIND = "sr-harness-speed-ab"
STATUSES = ("ok", "improved", "regressed", "inconclusive")


def _number(value, positive: bool = False) -> bool:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return ok and (value > 0 if positive else True)


def load_ab_record(path: str | Path) -> dict:
    """The A/B record at ``path``, every field the report reads checked; one line naming the field otherwise."""
    fix = "pass the speed_ab.json that compare wrote"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise HarnessError(f"{path}: not a readable speed A/B record ({' '.join(str(exc).split())[:160]}); {fix}") \
            from None
    if not isinstance(data, dict) or data.get("kind") != RECORD_KIND:
        raise HarnessError(f"{path}: not a speed A/B record (kind is not {RECORD_KIND!r}); {fix}")
    base = data.get("base")
    if not isinstance(base, dict) or not isinstance(base.get("commit"), str):
        raise HarnessError(f"{path}: field base.commit missing or not text; {fix}")
    models = data.get("models")
    if not isinstance(models, dict):
        raise HarnessError(f"{path}: field models missing or not a table; {fix}")
    for name, m in models.items():
        first = m.get("first") if isinstance(m, dict) else None
        if not (isinstance(first, dict) and m.get("status") in STATUSES and _number(m.get("change"))
                and _number(m.get("z")) and _number(first.get("head_median_ms"), positive=True)
                and _number(first.get("base_median_ms"), positive=True)
                and isinstance(first.get("per_process"), list)):
            raise HarnessError(f"{path}: models.{name}: needs status ({', '.join(STATUSES)}), finite change and z, "
                               f"first.head_median_ms / base_median_ms > 0 and first.per_process; {fix}")
    return data
