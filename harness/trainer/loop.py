"""One training stage: Adam + cosine annealing over a stream of patch batches; validation; resumable."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm import tqdm

from sr_harness.protocols.quality import psnr_y, to_uint8

from .checkpointing import CheckpointWriteError, save_state, set_rng_states
from .config import StageConfig
from .losses import StageLoss


class StopTraining(Exception):
    """The step budget of this invocation is spent (used to simulate a kill in tests)."""


@dataclass
class StepBudget:
    """Optimizer steps this process may still take (None = unlimited)."""

    remaining: int | None = None

    def spend(self) -> None:
        if self.remaining is not None:
            if self.remaining <= 0:
                raise StopTraining()
            self.remaining -= 1


@dataclass
class StageResult:
    steps: int
    final_loss: float | None
    val_psnr_y: float | None
    wall_s: float
    losses: dict = field(default_factory=dict)
    data_wait_fraction: float | None = None  # share of this invocation's step time spent waiting for batches
    curve: list = field(default_factory=list)  # (step, validation PSNR-Y) of this stage


def stage_steps(stage: StageConfig, steps_per_epoch: int) -> tuple[int, int]:
    """(total optimizer steps, cosine T_max in steps) of a stage given in epochs or steps."""
    if stage.epochs:
        total = stage.epochs * steps_per_epoch
        t_max = (stage.t_max or stage.epochs) * steps_per_epoch
    else:
        total, t_max = stage.steps, stage.t_max or stage.steps
    return total, t_max


@torch.no_grad()
def validate(model: nn.Module, images, device: torch.device) -> float:
    """Mean PSNR-Y (float Y, border = scale) of the rounded uint8 outputs."""
    was_training = model.training
    model.eval()
    values = []
    for _, lr, hr in images:
        sr = model(lr[None].float().to(device))
        values.append(psnr_y(to_uint8(sr.cpu()), hr.permute(1, 2, 0).numpy(), crop=model.scale))
    model.train(was_training)
    return sum(values) / len(values)


def _resumed(resume: dict, model, optimizer, scheduler, stage: StageConfig, ctx) -> tuple[int, float]:
    """Model, optimizer, scheduler and RNG states from a saved training state; (step, wall seconds before)."""
    try:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        scheduler.load_state_dict(resume["scheduler"])
        set_rng_states(resume["rng"])
    except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as exc:
        raise CheckpointWriteError(f"{ctx.paths.state}: training state does not fit stage {stage.name!r} "
                                   f"({' '.join(str(exc).split())[:120]}); delete it to restart the stage, "
                                   "or choose another --out folder") from None
    return resume["step"], float(resume.get("extra", {}).get("wall_s", 0.0))  # time spent before the kill


def _log_window(ctx, stage: StageConfig, step: int, scheduler, loss, parts: dict, progress) -> float:
    """One log line of the window's mean loss (a single host sync); the mean, as a float."""
    mean = loss.item()
    ctx.log.write(event="step", stage=stage.name, step=step, loss=mean, lr=scheduler.get_last_lr()[0],
                  **{k: v.item() for k, v in parts.items()})
    progress.set_postfix(loss=f"{mean:.4f}")
    return mean


def _validate_logged(model, val_images, ctx, stage: StageConfig, step: int, curve: list) -> float:
    """Validation PSNR-Y, logged and appended to the learning curve."""
    val = validate(model, val_images, ctx.device)
    ctx.log.write(event="val", stage=stage.name, step=step, psnr_y=val)
    curve.append([step, val])
    return val


def train_stage(model: nn.Module, stage: StageConfig, *, stream, val_images, ctx, teacher: nn.Module | None = None,
                resume: dict | None = None, total_steps: int | None = None) -> StageResult:
    """Train ``model`` in place for one stage. ``ctx`` is the run context (device, dist, log, paths, budget)."""
    device = ctx.device
    total, t_max = stage_steps(stage, stream.steps_per_epoch)
    total = total_steps or total
    optimizer = torch.optim.Adam(model.parameters(), lr=stage.lr, betas=stage.betas)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=t_max, eta_min=stage.eta_min)
    step, wall_before = _resumed(resume, model, optimizer, scheduler, stage, ctx) if resume else (0, 0.0)
    loss_fn = StageLoss(pixel=stage.loss, eps=stage.charbonnier_eps, teacher=teacher,
                        distill_weight=stage.distill_weight, contrastive_weight=stage.contrastive_weight,
                        seed=ctx.seed).to(device)
    layout = torch.channels_last if stage.channels_last else torch.contiguous_format
    model.to(memory_format=layout)
    net = ctx.dist.wrap(model)
    net.train()
    waited, curve = 0.0, list((resume or {}).get("extra", {}).get("curve", []))
    batches = stream.batches(step)
    window, window_parts, window_n, final_loss, val = None, {}, 0, None, None
    started = time.perf_counter()
    progress = tqdm(total=total, initial=step, desc=stage.name, unit="step", disable=not ctx.progress, leave=False)
    while step < total:
        ctx.budget.spend()
        t_wait = time.perf_counter()
        lr_batch, hr_batch = next(batches)
        waited += time.perf_counter() - t_wait
        lr_batch = lr_batch.to(device, non_blocking=True).float().contiguous(memory_format=layout)
        hr_batch = hr_batch.to(device, non_blocking=True).float().contiguous(memory_format=layout)
        output = net(lr_batch)
        loss, parts = loss_fn(output, hr_batch, lr_batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        step += 1
        progress.update(1)
        # Sum on the device; one host sync per log line, not per step.
        window = loss.detach() if window is None else window + loss.detach()
        for key, value in parts.items():
            window_parts[key] = window_parts.get(key, 0.0) + value
        window_n += 1
        if step % stage.log_every == 0 or step == total:
            final_loss = _log_window(ctx, stage, step, scheduler, window / window_n,
                                     {k: v / window_n for k, v in window_parts.items()}, progress)
            window, window_parts, window_n = None, {}, 0
        if stage.val_every and step % stage.val_every == 0 and step < total:
            _validate_logged(model, val_images, ctx, stage, step, curve)
        if (step % stage.checkpoint_every == 0 or step == total) and ctx.dist.is_main:
            save_state(ctx.paths.state, stage=stage.name, step=step, model=model, optimizer=optimizer,
                       scheduler=scheduler, extra={"total": total, "wall_s": wall_before + time.perf_counter() -
                                                   started, "recipe_hash": ctx.recipe_hash, "curve": curve})
    progress.close()
    elapsed = time.perf_counter() - started
    model.to(memory_format=torch.contiguous_format)
    val = _validate_logged(model, val_images, ctx, stage, step, curve) if val_images else None
    return StageResult(steps=step, final_loss=final_loss, val_psnr_y=val, wall_s=wall_before + elapsed,
                       losses={"final_window_loss": final_loss},
                       data_wait_fraction=waited / elapsed if elapsed > 0 else None, curve=curve)
