"""``sr-harness merge``: shard records (``eval --shard K/N``) joined into one record.

Refused, with the file and the field named: records of different protocols (suite, headline, scale, device,
protocol settings, entry list), a row present in two shards, or a set of shards that is not complete (1..N of
one N, each once). Rows keep their order of the unsharded run (entry order, then dataset). Absolute runtimes
compare only between shards timed on the same machine: the merged record's ``shards`` keep every shard's
fingerprint, its machine number and its rows.
"""

from __future__ import annotations

from collections.abc import Callable

from sr_harness import HarnessError
from sr_harness.records.run import result_key

SAME = ("suite", "headline")
SAME_CONFIG = ("scale", "device", "protocol", "data", "fused_rows", "timed_for_baseline")


class MergeError(HarnessError):
    """Shard records that cannot be one record."""


def _check_same(first: dict, other: dict, path) -> None:
    for name in SAME:
        if first[name] != other[name]:
            raise MergeError(f"{path}: {name} {other[name]!r} differs from the first shard's {first[name]!r}; "
                             "merge only the shards of one run")
    for name in SAME_CONFIG:
        if first["config"].get(name) != other["config"].get(name):
            raise MergeError(f"{path}: config.{name} differs from the first shard's; merge only the shards of one "
                             "run (same options, same --shard N)")
    if any((first["shard"] or {}).get(k) != (other["shard"] or {}).get(k) for k in ("entries", "datasets")):
        raise MergeError(f"{path}: its run has other entries than the first shard's; merge only the shards of one run")


def _check_complete(records: list[dict], paths: list) -> int:
    specs = []
    for record, path in zip(records, paths):
        if not record["shard"]:
            raise MergeError(f"{path}: not a shard record (written without --shard K/N)")
        specs.append(tuple(map(int, record["shard"]["spec"].split("/"))))
    counts = {n for _, n in specs}
    if len(counts) != 1:
        raise MergeError(f"shards of different counts ({', '.join(f'{k}/{n}' for k, n in specs)}); merge the shards "
                         "of one --shard K/N run")
    n = counts.pop()
    seen = sorted(k for k, _ in specs)
    if seen != list(range(1, n + 1)):
        absent = sorted(set(range(1, n + 1)) - set(seen))
        twice = sorted({k for k in seen if seen.count(k) > 1})
        why = f"shard {'/'.join(map(str, twice))} given twice" if twice else \
            f"shard(s) {', '.join(f'{k}/{n}' for k in absent)} missing"
        raise MergeError(f"{why}; merge needs each of 1/{n} .. {n}/{n} once")
    return n


def machine_index(machines: list[dict], env: dict, same_machine: Callable[[dict, dict], bool]) -> int:
    """The position of ``env``'s machine among ``machines`` (fingerprints), appended when it is a new one."""
    for i, known in enumerate(machines):
        if same_machine(known, env):
            return i
    machines.append(env)
    return len(machines) - 1


def merge_records(records: list[dict], paths: list, same_machine: Callable[[dict, dict], bool]) -> dict:
    """One record from complete, disjoint shard records of one run (validated records, as load_record gives);
    ``same_machine(env_a, env_b)`` tells whether two shards' absolute times compare (run.env's fingerprint)."""
    if not records:
        raise MergeError("merge needs the shard records to join")
    first = records[0]
    for record, path in zip(records[1:], paths[1:]):
        _check_same(first, record, path)
    n = _check_complete(records, paths)
    owner: dict[tuple, str] = {}
    for record, path in zip(records, paths):
        for row in record["results"]:
            if result_key(row) in owner:
                raise MergeError(f"{path}: row {row['model']} on {row['dataset']} is also in {owner[result_key(row)]}; "
                                 "shards of one run never overlap")
            owner[result_key(row)] = str(path)
    entries, names = first["shard"]["entries"], first["shard"]["datasets"]
    info = {d["name"]: d for r in records for d in r["datasets"]}
    position = {name: i for i, name in enumerate(entries)}
    rows = sorted((row for r in records for row in r["results"]),
                  key=lambda row: (names.index(row["dataset"]), position.get(row["model"].removesuffix("_fused"),
                                                                             len(position)), row["model"]))
    machines, shards = [], []
    for record, path in zip(records, paths):
        index = machine_index(machines, record["env"], same_machine)
        shards.append({"spec": record["shard"]["spec"], "run_id": record["run_id"], "file": str(path),
                       "machine": index, "env": record["env"], "rows": [list(result_key(r)) for r in record["results"]],
                       "speed_reference": record["speed_reference"]})
    missing = list({m["model"]: m for r in records for m in r["missing"]}.values())
    merged = {**first, "results": rows, "missing": missing, "datasets": [info[n] for n in names if n in info],
              "shard": None,
              "shards": shards, "run_id": f"{first['run_id']}_merged{n}",
              "wall_seconds": sum(r["wall_seconds"] for r in records),
              "phase_seconds": {k: sum(r["phase_seconds"].get(k, 0.0) for r in records)
                                for k in dict.fromkeys(k for r in records for k in r["phase_seconds"])}}
    merged["config"] = {**first["config"], "shard": None}
    return merged
