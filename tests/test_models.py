"""Registry, shapes, parameter counts, input checks and the official golden outputs."""

import numpy as np
import pytest
import torch

from sr_harness.models import InputError, UnknownModelError, build_model, check_input, get_spec, list_models, load_state

OFFICIAL = ["rlfn_ntire_x4", "rlfn_s_x2", "rlfn_s_x4", "rlfn_x2", "rlfn_x4", "slimrlfn_x4", "slimrlfn_prune_x4"]
# Golden array names in golden_io_official_cpu_fp32.npz.
GOLDEN_KEY = {name: f"out_{name}" for name in OFFICIAL} | {"slimrlfn_x4": "out_slimrlfn",
                                                            "slimrlfn_prune_x4": "out_slimrlfn_prune"}
# architectures.md section 2 / 3.3.
PARAMS = {"rlfn_ntire_x4": 317_218, "rlfn_s_x4": 470_208, "rlfn_x4": 543_740, "rlfn_s_x2": 454_620,
          "rlfn_x2": 526_856, "slimrlfn_x4": 207_774, "slimrlfn_prune_x4": 197_134}


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def small(name: str) -> torch.nn.Module:
    """The teacher at full width is slow to build; a narrow one has the same structure."""
    if name == "rlfn_teacher_x4":
        return build_model(name, channels=24, mid_channels=24)
    return build_model(name)


def test_registry_lists_every_variant():
    assert set(OFFICIAL) | {"rlfn_teacher_x4", "slimrlfn_unfused_x4"} == set(list_models())
    assert list_models("slimrlfn*") == ["slimrlfn_prune_x4", "slimrlfn_unfused_x4", "slimrlfn_x4"]
    assert all(get_spec(n).official for n in OFFICIAL)
    assert get_spec("slimrlfn_unfused_x4").form == "unfused"


@pytest.mark.parametrize("name", list_models())
def test_output_shape_scale_and_attributes(name):
    model = small(name).eval()
    spec = get_spec(name)
    x = torch.rand(1, 3, 15, 17) * 255
    with torch.no_grad():
        y = model(x)
    assert model.scale == spec.scale
    assert y.shape == (1, 3, 15 * spec.scale, 17 * spec.scale)
    assert torch.isfinite(y).all()
    assert model.model_name == name and model.data_range == 255.0 and model.min_input_size == 15
    assert len(model.inner_widths) == len(model.blocks())


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_parameter_count_matches_official(name):
    assert n_params(build_model(name)) == PARAMS[name]


def test_teacher_is_six_blocks_of_196_channels():
    teacher = build_model("rlfn_teacher_x4")
    assert teacher.channels == 196 and teacher.inner_widths == [(196, 196)] * 6


def test_width_overrides_are_one_call():
    model = build_model("slimrlfn_x4", inner_widths=[(28, 28)] * 5 + [(30, 30)])
    assert n_params(model) == PARAMS["slimrlfn_prune_x4"]
    assert build_model("slimrlfn_unfused_x4", inner_widths=[(20, 22)] * 6).inner_widths == [(20, 22)] * 6


def test_unknown_model_suggests_close_names():
    with pytest.raises(UnknownModelError) as err:
        build_model("slimrlfn_x3")
    message = str(err.value)
    assert "\n" not in message and "slimrlfn_x4" in message and "did you mean" in message


@pytest.mark.parametrize("shape", [(1, 3, 14, 32), (1, 3, 32, 14), (1, 1, 32, 32), (1, 4, 32, 32), (3, 32, 32)])
def test_check_input_rejects_bad_shapes(shape):
    with pytest.raises(InputError) as err:
        check_input(build_model("slimrlfn_x4"), shape)
    assert "\n" not in str(err.value)


def test_check_input_accepts_the_smallest_size():
    model = build_model("slimrlfn_x4").eval()
    check_input(model, (1, 3, 15, 15))
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 15, 15)).shape == (1, 3, 60, 60)


@pytest.mark.data
@pytest.mark.parametrize("name", OFFICIAL)
def test_official_checkpoint_reproduces_golden_output(name, weights_dir, shared_file):
    golden = np.load(shared_file("reference", "golden_io_official_cpu_fp32.npz"))
    model = build_model(name).eval()
    info = load_state(model, weights_dir / f"{name}.pth", strict=True)
    assert info.strict and info.n_tensors == len(model.state_dict())
    with torch.no_grad():
        out = model(torch.from_numpy(golden["input_0_255"])).numpy()
    np.testing.assert_allclose(out, golden[GOLDEN_KEY[name]], rtol=0, atol=1e-3)
