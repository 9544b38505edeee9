"""The run configuration's types: protocol, model entries, suites and the resolved run (frozen dataclasses)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from sr_harness import HarnessError, metrics
from sr_harness.errors import available_cpus

# The embedded data set: skimage.data sample images, fixed and disjoint. ``cat`` is the same picture as ``chelsea``
# and is never used.
EVAL_IMAGES = ("astronaut", "coffee", "chelsea", "rocket")
TRAIN_IMAGES = ("immunohistochemistry", "hubble_deep_field", "retina", "colorwheel", "stereo_motorcycle")

SUITES_FILE = Path(__file__).with_name("suites.toml")
WEIGHTS_ENV = "SR_WEIGHTS_DIR"
BICUBIC = "bicubic"
FILE_VARIANT = "checkpoint file "  # variant of `--models path/to/x.pth` entries: the file says what it holds
OFFICIAL_WEIGHTS_SOURCES = ("bytedance/RLFN:model_zoo (rlfn_*.pth), Blcony/SlimRLFN:model_zoo "
                            "(team21_slimrlfn*.pth -> slimrlfn*_x4.pth), Amazingren/NTIRE2024_ESR:model_zoo")

class ConfigError(HarnessError):
    pass


# Why a range's upper end is what it is, where the number alone does not say.
_RANGE_WHY = {"timing_processes": " (rounds: each process times at least one)",
              "threads": " (the CPUs this process may use)"}


@dataclass(frozen=True)
class ProtocolConfig:
    runtime_mode: str = "steady"  # "steady" (warm-up, repeats, median + CI) or "ntire" (official cold-start mean)
    warmup: int = 1  # untimed passes over the timing inputs per model
    rounds: int = 5  # timed passes over the timing inputs per model (interleaved across models)
    # steady mode: the rounds split over this many fresh processes, each with its own run-to-run offset
    timing_processes: int = 1
    # a run timed to become the baseline (eval --for-baseline) times rounds and timing_processes x this: the
    # baseline's offset is shared by every later comparison, so averaging it over more processes pays many times
    baseline_timing: int = 1
    timing_size: int = 96  # LR side of the centre crops used for steady timing: equal shapes keep samples comparable
    crop: int | None = None  # border cut before metrics; None = the scale (NTIRE / papers)
    rounded_y: bool = False  # round Y like MATLAB's uint8 rgb2ycbcr
    complexity_hw: tuple[int, int] = (256, 256)  # NTIRE: FLOPs/activations on a 1x3x256x256 LR input
    speed_reference: str = "rlfn_ntire_x4"  # architecture timed in every run; runtime ratios are relative to it
    half: bool = False  # fp16 timing (CUDA only; flagged as not NTIRE-comparable)
    threads: int | None = None  # torch CPU threads for the run; None = torch's default (recorded either way)
    extra_metrics: tuple[str, ...] = ()  # optional metrics of the registry to compute too, e.g. ("ssim_rgb",)

    def __post_init__(self):
        for name, (low, high) in self._ranges().items():
            value = getattr(self, name)
            if value is None and name in ("crop", "threads"):
                continue
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ConfigError(f"{name} must be a whole number from {low} to {high}{_RANGE_WHY.get(name, '')}, "
                                  f"got {value!r}")
        hw = self.complexity_hw
        if len(hw) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and 15 <= v <= 4096 for v in hw):
            raise ConfigError(f"complexity_hw must be two whole numbers from 15 to 4096 (LR height, width), got {list(hw)}")
        for name in ("rounded_y", "half"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if not isinstance(self.speed_reference, str) or not self.speed_reference:
            raise ConfigError(f"speed_reference must be a model name, got {self.speed_reference!r}")
        unknown = [m for m in self.extra_metrics if m not in metrics.extra_names()]
        if unknown:
            raise ConfigError(f"unknown optional metric(s) {', '.join(map(repr, unknown))}; known: "
                              f"{', '.join(metrics.extra_names())}")
        if self.runtime_mode not in ("steady", "ntire"):
            raise ConfigError(f"runtime_mode must be 'steady' or 'ntire', got {self.runtime_mode!r}")

    def _ranges(self) -> dict[str, tuple[int, int]]:
        """Whole-number fields and their accepted ranges: beyond these a run cannot be meant (or cannot fit)."""
        rounds = self.rounds if isinstance(self.rounds, int) else 1
        return {"warmup": (0, 1000), "rounds": (1, 100_000), "timing_processes": (1, min(rounds, 256)),
                "baseline_timing": (1, 100), "timing_size": (15, 2048), "crop": (0, 64), "threads": (1, available_cpus())}


@dataclass(frozen=True)
class ModelEntry:
    name: str  # registry name (the architecture), or "bicubic" for the reference row
    checkpoint: str | None = None  # path; None = bicubic, or random weights (timing-only, internal use)
    variant: str = ""  # what this checkpoint is, shown in the report
    optional: bool = False  # a missing checkpoint is noted in the record instead of failing the run
    label: str = ""  # unique row name in records and reports; defaults to name
    external: dict | None = None  # a user's class (models.external.ExternalSpec fields) instead of a registry name

    @property
    def key(self) -> str:
        return self.label or self.name


BICUBIC_ENTRY = ModelEntry(name=BICUBIC, variant="MATLAB-exact bicubic (reference)")


@dataclass(frozen=True)
class RunConfig:
    suite: str | None
    models: tuple[ModelEntry, ...]
    data: tuple[str, ...]
    scale: int = 4
    device: str = "cpu"
    headline: str = "psnr_y"
    description: str = ""
    protocol: ProtocolConfig = field(default_factory=ProtocolConfig)
    max_pixels: int | None = None  # per-image pixel limit (None = harness.data.DEFAULT_MAX_PIXELS)
    fused_rows: bool = False  # --fused: models that fold cleanly also evaluated folded (<label>_fused)
    timed_for_baseline: bool = False  # --for-baseline: rounds and processes x protocol.baseline_timing
    shard: str | None = None  # --shard K/N (config.shards): only these (entry key, dataset index) pairs run
    shard_pairs: frozenset | None = None
    shard_entries: tuple[str, ...] = ()  # every entry of the unsliced run, in order (merge restores it)
    trust_repo: bool = False  # --trust-repo: whole pickled modules inside --ntire-repo DIR may be unpickled
    count_reference: bool = True  # False in an isolated entry's process: the parent counts the speed reference

    def runs_on(self, key: str, dataset_index: int) -> bool:
        """Whether the entry ``key`` (a folded row: its entry's key) runs on dataset ``dataset_index``."""
        return self.shard_pairs is None or (key, dataset_index) in self.shard_pairs

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        del data["shard_pairs"]  # the shard spec names them
        return data


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    models: tuple[ModelEntry, ...]
    data: tuple[str, ...] = ()  # empty: --data is required
    weights: str = "project"  # "project": checkpoint paths relative to the repo; "official": <weights-dir>/<name>.pth
    scale: int = 4
    headline: str = "psnr_y"
    protocol: ProtocolConfig = field(default_factory=ProtocolConfig)
    ntire_teams: str | None = None  # "all" or "0,21": the teams of the --ntire-repo DIR this suite evaluates

