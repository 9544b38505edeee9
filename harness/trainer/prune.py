"""Iterative L2 pruning: shrink inner widths step by step toward a target, fine-tune after each step, and stop
when validation PSNR-Y falls below a floor. Every step (widths, params, FLOPs, PSNR) goes to pruning.json."""

from __future__ import annotations

import dataclasses
import time

from torch import nn

from sr_harness import models
from sr_harness.protocols.complexity import measure_complexity

from .checkpointing import json_write
from .config import StageConfig
from .loop import train_stage, validate


def next_widths(current: list[tuple[int, int]], target: list[tuple[int, int]], step: int) -> list[tuple[int, int]]:
    """Remove ``step`` channels from every inner width still above its target (never below it)."""
    if len(current) != len(target):
        raise ValueError(f"target_widths has {len(target)} blocks, the model has {len(current)}")
    return [(max(t1, w1 - step), max(t2, w2 - step)) for (w1, w2), (t1, t2) in zip(current, target)]


def describe(model: nn.Module, psnr: float, step: int, **extra) -> dict:
    """One point of the pruning curve, measured on the fused (deploy) form."""
    deploy = models.fuse(model).cpu().eval()
    complexity = measure_complexity(deploy, input_hw=(256, 256))
    return {"step": step, "inner_widths": [list(w) for w in model.inner_widths], "params": complexity.params,
            "flops_g": complexity.flops_g, "psnr_y": psnr, **extra}


def prune_stage(model: nn.Module, stage: StageConfig, *, runner, teacher=None, resume=None) -> tuple[nn.Module, dict]:
    """Returns the last model that stayed at or above the floor, and the stage summary with the curve."""
    ctx, device = runner.ctx, runner.dist.device
    target = [tuple(w) for w in stage.target_widths]
    val_images = runner.val_images(model.scale)
    started = time.perf_counter()
    base = validate(model, val_images, device)
    floor = stage.psnr_floor_db if stage.psnr_floor_db > 0 else base - stage.max_drop_db
    curve = [describe(model, base, 0, accepted=True)]
    kept, step = model, 0
    while [tuple(w) for w in kept.inner_widths] != target:
        step += 1
        widths = next_widths([tuple(w) for w in kept.inner_widths], target, stage.prune_channels)
        candidate = models.prune(kept, widths).to(device)
        sub = dataclasses.replace(stage, name=f"{stage.name}#p{step}", steps=stage.finetune_steps, epochs=0,
                                  t_max=0, kind="train")
        sub_resume = resume if resume is not None and resume.get("stage") == sub.name else None
        result = train_stage(candidate, sub, stream=runner.stream(stage, candidate.scale), val_images=[],
                             ctx=ctx, teacher=teacher, resume=sub_resume)
        psnr = validate(candidate, val_images, device)
        point = describe(candidate, psnr, step, accepted=psnr >= floor, finetune_steps=result.steps,
                         final_loss=result.final_loss)
        curve.append(point)
        ctx.log.write(event="prune_step", stage=stage.name, **point)
        if ctx.dist.is_main:
            json_write(ctx.paths.root / "pruning.json", {"stage": stage.name, "floor_db": floor, "base_psnr_y": base,
                                                        "target_widths": [list(w) for w in target],
                                                        "steps": curve})
        if psnr < floor:
            break
        kept = candidate
    summary = {"steps": sum(p.get("finetune_steps", 0) for p in curve), "final_loss": curve[-1].get("final_loss"),
               "val_psnr_y": next(p["psnr_y"] for p in reversed(curve) if p["accepted"]),
               "wall_s": time.perf_counter() - started, "floor_db": floor, "pruning_curve": curve,
               "stopped_by_floor": not curve[-1]["accepted"]}
    return kept, summary
