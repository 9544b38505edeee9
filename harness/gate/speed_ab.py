"""The speed gate: the working tree's models timed against a base revision's, on this machine, in this job.

Flow: resolve and unpack the base (``base_tree``), time both sides interleaved in fresh processes (``ab_timing``),
flag each model whose head/base ratio grew beyond the threshold and significantly (``stats.ab_verdict``),
re-time once when any is flagged and judge the flagged ones on both measurements' processes together: regressed
when that still holds, inconclusive when the pooled change stays over the threshold without being significant,
ok otherwise. Models on one side only are listed, not judged.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
import tomllib
from pathlib import Path

from sr_harness import HarnessError, project_root
from sr_harness.records.speed_ab import RECORD_KIND
from sr_harness.records.schema import Record
from sr_harness.gate.ab_timing import BASE, HEAD, Side, pooled, time_ab
from sr_harness.gate.base_tree import SUITES_PATHS, BaseRevisionError, resolve, unpack
from sr_harness.gate.compare import INCONCLUSIVE, Delta
from sr_harness.gate.stats import DEFAULT_AB_PROCESSES, DEFAULT_AB_ROUNDS, ab_change, ab_verdict

METRIC = "time_ab"


def default_base(baseline: Record, where: str) -> str:
    """The commit whose speed was last accepted: the one the baseline was measured at, from a clean tree."""
    git = baseline.env.get("git") or {}
    if not git.get("commit"):
        raise BaseRevisionError(f"{where}: records no git commit to time against; pass --base REV")
    if git.get("dirty"):
        raise BaseRevisionError(f"{where}: measured from a tree with uncommitted changes, so commit "
                                f"{git['commit'][:12]} is not the code it timed; re-measure it from a clean commit "
                                "(eval --suite default --for-baseline, then baseline update) or pass --base REV")
    return git["commit"]


def head_side(suite: str | None) -> tuple[Side, object]:
    """The working tree's models of a shipped suite that has project checkpoints, and the suite's config."""
    import sr_harness.models  # noqa: PLC0415

    from sr_harness.config.build import BICUBIC, build_config  # noqa: PLC0415

    if not suite:
        raise HarnessError("the run was not made from a shipped suite, so there is no base revision of its models to "
                           "time: pass --base none (speed not checked) or compare a run of --suite default")
    cfg = build_config(suite)
    entries = tuple((e.key, e.checkpoint) for e in cfg.models
                    if e.name != BICUBIC and e.external is None and e.checkpoint and Path(e.checkpoint).is_file())
    if not entries:
        raise HarnessError(f"suite {suite!r} has no project checkpoint here to time against a base revision: pass "
                           "--base none (speed not checked)")
    return Side(HEAD, str(Path(sr_harness.models.__file__).parent), entries), cfg


def base_side(root: Path, suite: str, label: str = BASE) -> Side:
    """An unpacked revision's models of the suite, each with its own checkpoint (absent ones left out)."""
    try:
        found = next(root / p for p in SUITES_PATHS if (root / p).is_file())
        suites = tomllib.loads(found.read_text(encoding="utf-8"))
    except (StopIteration, OSError, ValueError):
        suites = {}
    models = (suites.get(suite) or {}).get("models") or []
    entries = []
    for m in models if isinstance(models, list) else []:
        if isinstance(m, dict) and isinstance(m.get("checkpoint"), str) and (root / m["checkpoint"]).is_file():
            entries.append((m.get("label") or m.get("name"), str(root / m["checkpoint"])))
    return Side(label, str(root / "models"), tuple(entries))


def timing_inputs(cfg) -> tuple[str, list]:
    """Centre crops (the suite's timing size) of the first dataset's LR images, as eval times them."""
    from sr_harness.run.runner import _to_input, open_datasets  # noqa: PLC0415
    from sr_harness.run.timing import centre_crops  # noqa: PLC0415

    dataset = open_datasets(cfg)[0]
    return dataset.name, centre_crops([_to_input(p.lr, "cpu") for p in dataset], cfg.protocol.timing_size)


def judge(first: dict, again: dict, threshold: float) -> dict[str, tuple[str, dict, str]]:
    """Per model: (status, the entry judged, how)."""
    out = {}
    for key, entry in first.items():
        verdict = ab_verdict(entry, threshold)
        if verdict != "regressed" or key not in again:
            out[key] = (verdict, entry, "one measurement")
            continue
        both = pooled(entry, again[key])
        change, _ = ab_change(both)
        status = ab_verdict(both, threshold)
        if status != "regressed":
            status = INCONCLUSIVE if change > threshold else "ok"
        out[key] = (status, both, "flagged, re-timed, both measurements' processes judged together")
    return out


def one_side_only(head: Side, base: Side) -> dict[str, list[str]]:
    """Models of one side the other lacks (added, removed or without a checkpoint there): listed, not judged."""
    head_keys, base_keys = [k for k, _ in head.checkpoints], [k for k, _ in base.checkpoints]
    return {HEAD: [k for k in head_keys if k not in base_keys], BASE: [k for k in base_keys if k not in head_keys]}


def measure_and_judge(head: Side, base: Side, inputs: list, threshold: float, settings: dict, *,
                      progress=None) -> tuple[dict, dict, dict]:
    """The gate's one flow: time the models both sides have, and re-time once (the other side first) when any is
    flagged; judge."""
    common = {k for k, _ in head.checkpoints} & {k for k, _ in base.checkpoints}
    if not common:
        return {}, {}, {}
    head, base = (dataclasses.replace(side, checkpoints=tuple(c for c in side.checkpoints if c[0] in common))
                  for side in (head, base))
    first = time_ab(head, base, inputs, progress=progress, **settings)
    flagged = [k for k, e in first.items() if ab_verdict(e, threshold) == "regressed"]
    again = time_ab(head, base, inputs, start_with_base=True, progress=progress, **settings) if flagged else {}
    return first, again, judge(first, again, threshold)


def recorded_deltas(record: dict) -> list[Delta]:
    """The verdicts an A/B record holds (report: the same statuses compare judged from it)."""
    return [Delta(name, "", METRIC, None, None, m["status"]) for name, m in record.get("models", {}).items()]


def _delta(key: str, dataset: str, status: str, entry: dict, how: str, threshold: float) -> Delta:
    change, z = ab_change(entry)  # the judged entry: both measurements' processes when it was re-timed
    return Delta(key, dataset, METRIC, entry["base_median_ms"], entry["head_median_ms"], status,
                 f"head/base {change:+.1%} vs threshold {threshold:.0%}, z {z:+.1f} over {entry['processes']} "
                 f"processes ({how}); ms on the {entry['clock']} clock, base | head")


def speed_ab(suite: str | None, base_rev: str, *, threshold: float, rounds: int = DEFAULT_AB_ROUNDS,
             processes: int = DEFAULT_AB_PROCESSES, repo: Path | None = None, progress=None) -> tuple[list, dict]:
    """(Deltas, A/B record) of the suite's models, working tree against ``base_rev``."""
    from sr_harness.run.env import fingerprint, git_state  # noqa: PLC0415

    repo = repo or project_root()
    commit = resolve(repo, base_rev)
    head, cfg = head_side(suite)
    with tempfile.TemporaryDirectory(prefix="sr-harness-base-") as tmp:
        base = base_side(unpack(repo, commit, Path(tmp)), suite)
        if not {k for k, _ in head.checkpoints} & {k for k, _ in base.checkpoints}:
            raise BaseRevisionError(f"base revision {commit[:12]} has none of suite {suite!r}'s models with a "
                                    "checkpoint, so speed cannot be compared: pass --base REV with a later commit")
        dataset, inputs = timing_inputs(cfg)
        settings = dict(processes=processes, rounds=rounds, warmup=cfg.protocol.warmup,
                        threads=cfg.protocol.threads or 1)
        first, again, verdicts = measure_and_judge(head, base, inputs, threshold, settings, progress=progress)
    deltas = [_delta(k, dataset, *verdicts[k], threshold) for k in first]
    only = one_side_only(head, base)
    for side, keys in only.items():
        deltas += [Delta(k, dataset, METRIC, None, None, "info", f"only in the {side} (not judged)") for k in keys]
    record = {"kind": RECORD_KIND, "schema_version": 1, "created_utc": dt.datetime.now(dt.UTC).isoformat(),
              "suite": suite, "base": {"rev": base_rev, "commit": commit}, "head": git_state(repo),
              "threshold": threshold, "settings": settings, "inputs": {"dataset": dataset, "n": len(inputs),
                                                                        "hw": list(inputs[0].shape[-2:])},
              "env": fingerprint("cpu"), "only_in": only,
              "models": {k: dict(zip(("change", "z"), ab_change(verdicts[k][1])), status=verdicts[k][0],
                                 first=first[k], again=again.get(k)) for k in first}}
    return deltas, record
