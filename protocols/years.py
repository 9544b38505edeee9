"""Each NTIRE ESR year's ranking rule (protocols/ntire_years.toml): its baseline, its score and its eligibility.

Every term is computed against that year's baseline entry measured in the same run on the same machine, so
years measured together are comparable; the absolute numbers of the challenge (an RTX 3090, a Titan Xp) are not
needed. PSNR eligibility rounds the measured value to two decimals (half up, as the challenge tables print it)
before comparing: 26.895 dB passes a 26.90 dB threshold, 26.894 dB does not.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

YEARS_FILE = Path(__file__).with_name("ntire_years.toml")
PSNR_DECIMALS = 2


@dataclass(frozen=True)
class YearRule:
    year: int
    repository: str
    script_sha256: str
    flop_counter: str
    baseline_team: int
    baseline_name: str
    rule: str  # "score" (weighted exponential terms) or "runtime" (the main track ranks by runtime)
    eligibility: str  # "threshold" (fixed dB on named sets) or "baseline" (no worse than the baseline)
    source: str
    weights: dict[str, float] = field(default_factory=dict)
    thresholds_db: dict[str, float] = field(default_factory=dict)
    published: str | None = None  # file (beside this one) with the year's published results table


# Published complexity columns -> (the record's complexity field, scale to the published unit, tolerance). A value
# matches when it agrees to the printed precision: half a unit of the last digit; params one unit (tables print
# them truncated as often as rounded).
PUBLISHED_COLUMNS = {"params_m": ("params", 1e-6, 0.001), "flops_g": ("flops_g_own", 1.0, 0.005),
                     "activations_m": ("activations_m", 1.0, 0.005), "convs": ("convs", 1, 0)}


def load_published(rule: YearRule) -> dict[int, dict]:
    """The year's published results per team id (empty where the year has none carried)."""
    if not rule.published:
        return {}
    with open(YEARS_FILE.with_name(rule.published), "rb") as fh:
        data = tomllib.load(fh)
    return {e["team"]: {**e, "source": data["source"]["table"]} for e in data["entry"]}


def published_differences(published: dict, complexity: dict) -> list[str]:
    """The published complexity columns a measurement does not reproduce (empty: all four match)."""
    differ = []
    for column, (field_name, scale, tol) in PUBLISHED_COLUMNS.items():
        measured = complexity.get(field_name)
        if measured is None or abs(measured * scale - published[column]) > tol + 1e-9:
            differ.append(column)
    return differ


def load_years(path: str | Path = YEARS_FILE) -> dict[int, YearRule]:
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    return {int(year): YearRule(year=int(year), **fields) for year, fields in data.items()}


def year_of(script_sha256: str | None, folder: str | None, years: dict[int, YearRule] | None = None) -> int | None:
    """The year of an NTIRE repository: by its script's sha256, else a year in its folder name (NTIRE2023_ESR)."""
    years = years if years is not None else load_years()
    for rule in years.values():
        if script_sha256 and rule.script_sha256 == script_sha256:
            return rule.year
    found = re.search(r"NTIRE[_-]?(20\d\d)", Path(folder).name, re.IGNORECASE) if folder else None
    return int(found.group(1)) if found else None


def rounded_psnr(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-PSNR_DECIMALS), rounding=ROUND_HALF_UP)


def meets(value: float, threshold: float) -> bool:
    """Whether a PSNR meets a threshold after rounding it to the published precision (two decimals, half up)."""
    return math.isfinite(value) and rounded_psnr(value) >= Decimal(repr(float(threshold)))


def score(rule: YearRule, entry: dict[str, float], baseline: dict[str, float]) -> float | None:
    """That year's number for an entry (lower is better) relative to its baseline: the weighted score, or for a
    runtime-ranked year the runtime relative to the baseline's. ``entry``/``baseline``: runtime, flops, params."""
    if rule.rule == "runtime":
        return entry["runtime"] / baseline["runtime"] if baseline["runtime"] > 0 else None
    if any(not baseline[k] > 0 for k in rule.weights):
        return None
    return sum(w * math.exp(2.0 * entry[k] / baseline[k]) for k, w in rule.weights.items())


def eligible(rule: YearRule, dataset: str, psnr_rgb: float, params: float,
             baseline: dict[str, float] | None) -> bool | None:
    """Eligibility on ``dataset``: ``None`` where that year's rule does not judge it (a threshold set on other data,
    or no baseline measured)."""
    if rule.eligibility == "threshold":
        threshold = rule.thresholds_db.get(dataset)
        return None if threshold is None else meets(psnr_rgb, threshold)
    if baseline is None:
        return None
    return meets(psnr_rgb, float(rounded_psnr(baseline["psnr_rgb"]))) and params <= baseline["params"]
