"""The shipped default checkpoints: self-describing files, a training record each, and >= 0.5 dB PSNR-Y over
MATLAB bicubic on the embedded evaluation images (re-measured here, compared with the recorded figure)."""

import json
import pathlib

import pytest

from sr_harness import models
from sr_harness.trainer.export import embedded_eval_psnr

CHECKPOINTS = pathlib.Path(__file__).resolve().parents[1] / "results" / "checkpoints"
SHIPPED = {"rlfn_ntire_x4": "rlfn_ntire_x4", "slimrlfn_unfused_x4": "slimrlfn_unfused_x4",
           "slimrlfn_x4": "slimrlfn_x4", "slimrlfn_prune_x4": None}  # pruned: name depends on where pruning stopped


@pytest.mark.parametrize("stem", sorted(SHIPPED))
def test_shipped_checkpoint_beats_bicubic(stem):
    model, _ = models.load_model(CHECKPOINTS / f"{stem}.pth")
    if SHIPPED[stem]:
        assert model.model_name == SHIPPED[stem]
    record = json.loads((CHECKPOINTS / f"{stem}.train.json").read_text())
    assert record["recipe"] in ("cpu_default", "rlfn_291", "slimrlfn_291") and record["model_name"] == model.model_name
    assert record["params"] == sum(p.numel() for p in model.parameters())
    measured = embedded_eval_psnr(model)
    assert measured["gain_db"] >= 0.5


def test_pruned_export_is_fused_and_no_wider_than_the_full_model():
    full, _ = models.load_model(CHECKPOINTS / "slimrlfn_x4.pth")
    pruned, _ = models.load_model(CHECKPOINTS / "slimrlfn_prune_x4.pth")
    assert not models.is_unfused(pruned)
    assert all(p <= f for pw, fw in zip(pruned.inner_widths, full.inner_widths) for p, f in zip(pw, fw))
    curve = json.loads((CHECKPOINTS / "slimrlfn_prune_x4.train.json").read_text())["stages"]["prune"]["pruning_curve"]
    assert curve[0]["step"] == 0 and all({"inner_widths", "params", "flops_g", "psnr_y"} <= set(p) for p in curve)
