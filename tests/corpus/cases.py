"""The hostile-input corpus: damaged records and baselines, damaged suite files, odd images, damaged checkpoints,
foreign model classes that misbehave, hostile labels and extreme flag values, each a ``Case`` that states what a
user is owed (the exit codes that are right for it). Generated from a few valid inputs by field-wise mutations, so
the corpus grows with the formats; ``run.py`` runs it."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

FAST = ["--rounds", "1", "--warmup", "0", "--timing-size", "16", "--threads", "1"]
REFUSED = (2,)  # bad input: one line, exit 2
FAILED_ROW = (4,)  # a foreign entry misbehaved: its row failed, the others measured


@dataclass
class Case:
    group: str
    name: str
    commands: list[list[str]]  # run in order; "{dir}" is the case's folder, "{fix}" the shared fixtures
    expect: tuple[int, ...]  # exit codes that are right for this input
    files: dict = field(default_factory=dict)  # name -> str | bytes | "FIFO" | "DIR"
    unchanged: tuple[str, ...] = ()  # files that must come out byte-identical
    record: str = ""  # exit 0 or 4 must leave this record behind
    absent: tuple[str, ...] = ()  # text that must not appear in any written output (unescaped labels)


def _wrong_values(value) -> list:
    """Values of another JSON kind than ``value`` (the type a reader expects)."""
    if isinstance(value, bool):
        return ["x", 3]
    if isinstance(value, (int, float)):
        return ["x", [], "nan", -1.0]
    if isinstance(value, str):
        return [3, []]
    if isinstance(value, list):
        return [3, "x"]
    if isinstance(value, dict):
        return [3, "x", []]
    return []


def _mutations(record: dict) -> list[tuple[str, dict]]:
    """(name, damaged copy): every top-level and row field deleted or of the wrong kind, every metric, speed and
    complexity value out of range."""
    out = []

    def put(name, edit):
        damaged = copy.deepcopy(record)
        edit(damaged)
        out.append((name, damaged))

    for key, value in record.items():
        put(f"top {key} deleted", lambda r, k=key: r.pop(k))
        for bad in _wrong_values(value):
            put(f"top {key} = {bad!r}", lambda r, k=key, b=bad: r.__setitem__(k, b))
    timed = next(i for i, row in enumerate(record["results"]) if row.get("speed"))
    row = record["results"][timed]
    for key, value in row.items():
        put(f"row {key} deleted", lambda r, k=key: r["results"][timed].pop(k))
        for bad in _wrong_values(value)[:2]:
            put(f"row {key} = {bad!r}", lambda r, k=key, b=bad: r["results"][timed].__setitem__(k, b))
    for section in ("metrics", "speed", "complexity"):
        for key, value in row[section].items():
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            for bad in ("x", None, "nan", "-inf", -5.0):
                put(f"{section} {key} = {bad!r}",
                    lambda r, s=section, k=key, b=bad: r["results"][timed][s].__setitem__(k, b))
        for key in ("reference", "ratio") if section == "speed" else ():
            put(f"speed {key} deleted", lambda r, k=key: r["results"][timed]["speed"].pop(k))
    put("a row twice", lambda r: r["results"].append(copy.deepcopy(r["results"][timed])))
    put("a row that is a string", lambda r: r["results"].__setitem__(timed, "x"))
    put("status unknown", lambda r: r["results"][timed].__setitem__("status", "great"))
    put("failed row with metrics", lambda r: r["results"][timed].__setitem__("status", "failed"))
    put("headline not a metric", lambda r: r.__setitem__("headline", "lpips"))
    put("schema_version from the future", lambda r: r.__setitem__("schema_version", 99))
    return out


# fields the gate and the report never read: a damaged value there may pass (exit 0) or be refused. A deleted
# field may be read as absent (the record's documented default: a hand-trimmed file), refused, or fail compare
# as a value on one side only (the one-side cases below check that)
NOT_JUDGED = {"created_utc", "description", "suite", "phase_seconds", "wall_seconds", "env", "run_id", "variant"}


def record_cases(baseline: dict) -> list[Case]:
    """Each damaged record in one of four commands, in turn: as compare's run, as compare's baseline, as the
    record to render, as the baseline `baseline update` would replace (which must stay unchanged)."""
    roles = [
        (["compare", "{dir}/bad.json", "--baseline", "{fix}/good.json", "--base", "none"], ("bad.json",)),
        (["compare", "{fix}/good.json", "--baseline", "{dir}/bad.json", "--base", "none"], ("bad.json",)),
        (["report", "{dir}/bad.json", "-o", "{dir}/out.html"], ("bad.json",)),
        (["baseline", "update", "--from", "{fix}/good.json", "--to", "{dir}/bad.json"], ("bad.json",)),
    ]
    cases = []
    for i, (name, damaged) in enumerate(_mutations(baseline)):
        argv, unchanged = roles[i % len(roles)]
        judged = not any(f" {k} " in f" {name} " for k in NOT_JUDGED) and not name.endswith(" deleted")
        expect = REFUSED + (1,) * (argv[0] != "report") if judged else (0, 1, 2)
        cases.append(Case("record", f"{name} [{argv[0]} {argv[1] if argv[0] == 'baseline' else ''}".strip() + "]",
                          [argv], expect, {"bad.json": json.dumps(damaged)}, unchanged))
    text = json.dumps(baseline)
    for name, content in [("empty file", ""), ("cut in half", text[: len(text) // 2]), ("not UTF-8", b"\xff\xfe{}"),
                          ("a JSON list", "[]"), ("nested deeply", "[" * 100000 + "]" * 100000),
                          ("a folder", "DIR"), ("a FIFO", "FIFO"), ("NaN token", text.replace("28.9016811710538", "NaN"))]:
        for argv, unchanged in roles[:3]:
            cases.append(Case("record-file", f"{name} [{argv[0]}]", [argv], REFUSED, {"bad.json": content},
                              unchanged if content not in ("DIR", "FIFO") else ()))
    return cases


def one_side_cases(baseline: dict) -> list[Case]:
    """A row, a metric or a speed entry on one side only: named and failed, never folded into "ok"."""
    timed = next(i for i, row in enumerate(baseline["results"]) if row.get("speed"))

    def less(edit):
        damaged = copy.deepcopy(baseline)
        edit(damaged)
        return json.dumps(damaged)

    edits = {"row": lambda r: r["results"].pop(timed),
             "metric": lambda r: r["results"][timed]["metrics"].pop("ssim_rgb"),
             "speed entry": lambda r: r["results"][timed].__setitem__("speed", None),
             "complexity": lambda r: r["results"][timed].__setitem__("complexity", None),
             "dataset": lambda r: [row.__setitem__("dataset", "other") for row in r["results"]]}
    cases = []
    for what, edit in edits.items():
        cases.append(Case("one-side", f"{what} only in the baseline",
                          [["compare", "{dir}/less.json", "--baseline", "{fix}/good.json", "--base", "none"]],
                          (1, 2), {"less.json": less(edit)}))
        cases.append(Case("one-side", f"{what} only in the run",
                          [["compare", "{fix}/good.json", "--baseline", "{dir}/less.json", "--base", "none"]],
                          (1, 2), {"less.json": less(edit)}))
    return cases
