"""Training recipes: TOML data files parsed into dataclasses; an unknown or mistyped key is one clear error.

A recipe has a ``[recipe]`` table (name, seed, notes), a ``[data]`` table, named ``[models.<key>]`` tables,
``[defaults]`` shared by every stage, an ordered ``[[stages]]`` list and optional ``[[exports]]``.
"""

from __future__ import annotations

import dataclasses
import pathlib
from dataclasses import dataclass, field
from typing import Any

from sr_harness import HarnessError

from sr_harness.config import toml

RECIPES_DIR = pathlib.Path(__file__).resolve().parent / "recipes"


class RecipeError(HarnessError, ValueError):
    """A recipe file that cannot be used; the message is one line naming the file and the key."""


@dataclass
class DataConfig:
    train: str = "embedded:train"  # "embedded:train" or a folder (paired or HR-only layout)
    val: str = "embedded:train"  # validation images; the embedded eval split is refused
    val_hr_crop: int = 192  # centre crop of each validation HR image (0 = whole image)
    patches_per_image: int = 64  # random crops per image per epoch (defines an epoch)
    min_patch_std: float = 0.0  # re-draw (up to 10 times) LR crops whose grey-level std is below this
    num_workers: int = 0
    exclude: list = field(default_factory=list)  # evaluation folders: a training image equal to one is an error


@dataclass
class ModelConfig:
    name: str
    overrides: dict = field(default_factory=dict)
    checkpoint: str = ""  # initial weights (project, official or deploy file)
    init_scheme: str = "default"  # "default" (PyTorch init) or "interpolation" (starts as bilinear upsampling)


@dataclass
class StageConfig:
    name: str = ""
    model: str = "student"
    kind: str = "train"  # "train" or "prune"
    repeats: int = 1  # the stage is run this many times, each warm-started from the previous run
    init: str = "previous"  # "previous" (last weights of this model), "scratch", or a checkpoint path
    teacher: str = ""  # model key whose current weights distill into this stage ("" = none)
    distill_weight: float = 1.0
    loss: str = "charbonnier"  # "charbonnier" or "l2"
    charbonnier_eps: float = 1e-3
    contrastive_weight: float = 0.0  # RLFN's shallow-feature contrastive loss (0 = off)
    hr_patch: int = 128  # HR patch side; the LR patch is hr_patch / scale
    batch_size: int = 16
    lr: float = 1e-3
    eta_min: float = 1e-5
    betas: tuple = (0.9, 0.999)
    epochs: int = 0  # length in epochs (patches_per_image x images per epoch) ...
    steps: int = 0  # ... or in optimizer steps (one of the two)
    t_max: int = 0  # cosine period in the same unit as the length (0 = the whole stage)
    val_every: int = 0  # validate every N steps (0 = at the end of the stage only)
    channels_last: bool = False  # NHWC layout for the model and batches (about 20 % faster on this CPU)
    log_every: int = 10
    checkpoint_every: int = 50
    # pruning stages only
    target_widths: list = field(default_factory=list)
    prune_channels: int = 2  # channels removed per conv per pruning step
    finetune_steps: int = 0
    psnr_floor_db: float = 0.0  # stop when validation PSNR-Y falls below this (absolute) ...
    max_drop_db: float = 0.0  # ... or below (PSNR before pruning - max_drop_db)


@dataclass
class ExportConfig:
    stage: str
    file: str
    form: str = "as_trained"  # "as_trained" or "fused"


@dataclass
class Recipe:
    name: str
    path: pathlib.Path
    seed: int = 0
    notes: dict = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    models: dict[str, ModelConfig] = field(default_factory=dict)
    stages: list[StageConfig] = field(default_factory=list)
    exports: list[ExportConfig] = field(default_factory=list)
    raw: dict = field(default_factory=dict, repr=False)

    def expanded_stages(self) -> list[StageConfig]:
        """Stages with repeats unrolled into runs named ``<name>``, ``<name>.2``, ``<name>.3`` ..."""
        runs = []
        for stage in self.stages:
            for i in range(stage.repeats):
                run = dataclasses.replace(stage, name=stage.name if i == 0 else f"{stage.name}.{i + 1}", repeats=1)
                if i > 0:
                    run.init = "previous"
                runs.append(run)
        return runs


def _build(cls, table: Any, where: str, path: pathlib.Path, defaults: dict | None = None):
    if not isinstance(table, dict):
        raise RecipeError(f"{path}: [{where}] must be a table")
    known = {f.name: f for f in dataclasses.fields(cls)}
    values = dict(defaults or {})
    for key, value in table.items():
        if key not in known:
            raise RecipeError(f"{path}: unknown key {where}.{key!r}; known keys: {', '.join(sorted(known))}")
        values[key] = value
    for key, value in values.items():
        default = known[key].default
        if default is not dataclasses.MISSING and default is not None:
            ok = isinstance(value, type(default)) or (isinstance(default, float) and isinstance(value, int))
            ok = ok or (isinstance(default, tuple) and isinstance(value, list))
            if not ok or (isinstance(value, bool) and not isinstance(default, bool)):
                raise RecipeError(f"{path}: {where}.{key} must be {type(default).__name__}, got {value!r}")
            if isinstance(default, float):
                values[key] = float(value)
            if isinstance(default, tuple):
                values[key] = tuple(value)
    try:
        return cls(**values)
    except TypeError as exc:
        raise RecipeError(f"{path}: [{where}] is incomplete: {exc}") from None


def resolve_recipe_path(spec: str | pathlib.Path) -> pathlib.Path:
    """A recipe by bundled name (``cpu_default``) or by file path."""
    path = pathlib.Path(spec)
    if path.suffix != ".toml" and not path.exists():
        path = RECIPES_DIR / f"{spec}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in RECIPES_DIR.glob("*.toml")))
        raise RecipeError(f"{spec}: no such recipe file; bundled recipes: {known}")
    return path


def load_recipe(spec: str | pathlib.Path, profile: str | None = None) -> Recipe:
    """Parse a recipe; ``profile`` applies ``[profiles.<name>]`` stage values (e.g. a GPU-sized run) over every
    stage's own values."""
    path = resolve_recipe_path(spec)
    try:
        raw = toml.loads(path.read_text(encoding="utf-8"))
    except toml.TOMLDecodeError as exc:
        raise RecipeError(f"{path}: not valid TOML: {exc}") from None
    top = {"recipe", "data", "models", "defaults", "stages", "exports", "profiles"}
    for key in raw:
        if key not in top:
            raise RecipeError(f"{path}: unknown table {key!r}; known tables: {', '.join(sorted(top))}")
    head = dict(raw.get("recipe", {}))
    for key in head:
        if key not in {"name", "seed", "notes", "description"}:
            raise RecipeError(f"{path}: unknown key recipe.{key!r}; known keys: description, name, notes, seed")
    recipe = Recipe(name=head.get("name", path.stem), path=path, seed=int(head.get("seed", 0)),
                    notes=dict(head.get("notes", {})), raw=raw)
    recipe.notes.setdefault("description", head.get("description", ""))
    recipe.data = _build(DataConfig, raw.get("data", {}), "data", path)
    for key, table in raw.get("models", {}).items():
        recipe.models[key] = _build(ModelConfig, table, f"models.{key}", path)
    defaults = raw.get("defaults", {})
    _build(StageConfig, defaults, "defaults", path)  # validates the keys and types
    profiles = raw.get("profiles", {})
    for name, table in profiles.items():
        _build(StageConfig, table, f"profiles.{name}", path)
    if profile is not None and profile not in profiles:
        raise RecipeError(f"{path}: no profile {profile!r}; profiles: {', '.join(sorted(profiles)) or 'none'}")
    chosen = profiles.get(profile, {}) if profile else {}
    names = set()
    for i, table in enumerate(raw.get("stages", [])):
        stage = _build(StageConfig, {**table, **chosen}, f"stages[{i}]", path, defaults=defaults)
        stage.name = stage.name or f"stage{i + 1}"
        _check_stage(stage, recipe, path, names)
        names.add(stage.name)
        recipe.stages.append(stage)
    run_names = {s.name for s in recipe.expanded_stages()}
    for i, table in enumerate(raw.get("exports", [])):
        export = _build(ExportConfig, table, f"exports[{i}]", path)
        if export.stage not in run_names:
            raise RecipeError(f"{path}: exports[{i}].stage {export.stage!r} is not a stage run; "
                              f"known: {', '.join(sorted(run_names))}")
        if export.form not in ("as_trained", "fused"):
            raise RecipeError(f"{path}: exports[{i}].form must be 'as_trained' or 'fused'")
        recipe.exports.append(export)
    return recipe


def _check_stage(stage: StageConfig, recipe: Recipe, path: pathlib.Path, seen: set) -> None:
    where = f"{path}: stage {stage.name!r}"
    if stage.name in seen:
        raise RecipeError(f"{where} is defined twice; stage names must be unique")
    if stage.model not in recipe.models:
        raise RecipeError(f"{where}: model {stage.model!r} has no [models.{stage.model}] table")
    if stage.teacher and stage.teacher not in recipe.models:
        raise RecipeError(f"{where}: teacher {stage.teacher!r} has no [models.{stage.teacher}] table")
    if stage.kind not in ("train", "prune"):
        raise RecipeError(f"{where}: kind must be 'train' or 'prune', got {stage.kind!r}")
    if stage.loss not in ("charbonnier", "l2"):
        raise RecipeError(f"{where}: loss must be 'charbonnier' or 'l2', got {stage.loss!r}")
    if stage.kind == "train" and (stage.epochs > 0) == (stage.steps > 0):
        raise RecipeError(f"{where}: give exactly one of epochs or steps (a positive number)")
    if stage.kind == "prune":
        if not stage.target_widths or stage.finetune_steps <= 0:
            raise RecipeError(f"{where}: a prune stage needs target_widths and finetune_steps > 0")
        if (stage.psnr_floor_db > 0) == (stage.max_drop_db > 0):
            raise RecipeError(f"{where}: a prune stage needs exactly one of psnr_floor_db or max_drop_db")
    if stage.repeats < 1 or stage.batch_size < 1 or stage.hr_patch < 1:
        raise RecipeError(f"{where}: repeats, batch_size and hr_patch must be positive")
