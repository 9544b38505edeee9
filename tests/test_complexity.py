"""fvcore FLOPs, params, activations and conv count at 1x3x256x256 (docs/architectures.md, section 2)."""

import logging

import pytest
import torch

from sr_harness import models
from sr_harness.protocols.complexity import FLOPS_LABEL, measure_complexity

# name: (fvcore FLOPs G, params, activations M, convs) -- the official / independently verified table.
TABLE = {
    "rlfn_ntire_x4": (19.674859520, 317_218, 80.045184, 39),
    "rlfn_s_x2": (28.126792704, 454_620, 115.742400, 57),
    "rlfn_s_x4": (29.146008576, 470_208, 118.101696, 57),
    "rlfn_x2": (32.852462592, 526_856, 124.131008, 57),
    "rlfn_x4": (33.956613120, 543_740, 126.490304, 57),
    "slimrlfn_x4": (11.991174144, 207_774, 74.061504, 51),
    "slimrlfn_prune_x4": (11.295181824, 197_134, 72.750784, 51),
}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_complexity_matches_architecture_table(name, caplog):
    flops_g, params, activations_m, convs = TABLE[name]
    with caplog.at_level(logging.WARNING):
        result = measure_complexity(models.build_model(name))
    assert result.flops_g == pytest.approx(flops_g, abs=1e-9)
    assert result.params == params
    assert result.activations_m == pytest.approx(activations_m, abs=1e-6)
    assert result.convs == convs
    assert result.memory_mib is None and result.input_hw == (256, 256)
    assert not [r for r in caplog.records if r.name.startswith("fvcore")], "fvcore warnings leaked"


def test_flops_split_and_record_fields():
    result = measure_complexity(models.build_model("rlfn_ntire_x4"))
    assert result.flops_by_operator == {"conv": 19_658_082_304, "upsample_bilinear2d": 16_777_216}
    record = result.to_dict()
    assert record["flops_label"] == FLOPS_LABEL and record["params_m"] == pytest.approx(0.317218)
    assert record["input_hw"] == [256, 256]


def test_other_input_size_scales_flops():
    small = measure_complexity(models.build_model("slimrlfn_x4"), input_hw=(64, 128))
    assert small.input_hw == (64, 128)
    # Body convs are linear in the pixel count; the ESA's strided conv and pooling round sizes down.
    assert 11.991174144 / 8 * 0.95 < small.flops_g < 11.991174144 / 8
    assert small.activations_m < 74.061504 / 8


@pytest.mark.gpu
def test_cuda_peak_memory_is_recorded(cuda_device):
    model = models.build_model("rlfn_ntire_x4").to(cuda_device)
    result = measure_complexity(model, device=cuda_device)
    assert result.flops_g == pytest.approx(19.674859520, abs=1e-9)
    assert result.memory_mib is not None and result.memory_mib > 0
    torch.cuda.empty_cache()


def test_operators_fvcore_does_not_count_are_listed():
    class GeluNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, x):
            return torch.nn.functional.gelu(self.conv(x)) + torch.cumsum(x, dim=1)

    result = measure_complexity(GeluNet(), input_hw=(8, 8))
    assert result.flops_by_operator == {"conv": 3 * 3 * 9 * 64}
    assert {"aten::gelu", "aten::cumsum"} <= set(result.uncounted_ops)
    assert result.to_dict()["uncounted_ops"]["aten::gelu"] == 1
