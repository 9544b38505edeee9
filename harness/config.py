"""Run configuration: frozen dataclasses, built from harness/suites.toml plus command-line choices.

Unknown keys are errors (a misspelled key must never be carried along silently).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from . import PROJECT_ROOT, HarnessError, metrics, toml

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


@dataclass(frozen=True)
class ProtocolConfig:
    runtime_mode: str = "steady"  # "steady" (warm-up, repeats, median + CI) or "ntire" (official cold-start mean)
    warmup: int = 1  # untimed passes over the timing inputs per model
    rounds: int = 5  # timed passes over the timing inputs per model (interleaved across models)
    timing_size: int = 96  # LR side of the centre crops used for steady timing: equal shapes keep samples comparable
    crop: int | None = None  # border cut before metrics; None = the scale (NTIRE / papers)
    rounded_y: bool = False  # round Y like MATLAB's uint8 rgb2ycbcr
    complexity_hw: tuple[int, int] = (256, 256)  # NTIRE: FLOPs/activations on a 1x3x256x256 LR input
    speed_reference: str = "rlfn_ntire_x4"  # architecture timed in every run; runtime ratios are relative to it
    half: bool = False  # fp16 timing (CUDA only; flagged as not NTIRE-comparable)
    threads: int | None = None  # torch CPU threads for the run; None = torch's default (recorded either way)
    extra_metrics: tuple[str, ...] = ()  # optional metrics of the registry to compute too, e.g. ("ssim_rgb",)

    def __post_init__(self):
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise ConfigError(f"threads must be a whole number >= 1, got {self.threads!r} (--threads)")
        unknown = [m for m in self.extra_metrics if m not in metrics.EXTRA]
        if unknown:
            raise ConfigError(f"unknown optional metric(s) {', '.join(map(repr, unknown))}; known: "
                              f"{', '.join(metrics.EXTRA)}")
        if self.runtime_mode not in ("steady", "ntire"):
            raise ConfigError(f"runtime_mode must be 'steady' or 'ntire', got {self.runtime_mode!r}")
        if self.warmup < 0 or self.rounds < 1:
            raise ConfigError(f"need warmup >= 0 and rounds >= 1, got warmup={self.warmup} rounds={self.rounds}")
        if self.timing_size < 15:
            raise ConfigError(f"timing_size must be >= 15 (the models' minimum input), got {self.timing_size}")


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

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


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


def _check_keys(table: dict, allowed, where: str) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(allowed))}")


def _fields(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def _protocol(table: dict, where: str) -> ProtocolConfig:
    _check_keys(table, _fields(ProtocolConfig), where)
    for key in ("complexity_hw", "extra_metrics"):
        if key in table:
            if not isinstance(table[key], list):
                raise ConfigError(f"{where}: {key} must be a list")
            table = {**table, key: tuple(table[key])}
    try:
        return ProtocolConfig(**table)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def parse_suites(data: dict, source: str) -> dict[str, Suite]:
    suites = {}
    for name, table in data.items():
        where = f"{source} [{name}]"
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: expected a table")
        _check_keys(table, [*_fields(Suite), "bicubic"], where)
        models = []
        if table.get("bicubic", False):
            models.append(BICUBIC_ENTRY)
        for i, entry in enumerate(table.get("models", [])):
            _check_keys(entry, _fields(ModelEntry), f"{where} models[{i}]")
            if not isinstance(entry.get("name"), str):
                raise ConfigError(f"{where} models[{i}]: needs a string 'name'")
            models.append(ModelEntry(**entry))
        suites[name] = Suite(name=name, description=table.get("description", ""), models=tuple(models),
                             data=tuple(table.get("data", ())), weights=table.get("weights", "project"),
                             scale=table.get("scale", 4), headline=table.get("headline", "psnr_y"),
                             protocol=_protocol(dict(table.get("protocol", {})), f"{where}.protocol"))
        if suites[name].headline not in metrics.QUALITY:
            raise ConfigError(f"{where}: headline {suites[name].headline!r} is not a quality metric; use one of "
                              f"{', '.join(metrics.QUALITY)}")
        if suites[name].weights not in ("project", "official"):
            raise ConfigError(f"{where}: weights must be 'project' or 'official', got {suites[name].weights!r}")
    return suites


def load_suites(path: str | os.PathLike = SUITES_FILE) -> dict[str, Suite]:
    path = Path(path)
    try:
        data = toml.loads(path.read_text(encoding="utf-8"))
    except (OSError, toml.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read suites file ({exc})") from None
    return parse_suites(data, str(path))


def resolve_weights_dir(weights_dir: str | os.PathLike | None) -> Path:
    chosen = weights_dir or os.environ.get(WEIGHTS_ENV)
    if not chosen:
        raise ConfigError(f"no weights folder given: pass --weights-dir DIR or set {WEIGHTS_ENV}; official weights "
                          f"are published in {OFFICIAL_WEIGHTS_SOURCES} (e.g. ../shared/reference/weights)")
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise ConfigError(f"{path}: weights folder not found; pass --weights-dir DIR or set {WEIGHTS_ENV}")
    return path


def missing_weights_message(path: Path, name: str) -> str:
    return (f"{path}: weights file for model {name!r} not found; official weights are published in "
            f"{OFFICIAL_WEIGHTS_SOURCES}; put {name}.pth in --weights-dir DIR (or {WEIGHTS_ENV})")


def build_config(suite_name: str | None = None, *, models: list[str] | None = None, data: list[str] | None = None,
                 weights_dir: str | None = None, device: str | None = None, runtime_mode: str | None = None,
                 rounds: int | None = None, warmup: int | None = None, timing_size: int | None = None,
                 threads: int | None = None, names: list[str] | None = None,
                 extra_metrics: list[str] | None = None, max_pixels: int | None = None,
                 external: list[dict] | None = None, ntire_repo: str | None = None, teams: list[str] | None = None,
                 suites_file: str | os.PathLike = SUITES_FILE) -> RunConfig:
    """Resolve a suite (or an ad-hoc model list) and command-line overrides into a validated RunConfig."""
    from sr_harness.models import get_spec  # noqa: PLC0415  (keeps `harness list --suites` free of torch start-up cost)

    suites = load_suites(suites_file)
    if suite_name is not None and suite_name not in suites:
        raise ConfigError(f"unknown suite {suite_name!r}; known suites: {', '.join(sorted(suites))}")
    external = [*(external or ()), *_team_entries(ntire_repo, teams)]
    if suite_name is None and not models and not external:
        raise ConfigError("nothing to run: pass --suite NAME, or --models a,b with --data DIR")
    suite = suites[suite_name] if suite_name else Suite(name="", description="ad-hoc", models=(), weights="official")

    if suite_name and models:  # a subset of the suite, in the order given
        by_name = {m.key: m for m in suite.models} | {m.name: m for m in suite.models}
        unknown = [m for m in models if m not in by_name]
        if unknown:
            raise ConfigError(f"model(s) {', '.join(unknown)} not in suite {suite_name!r}; "
                              f"it has: {', '.join(m.key for m in suite.models)}")
        entries = [by_name[m] for m in models]
    elif models:
        entries = [BICUBIC_ENTRY if m == BICUBIC else _adhoc_entry(m) for m in models]
    else:
        entries = list(suite.models)
    entries = _labelled(entries, names, [_external_entry(e) for e in external or ()])
    for entry in entries:  # unknown model -> UnknownModelError with suggestions, before any file check
        if entry.name != BICUBIC and not entry.variant.startswith(FILE_VARIANT) and entry.external is None:
            get_spec(entry.name)
    needs_official = suite.weights == "official" and any(e.name != BICUBIC and e.checkpoint is None
                                                         and e.external is None for e in entries)
    wdir = resolve_weights_dir(weights_dir) if needs_official else None
    resolved = []
    for entry in entries:
        if entry.name == BICUBIC or entry.external is not None:
            resolved.append(entry)
            continue
        if entry.checkpoint is None:
            path = wdir / f"{entry.name}.pth"
            entry = dataclasses.replace(entry, checkpoint=str(path), variant=entry.variant or "official weights")
        else:
            path = Path(entry.checkpoint)
            path = path if path.is_absolute() else PROJECT_ROOT / path
            entry = dataclasses.replace(entry, checkpoint=str(path))
        if not path.is_file() and not entry.optional:
            raise ConfigError(missing_weights_message(path, entry.name))
        resolved.append(entry)

    data_specs = tuple(data) if data else suite.data
    if not data_specs:
        raise ConfigError(f"suite {suite_name or 'ad-hoc'!r} needs --data DIR (e.g. ../shared/datasets/Set5)")
    protocol = suite.protocol
    overrides = {k: v for k, v in dict(runtime_mode=runtime_mode, rounds=rounds, warmup=warmup,
                                       timing_size=timing_size, threads=threads).items() if v is not None}
    if extra_metrics:
        overrides["extra_metrics"] = tuple(dict.fromkeys([*protocol.extra_metrics, *extra_metrics]))
    protocol = dataclasses.replace(protocol, **overrides)
    device = device or "cpu"
    if device not in ("cpu", "cuda"):
        raise ConfigError(f"--device must be cpu or cuda, got {device!r}")
    check_cuda(device)
    if max_pixels is not None and max_pixels < 1:
        raise ConfigError(f"--max-pixels must be >= 1, got {max_pixels}")
    scale = _run_scale(suite, [e for e in resolved if e.external is not None])
    return RunConfig(suite=suite_name, models=tuple(resolved), data=data_specs, scale=scale, device=device,
                     headline=suite.headline, description=suite.description, protocol=protocol,
                     max_pixels=max_pixels)


def _run_scale(suite: Suite, external: list[ModelEntry]) -> int:
    """A suite fixes the scale; an ad-hoc run takes its --model rows' --scale (all must agree)."""
    scales = {e.external.get("scale", 4) for e in external}
    if suite.name:
        for entry in external:
            if entry.external.get("scale", 4) != suite.scale:
                raise ConfigError(f"--model {entry.external['source']}: --scale {entry.external.get('scale', 4)} "
                                  f"but suite {suite.name!r} is x{suite.scale}; run it without --suite, with --data")
        return suite.scale
    if len(scales) > 1:
        raise ConfigError(f"--model rows have different --scale values ({', '.join(map(str, sorted(scales)))}); "
                          "one run is one scale: evaluate them in separate runs")
    return scales.pop() if scales else suite.scale


def check_cuda(device: str) -> None:
    """``--device cuda`` on a torch without a CUDA device is one line (eval and train alike)."""
    if device == "cuda":
        import torch  # noqa: PLC0415

        if not torch.cuda.is_available():
            raise ConfigError(f"--device cuda: this torch ({torch.__version__}) sees no CUDA device; use --device cpu "
                              "or install a CUDA build of torch on a machine with a GPU")


def _adhoc_entry(token: str) -> ModelEntry:
    """`--models` token: a registry name (official weights) or a path to a checkpoint file, labelled by its stem."""
    if token.endswith((".pth", ".pt")) or os.sep in token:
        path = Path(token)
        return ModelEntry(name=path.stem, checkpoint=str(path.resolve()), variant=FILE_VARIANT + path.name,
                          label=path.stem)
    return ModelEntry(name=token)


def _team_entries(repo: str | None, teams: list[str] | None) -> list[dict]:
    """``--ntire-repo DIR --team 0,21`` (or ``all``): one row per team, built later by the organizers' select_model."""
    if (repo is None) != (not teams):
        raise ConfigError("--ntire-repo DIR and --team N[,M...] go together (e.g. --ntire-repo NTIRE2024_ESR "
                          "--team 0,21, or --team all)")
    if repo is None:
        return []
    from sr_harness.models.ntire import NtireRepoError, team_ids  # noqa: PLC0415

    try:
        known = team_ids(repo)
    except NtireRepoError as exc:
        raise ConfigError(str(exc)) from None
    if teams == ["all"]:
        chosen = list(known)
    else:
        try:
            chosen = [int(t) for t in teams]
        except ValueError:
            raise ConfigError(f"--team takes team ids (numbers) or 'all', got {','.join(teams)}") from None
    unknown = [t for t in chosen if t not in known]
    if unknown:
        raise ConfigError(f"--team {unknown[0]}: {repo}/test_demo.py's select_model has no such team; its ids: "
                          f"{','.join(map(str, known))} (or --team all)")
    root = str(Path(repo).expanduser().resolve())
    return [{"ntire_repo": root, "team": t, "label": f"team{t:02}"} for t in dict.fromkeys(chosen)]


EXTERNAL_FIELDS = {"source", "weights", "data_range", "scale", "args", "state_key", "label"}


def _external_entry(fields: dict) -> ModelEntry:
    """``--model FILE.py:Class``: labelled by the class name (``--name`` to change it)."""
    fields = dict(fields)
    if "team" in fields:
        label = fields.pop("label")
        return ModelEntry(name=label, variant=f"NTIRE select_model, team {fields['team']:02}", label=label,
                          external=fields)
    unknown = set(fields) - EXTERNAL_FIELDS
    if unknown or "source" not in fields:
        raise ConfigError(f"model entry {fields}: unknown field(s) {', '.join(sorted(unknown))}; known: "
                          f"{', '.join(sorted(EXTERNAL_FIELDS))}" if unknown else f"model entry {fields}: no source")
    source = fields["source"]
    cls = source.rpartition(":")[2] or source
    label = fields.pop("label", None) or cls
    return ModelEntry(name=cls, variant=f"external: {source}", label=label, external=fields)


def _labelled(entries: list[ModelEntry], names: list[str] | None, external: list[ModelEntry]) -> list[ModelEntry]:
    """Apply ``--name`` labels (in --models order; an empty item keeps the default), add the --model rows (labelled
    by their own --name) and refuse duplicates."""
    if names:
        if len(names) != len(entries):
            raise ConfigError(f"--name gives {len(names)} label(s) for {len(entries)} model(s); give one per "
                              "--models item (an empty item keeps the default label), e.g. --name ,mine")
        entries = [dataclasses.replace(e, label=n) if n else e for e, n in zip(entries, names)]
    entries = [*entries, *external]
    seen: dict[str, ModelEntry] = {}
    for entry in entries:
        if entry.key in seen:
            first = seen[entry.key].checkpoint or seen[entry.key].name
            raise ConfigError(f"two models would both be labelled {entry.key!r} ({first} and "
                              f"{entry.checkpoint or entry.name}); give each a label with --name, e.g. "
                              "--name official,mine")
        seen[entry.key] = entry
    return entries
