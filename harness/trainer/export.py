"""Exports: a finished stage's weights as a ``models.save_model`` file (fused for deploy when asked) plus a
``<stem>.train.json`` training record."""

from __future__ import annotations

import pathlib
import time

import torch
from torch import nn

from sr_harness import models
from sr_harness.run.data import embedded_dataset
from sr_harness.run.env import fingerprint
from sr_harness.outputs import owned_file
from sr_harness.protocols.imresize import bicubic_upscale
from sr_harness.protocols.quality import psnr_y, to_uint8

from .checkpointing import json_write
from .stages import RecipeRun


@torch.no_grad()
def embedded_eval_psnr(model: nn.Module) -> dict:
    """PSNR-Y (float Y, border = scale) of ``model`` and of MATLAB bicubic on the embedded evaluation images.

    Measured after training, for the record only; these images are never used to train or select.
    """
    model = model.cpu().eval()
    per_image = {}
    for pair in embedded_dataset(split="eval", scale=model.scale):
        sr = to_uint8(model(torch.from_numpy(pair.lr).permute(2, 0, 1)[None].float()))
        per_image[pair.name] = {"model": psnr_y(sr, pair.hr, crop=model.scale),
                                "bicubic": psnr_y(bicubic_upscale(pair.lr, model.scale), pair.hr, crop=model.scale)}
    mean = {k: sum(v[k] for v in per_image.values()) / len(per_image) for k in ("model", "bicubic")}
    return {"dataset": "embedded:eval", "metric": "psnr_y (float Y, crop = scale)", "psnr_y": mean["model"],
            "bicubic_psnr_y": mean["bicubic"], "gain_db": mean["model"] - mean["bicubic"], "per_image": per_image}


def export_all(runner: RecipeRun, *, measure_eval: bool = False) -> list[pathlib.Path]:
    written = []
    if not runner.dist.is_main:
        return written
    runs = runner.finished["runs"]
    for export in runner.recipe.exports:
        if export.stage not in runs:
            continue  # that stage was not run in this selection
        model, _ = models.load_model(runner.paths.stage_file(export.stage))
        if export.form == "fused":
            model = models.fuse(model)
        target = runner.paths.export_dir / export.file
        lineage = _lineage(runner, export.stage)
        env = fingerprint(runner.dist.device.type)
        record = {"file": export.file, "model_name": model.model_name, "form": export.form,
                  "params": sum(p.numel() for p in model.parameters()),
                  "inner_widths": [list(w) for w in model.inner_widths], "recipe": runner.recipe.name,
                  "recipe_file": runner.recipe.path.name, "recipe_notes": runner.recipe.notes,
                  "seed": runner.recipe.seed, "data": runner.data_spec, "stage": export.stage,
                  "stages": lineage, "total_steps": sum(s.get("steps", 0) for s in lineage.values()),
                  "train_wall_s": sum(s.get("wall_s", 0.0) for s in lineage.values()),
                  "world_size": runner.dist.world_size, "device": str(runner.dist.device),
                  "environment": env, "git": env["git"], "recipe_hash": runner.recipe_hash,
                  "resolved_recipe": runner.resolved, "data_manifest": runner.finished.get("data_manifest"),
                  "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if measure_eval:
            record["eval"] = embedded_eval_psnr(model)
        manifest = runner.finished.get("data_manifest") or {}
        models.save_model(model, owned_file(target), config={"recipe": runner.recipe.name, "stage": export.stage,
                                                 "form": export.form, "git": env["git"],
                                                 "recipe_hash": runner.recipe_hash,
                                                 "data_manifest_hash": manifest.get("hash"),
                                                 "resolved_recipe": runner.resolved},
                          extra={"train_record": target.with_suffix(".train.json").name})
        json_write(target.with_suffix(".train.json"), record)
        written.append(target)
    return written


def _lineage(runner: RecipeRun, stage: str) -> dict:
    """The finished runs that led to ``stage`` (its model's runs up to it, plus the teacher's runs)."""
    runs = runner.finished["runs"]
    order = [r.name for r in runner.recipe.expanded_stages()]
    upto = order[: order.index(stage) + 1]
    key = runs[stage]["model_key"]
    keys = {key} | {runs[n]["teacher"] for n in upto if n in runs and runs[n].get("model_key") == key
                    and runs[n].get("teacher")}
    return {n: {k: v for k, v in runs[n].items() if k != "pruning_curve"} | (
        {"pruning_curve": runs[n]["pruning_curve"]} if "pruning_curve" in runs[n] else {})
        for n in upto if n in runs and runs[n].get("model_key") in keys}
