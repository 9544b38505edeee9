"""What a training run is, so that a reader can re-run it: the resolved recipe and its hash.

The hash covers every resolved value (all stages after defaults and repeats, models, data, seed, exports), the
sha256 of any checkpoint a model starts from, and the command-line choices that change training (``--data``,
``--step-scale``); ``--resume`` refuses a run folder started with another hash, so a run never continues (or
deletes) a foreign state.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pathlib

from sr_harness.models.checkpoints import sha256_file

from .config import ModelConfig, Recipe


def _model_entry(model: ModelConfig) -> dict:
    entry = dataclasses.asdict(model)
    if model.checkpoint and pathlib.Path(model.checkpoint).is_file():  # a warm start or frozen teacher from a file
        entry["checkpoint_sha256"] = sha256_file(model.checkpoint)
    return entry


def resolved_recipe(recipe: Recipe, *, data: str, step_scale: float) -> dict:
    return {"name": recipe.name, "file": recipe.path.name, "seed": recipe.seed,
            "data": dataclasses.asdict(recipe.data) | {"train": data},
            "models": {k: _model_entry(m) for k, m in recipe.models.items()},
            "stages": [dataclasses.asdict(s) for s in recipe.expanded_stages()],
            "exports": [dataclasses.asdict(e) for e in recipe.exports], "step_scale": step_scale}


def recipe_hash(resolved: dict) -> str:
    return hashlib.sha256(json.dumps(resolved, sort_keys=True, default=list).encode()).hexdigest()
