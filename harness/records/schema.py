"""Typed view of a run record: what the gate reads, as frozen dataclasses built from a validated record.

The JSON file stays the record (``records.run`` writes and validates it); ``Record.of`` turns a record dict into
these classes after migrating, completing and validating it, so a consumer reads attributes that are known to
exist with their declared types instead of looking keys up with defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sr_harness.records.migrate import SPEED_DEFAULTS
from sr_harness.records.run import checked, load_record


@dataclass(frozen=True)
class Speed:
    """A model's time ratio to the run's speed reference, timed paired in the same run (run.timing)."""

    reference: str
    ratio: float
    low: float | None = None
    high: float | None = None
    clock: str = SPEED_DEFAULTS["clock"]
    pages: str = SPEED_DEFAULTS["pages"]
    input_hw: tuple[int, ...] | None = None
    per_process: tuple[float, ...] = ()
    processes: int = 1
    reference_clock_ms: float | None = None

    @classmethod
    def of(cls, entry: Mapping[str, Any]) -> Speed:
        hw = entry.get("input_hw")
        return cls(reference=entry["reference"], ratio=entry["ratio"], low=entry.get("low"), high=entry.get("high"),
                   clock=entry.get("clock", SPEED_DEFAULTS["clock"]), pages=entry.get("pages", SPEED_DEFAULTS["pages"]),
                   input_hw=tuple(hw) if hw is not None else None, per_process=tuple(entry.get("per_process", ())),
                   processes=entry.get("processes", 1), reference_clock_ms=entry.get("reference_clock_ms"))


@dataclass(frozen=True)
class Runtime:
    """Absolute forward time of a row on the run's device, in the run's timing mode."""

    mode: str
    median_ms: float | None
    ci_low_ms: float | None = None
    ci_high_ms: float | None = None
    mean_ms: float | None = None
    device: str = "cpu"
    precision: str = "fp32"
    threads: int | None = None
    n: int | None = None
    samples_ms: tuple[float, ...] = ()
    flags: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, entry: Mapping[str, Any]) -> Runtime:
        return cls(mode=entry.get("mode", ""), median_ms=entry.get("median_ms"), ci_low_ms=entry.get("ci_low_ms"),
                   ci_high_ms=entry.get("ci_high_ms"), mean_ms=entry.get("mean_ms"), device=entry.get("device", "cpu"),
                   precision=entry.get("precision", "fp32"), threads=entry.get("threads"), n=entry.get("n"),
                   samples_ms=tuple(entry.get("samples_ms") or ()), flags=dict(entry.get("flags") or {}))


@dataclass(frozen=True)
class Row:
    """One model on one dataset."""

    model: str
    dataset: str
    arch: str = ""
    variant: str = ""
    status: str = "ok"
    error: str | None = None
    n_images: int | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    complexity: Mapping[str, Any] = field(default_factory=dict)
    speed: Speed | None = None
    runtime: Runtime | None = None
    # Free-form sections, shown as they are: which weights (three kinds: project checkpoint, --model source,
    # NTIRE team), per-image values, the timing input, the training record's summary.
    checkpoint: Mapping[str, Any] | None = None
    per_image: tuple[Mapping[str, Any], ...] = ()
    timing_input: Mapping[str, Any] | None = None
    training: Mapping[str, Any] | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.model, self.dataset

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Row:
        return cls(model=row["model"], dataset=row["dataset"], arch=row["arch"], variant=row["variant"],
                   status=row["status"], error=row["error"], n_images=row["n_images"], metrics=dict(row["metrics"]),
                   complexity=dict(row["complexity"] or {}), speed=Speed.of(row["speed"]) if row["speed"] else None,
                   runtime=Runtime.of(row["runtime"]) if row["runtime"] else None, checkpoint=row["checkpoint"],
                   per_image=tuple(row["per_image"]), timing_input=row["timing_input"], training=row["training"])


@dataclass(frozen=True)
class Record:
    """One run: its rows, the suite and datasets it ran, and the environment it was timed in."""

    run_id: str
    rows: tuple[Row, ...]
    env: Mapping[str, Any]
    config: Mapping[str, Any]
    suite: str | None = None
    datasets: tuple[str, ...] = ()
    dataset_info: tuple[Mapping[str, Any], ...] = ()  # per dataset: name, n_images, scale, kind, images ...
    headline: str = "psnr_y"
    speed_reference: Mapping[str, Any] | None = None
    created_utc: str | None = None
    description: str | None = None
    missing: tuple[Any, ...] = ()
    phase_seconds: Mapping[str, float] = field(default_factory=dict)
    wall_seconds: float = 0.0
    ntire_average: Mapping[str, Any] = field(default_factory=dict)  # NTIRE "Ave Time" per model
    ntire_runs: Mapping[str, Any] = field(default_factory=dict)  # how many fresh runs the averages are over
    accepted: tuple[Mapping[str, Any], ...] = ()  # deliberate changes accepted by `baseline update --accept`
    shards: tuple[Mapping[str, Any], ...] = ()  # a merged record: each shard's env, machine number and rows

    def env_of(self, row: Row) -> Mapping[str, Any]:
        """The fingerprint of the machine that timed ``row``: its shard's in a merged record, else the run's."""
        for shard in self.shards:
            if list(row.key) in shard["rows"]:
                return shard["env"]
        return self.env

    def by_key(self) -> dict[tuple[str, str], Row]:
        return {r.key: r for r in self.rows}

    @property
    def protocol(self) -> Mapping[str, Any]:
        return self.config.get("protocol") or {}

    @classmethod
    def of(cls, record: Record | Mapping[str, Any], path: str = "<record>") -> Record:
        """The typed view of ``record``; a dict is migrated, completed and validated first (records.run)."""
        if isinstance(record, Record):
            return record
        return cls.from_loaded(checked(record, path))

    @classmethod
    def read(cls, path) -> Record:
        """The typed view of the record file ``path`` (load_record migrates and validates it once)."""
        return cls.from_loaded(load_record(path))

    @classmethod
    def from_loaded(cls, data: Mapping[str, Any]) -> Record:
        """The typed view of a dict ``load_record`` returned (already migrated and validated)."""
        info = tuple(d for d in data["datasets"] if isinstance(d, Mapping) and "name" in d)
        return cls(run_id=data["run_id"], rows=tuple(Row.of(r) for r in data["results"]), env=data["env"],
                   config=data["config"], suite=data["suite"], datasets=tuple(d["name"] for d in info),
                   dataset_info=info, headline=data["headline"] or "psnr_y", speed_reference=data["speed_reference"],
                   created_utc=data["created_utc"], description=data["description"], missing=tuple(data["missing"]),
                   phase_seconds=data["phase_seconds"], wall_seconds=data["wall_seconds"],
                   ntire_average=data["ntire_average"], ntire_runs=data["ntire_runs"], accepted=tuple(data["accepted"]),
                   shards=tuple(data["shards"]))
