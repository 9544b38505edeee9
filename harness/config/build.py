"""Run configuration: frozen dataclasses, built from harness/suites.toml plus command-line choices.

Unknown keys are errors (a misspelled key must never be carried along silently).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from sr_harness import metrics, project_root, shipped_checkpoints
from sr_harness.config import toml
from sr_harness.config.types import (  # noqa: F401  (re-exported: the configuration's types are part of this module's interface)
    BICUBIC,
    BICUBIC_ENTRY,
    EVAL_IMAGES,
    FILE_VARIANT,
    OFFICIAL_WEIGHTS_SOURCES,
    SUITES_FILE,
    TRAIN_IMAGES,
    WEIGHTS_ENV,
    ConfigError,
    ModelEntry,
    ProtocolConfig,
    RunConfig,
    Suite,
)
from sr_harness.config.options import RunOptions
from sr_harness.config.shards import shard_pairs
from sr_harness.config.sources import external_entry, run_scale, suite_file_entry, team_entries


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
    except (TypeError, ConfigError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _check_shapes(table: dict, name: str, where: str) -> None:
    """The containers a suite table holds, before anything iterates them (``models = 3`` was a TypeError)."""
    models, data, protocol = table.get("models", []), table.get("data", []), table.get("protocol", {})
    if not isinstance(models, list) or not all(isinstance(m, dict) for m in models):
        raise ConfigError(f"{where}: models must be a list of tables ([[{name}.models]] ...)")
    if not isinstance(data, list) or not all(isinstance(d, str) for d in data):
        raise ConfigError(f"{where}: data must be a list of folder names, e.g. data = [\"embedded\"]")
    if not isinstance(protocol, dict):
        raise ConfigError(f"{where}: protocol must be a table, e.g. protocol = {{ rounds = 10 }}")


def parse_suites(data: dict, source: str) -> dict[str, Suite]:
    suites = {}
    for name, table in data.items():
        where = f"{source} [{name}]"
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: expected a table")
        _check_keys(table, [*_fields(Suite), "bicubic"], where)
        _check_shapes(table, name, where)
        models = []
        if table.get("bicubic", False):
            models.append(BICUBIC_ENTRY)
        for i, entry in enumerate(table.get("models", [])):
            if "source" in entry or "ntire_repo" in entry:  # a user's class or an NTIRE team (--suite-file)
                models.append(suite_file_entry(entry, Path(source).parent, f"{where} models[{i}]"))
                continue
            _check_keys(entry, _fields(ModelEntry), f"{where} models[{i}]")
            if not isinstance(entry.get("name"), str):
                raise ConfigError(f"{where} models[{i}]: needs a string 'name'")
            models.append(ModelEntry(**entry))
        suites[name] = Suite(name=name, description=table.get("description", ""), models=tuple(models),
                             data=tuple(table.get("data", ())), weights=table.get("weights", "project"),
                             scale=table.get("scale", 4), headline=table.get("headline", "psnr_y"),
                             protocol=_protocol(dict(table.get("protocol", {})), f"{where}.protocol"),
                             ntire_teams=table.get("ntire_teams"))
        if suites[name].ntire_teams is not None and not isinstance(suites[name].ntire_teams, str):
            raise ConfigError(f"{where}: ntire_teams must be a string: \"all\" or team ids such as \"0,21\"")
        if suites[name].headline not in metrics.quality_names():
            raise ConfigError(f"{where}: headline {suites[name].headline!r} is not a quality metric; use one of "
                              f"{', '.join(metrics.quality_names())}")
        if suites[name].weights not in ("project", "official"):
            raise ConfigError(f"{where}: weights must be 'project' or 'official', got {suites[name].weights!r}")
    return suites


def load_suites(path: str | os.PathLike = SUITES_FILE) -> dict[str, Suite]:
    path = Path(path)
    fix = "give a UTF-8 TOML file in the format of harness/suites.toml"
    try:
        if not path.is_file():  # a FIFO or device would block the read or never end
            raise ConfigError(f"{path}: not a regular file; {fix}")
        size = path.stat().st_size
        if size > MAX_SUITES_BYTES:
            raise ConfigError(f"{path}: {size} bytes, more than a suites file's "
                              f"{MAX_SUITES_BYTES} limit; {fix}")
        data = toml.loads(path.read_text(encoding="utf-8"))
    except (OSError, toml.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read suites file ({exc}); {fix}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to read; {fix}") from None
    return parse_suites(data, str(path))


MAX_SUITES_BYTES = 1 << 20  # suites are a few KiB; the limit keeps a wrong file from filling memory


SHIPPED_DIR = Path("results") / "checkpoints"  # how suites name the project's own checkpoints


def shipped_file(relative: Path) -> Path:
    """A suite's project path: under the project root (the current directory) when there, else, for a
    checkpoint, the installed copy of results/checkpoints (sr_harness.shipped_checkpoints)."""
    in_root = project_root() / relative
    if in_root.exists() or not relative.is_relative_to(SHIPPED_DIR):
        return in_root
    packaged = shipped_checkpoints() / relative.relative_to(SHIPPED_DIR)
    return packaged if packaged.exists() else in_root


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


def _picked(suite: Suite, suite_name: str | None, models: list[str] | None) -> list[ModelEntry]:
    """The suite's models, a subset of them in the order given, or an ad-hoc list of names and files."""
    if suite_name and models:
        by_name = {m.key: m for m in suite.models} | {m.name: m for m in suite.models}
        unknown = [m for m in models if m not in by_name]
        if unknown:
            raise ConfigError(f"model(s) {', '.join(unknown)} not in suite {suite_name!r}; "
                              f"it has: {', '.join(m.key for m in suite.models)}")
        return [by_name[m] for m in models]
    if models:
        return [BICUBIC_ENTRY if m == BICUBIC else _adhoc_entry(m) for m in models]
    return list(suite.models)


def _with_checkpoints(entries: list[ModelEntry], suite: Suite, weights_dir: str | None) -> list[ModelEntry]:
    """Each registry entry with the checkpoint file it loads (official weights folder or a project path)."""
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
            path = path if path.is_absolute() else shipped_file(path)
            entry = dataclasses.replace(entry, checkpoint=str(path))
        if not path.is_file() and not entry.optional:
            raise ConfigError(missing_weights_message(path, entry.name))
        resolved.append(entry)
    return resolved


def _overridden(protocol: ProtocolConfig, given: dict, extra_metrics: list[str] | None, timing_processes: int | None,
              for_baseline: bool) -> ProtocolConfig:
    """The suite's protocol with the command line's overrides (None: not given)."""
    overrides = {k: v for k, v in given.items() if v is not None}
    if extra_metrics:
        overrides["extra_metrics"] = tuple(dict.fromkeys([*protocol.extra_metrics, *extra_metrics]))
    if "rounds" in overrides and timing_processes is None:  # fewer rounds than the suite's processes: one each
        overrides["timing_processes"] = min(protocol.timing_processes, overrides["rounds"])
    if timing_processes is not None:
        overrides["timing_processes"] = timing_processes
    protocol = dataclasses.replace(protocol, **overrides)
    if for_baseline:
        factor = protocol.baseline_timing
        protocol = dataclasses.replace(protocol, rounds=protocol.rounds * factor,
                                       timing_processes=protocol.timing_processes * factor)
    return protocol


def build_config(suite_name: str | None = None, **options) -> RunConfig:
    """Resolve a suite (or an ad-hoc model list) and command-line overrides (``RunOptions``' fields) into a
    validated RunConfig."""
    return config_from(RunOptions(suite=suite_name, **options))


def config_from(opts: RunOptions) -> RunConfig:
    from sr_harness.models import get_spec  # noqa: PLC0415  (keeps `harness list --suites` free of torch start-up cost)

    suite_name, suites_file, teams, device = opts.suite, opts.suites_file, opts.teams, opts.device

    suites = load_suites(suites_file)
    if suite_name is None and Path(suites_file) != SUITES_FILE and len(suites) == 1:
        suite_name = next(iter(suites))  # --suite-file with one suite: that one
    if suite_name is not None and suite_name not in suites:
        raise ConfigError(f"unknown suite {suite_name!r}; known suites: {', '.join(sorted(suites))}")
    suite = suites[suite_name] if suite_name else Suite(name="", description="ad-hoc", models=(), weights="official")
    if suite.ntire_teams is not None:  # a zoo suite: its teams unless --team chooses
        if opts.ntire_repo is None:
            raise ConfigError(f"suite {suite_name!r} evaluates the teams of the organizers' repository: pass "
                              "--ntire-repo DIR (e.g. ../shared/third_party/NTIRE2024_ESR)")
        teams = teams or suite.ntire_teams.split(",")
    external = [*(opts.external or ()), *team_entries(opts.ntire_repo, teams)]
    if suite_name is None and not opts.models and not external:
        raise ConfigError("nothing to run: pass --suite NAME, or --models a,b with --data DIR")

    entries = _picked(suite, suite_name, opts.models)
    entries = _labelled(entries, opts.names, [external_entry(e) for e in external])
    for entry in entries:  # unknown model -> UnknownModelError with suggestions, before any file check
        if entry.name != BICUBIC and not entry.variant.startswith(FILE_VARIANT) and entry.external is None:
            get_spec(entry.name)
    resolved = _with_checkpoints(entries, suite, opts.weights_dir)

    data_specs = tuple(opts.data) if opts.data else suite.data
    if not data_specs:
        raise ConfigError(f"suite {suite_name or 'ad-hoc'!r} needs --data DIR (e.g. ../shared/datasets/Set5)")
    protocol = _overridden(suite.protocol, dict(runtime_mode=opts.runtime_mode, rounds=opts.rounds, warmup=opts.warmup,
                                                timing_size=opts.timing_size, threads=opts.threads),
                           opts.extra_metrics, opts.timing_processes, opts.for_baseline)
    device = device or "cpu"
    if device not in ("cpu", "cuda"):
        raise ConfigError(f"--device must be cpu or cuda, got {device!r}")
    check_cuda(device)
    if opts.max_pixels is not None and opts.max_pixels < 1:
        raise ConfigError(f"--max-pixels must be >= 1, got {opts.max_pixels}")
    scale = run_scale(suite, [e for e in resolved if e.external is not None])
    every = tuple(e.key for e in resolved)  # the run's entries; a shard keeps those it has a pair of
    pairs = shard_pairs(opts.shard, list(every), len(data_specs)) if opts.shard else None
    if pairs is not None:
        resolved = [e for e in resolved if any(key == e.key for key, _ in pairs)]
    return RunConfig(suite=suite_name, models=tuple(resolved), data=data_specs, scale=scale, device=device,
                     headline=suite.headline, description=suite.description, protocol=protocol,
                     max_pixels=opts.max_pixels, fused_rows=opts.fused, timed_for_baseline=opts.for_baseline,
                     shard=opts.shard, shard_pairs=pairs, shard_entries=every if pairs is not None else (),
                     trust_repo=opts.trust_repo)


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
