"""Losses: Charbonnier, L2, distillation against a frozen teacher, RLFN's contrastive ratio; and starting the
training form from official deploy weights."""

import pytest
import torch

from sr_harness import models
from sr_harness.trainer.config import ModelConfig
from sr_harness.trainer.losses import ShallowContrastiveLoss, StageLoss, charbonnier, l2
from sr_harness.trainer.stages import load_weights


def test_charbonnier_and_l2_on_the_unit_scale():
    a, b = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 25.5)
    assert charbonnier(a, b, eps=1e-3).item() == pytest.approx((0.1 ** 2 + 1e-6) ** 0.5, rel=1e-6)
    assert charbonnier(a, a, eps=1e-3).item() == pytest.approx(1e-3)
    assert l2(a, b).item() == pytest.approx(0.01, rel=1e-6)


def test_distillation_adds_weighted_charbonnier_to_a_frozen_teacher():
    teacher = models.build_model("rlfn_ntire_x4", channels=8, mid_channels=8, blocks=1)
    lr = torch.rand(2, 3, 16, 16) * 255
    hr = torch.rand(2, 3, 64, 64) * 255
    out = torch.rand(2, 3, 64, 64, requires_grad=True) * 255
    loss, parts = StageLoss(pixel="charbonnier", eps=1e-3, teacher=teacher, distill_weight=0.5)(out, hr, lr)
    with torch.no_grad():
        expected = charbonnier(out, hr) + 0.5 * charbonnier(out, teacher(lr))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    loss.backward()
    assert all(p.grad is None and not p.requires_grad for p in teacher.parameters())
    assert set(parts) == {"pixel", "distill"}


def test_contrastive_ratio_is_zero_at_hr_and_one_at_the_negative():
    loss = ShallowContrastiveLoss(seed=0)
    lr = torch.rand(1, 3, 16, 16) * 255
    hr = torch.rand(1, 3, 64, 64) * 255
    negative = torch.nn.functional.interpolate(lr, size=(64, 64), mode="bicubic", align_corners=False)
    assert loss(hr, hr, lr).item() == pytest.approx(0.0, abs=1e-6)
    assert loss(negative, hr, lr).item() > 1e3  # at the negative the denominator vanishes
    assert not any(p.requires_grad for p in loss.parameters())
    stage = StageLoss(pixel="l2", eps=1e-3, contrastive_weight=0.1)
    total, parts = stage(hr + 1.0, hr, lr)
    assert set(parts) == {"pixel", "contrastive"} and torch.isfinite(total)


@pytest.mark.data
def test_training_form_starts_from_official_deploy_weights(weights_dir):
    official, _ = models.load_model(weights_dir / "slimrlfn_x4.pth")
    unfused = load_weights(ModelConfig(name="slimrlfn_unfused_x4"), str(weights_dir / "slimrlfn_x4.pth"))
    assert models.is_unfused(unfused)
    x = torch.rand(1, 3, 24, 24) * 255
    with torch.no_grad():
        torch.testing.assert_close(unfused.eval()(x), official.eval()(x), rtol=1e-4, atol=1e-3)
