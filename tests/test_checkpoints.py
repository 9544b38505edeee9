"""Checkpoint loading and saving: official files, NTIRE 2022 aliases, the project format, bad input."""

import pickle

import pytest
import torch

from sr_harness.models import (
    CheckpointError,
    build_model,
    fuse,
    load_model,
    load_state,
    prune,
    save_model,
    sha256_file,
    unfused_from_deploy,
)

OFFICIAL_SHA256 = {  # reference/README.md
    "rlfn_ntire_x4": "3c9be7b9d7a4bece9b68c83a56a1ffb38010f76413d5f215be6b4be842e18fb2",
    "slimrlfn_x4": "d8a4981dcf0f305761bef230f79740da82d29093144c0278ff46e7021d0c2450",
}


def same_output(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    x = torch.rand(1, 3, 15, 16) * 255
    with torch.no_grad():
        return torch.equal(a.eval()(x), b.eval()(x))


def one_line_error(call, *names) -> str:
    with pytest.raises(CheckpointError) as err:
        call()
    message = str(err.value)
    assert "\n" not in message
    for name in names:
        assert str(name) in message
    return message


# The key names of the organizers' NTIRE 2022 RLFN file (model_zoo/team04_rlfn.pth), spelled out here so that the
# alias test does not invert the project's own mapping; test_ntire2022_key_list_is_the_organizers_file checks them.
NTIRE2022_RLFN_KEYS = (
    ["fea_conv.weight", "fea_conv.bias"]
    + [f"B{b}.{layer}.{p}" for b in range(1, 5)
       for layer in ("c1_r", "c2_r", "c3_r", "c5", "esa.conv1", "esa.conv_f", "esa.conv2", "esa.conv3", "esa.conv4")
       for p in ("weight", "bias")]
    + ["LR_conv.weight", "LR_conv.bias", "upsampler.0.weight", "upsampler.0.bias"])


def test_save_and_load_by_path_alone(tmp_path):
    model = prune(build_model("slimrlfn_unfused_x4"), [(28, 28)] * 5 + [(30, 30)])
    path = tmp_path / "sub" / "student.pth"
    info = save_model(model, path, config={"lr": 1e-3, "stage": "2a"}, extra={"epoch": 7})
    assert info.sha256 == sha256_file(path) and info.model_name == "slimrlfn_unfused_x4"
    assert [p.name for p in path.parent.iterdir()] == ["student.pth"]  # no temp file left behind
    loaded, loaded_info = load_model(path)
    assert loaded.model_name == "slimrlfn_unfused_x4" and loaded.inner_widths == model.inner_widths
    assert loaded_info.config == {"lr": 1e-3, "stage": "2a"} and loaded_info.extra == {"epoch": 7}
    assert loaded_info.key_style == "project" and loaded_info.sha256 == info.sha256
    assert same_output(loaded, model)
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert raw["format"] == "sr-harness-model" and raw["format_version"] == 1
    assert raw["build_overrides"]["inner_widths"][0] == [28, 28]


def test_saved_fused_export_loads_into_the_deploy_model(tmp_path):
    fused = fuse(build_model("slimrlfn_unfused_x4"))
    save_model(fused, tmp_path / "slimrlfn_x4.pth")
    model = build_model("slimrlfn_x4")
    assert load_state(model, tmp_path / "slimrlfn_x4.pth").key_style == "project"
    assert same_output(model, fused)


def test_failed_save_keeps_the_existing_file(tmp_path):
    path = tmp_path / "keep.pth"
    save_model(build_model("slimrlfn_x4"), path)
    before = sha256_file(path)
    with pytest.raises(TypeError, match=r"config\.bad is a object"):
        save_model(build_model("slimrlfn_x4"), path, config={"bad": object()})
    assert sha256_file(path) == before and [p.name for p in tmp_path.iterdir()] == ["keep.pth"]


def test_plain_state_dict_loads_by_file_stem(tmp_path):
    model = build_model("rlfn_s_x2")
    torch.save(model.state_dict(), tmp_path / "rlfn_s_x2.pth")
    loaded, info = load_model(tmp_path / "rlfn_s_x2.pth")
    assert loaded.model_name == "rlfn_s_x2" and info.key_style == "rlfn" and same_output(loaded, model)


def test_ntire2022_alias_keys_load(tmp_path):
    model = build_model("rlfn_ntire_x4")
    values = list(model.state_dict().values())  # the same network: the tensors come in the same order
    assert len(values) == len(NTIRE2022_RLFN_KEYS)
    torch.save(dict(zip(NTIRE2022_RLFN_KEYS, values)), tmp_path / "team04_rlfn.pth")
    loaded, info = load_model(tmp_path / "team04_rlfn.pth")  # stem unknown: recognised by its shapes
    assert loaded.model_name == "rlfn_ntire_x4" and info.key_style == "ntire2022" and same_output(loaded, model)


@pytest.mark.data
def test_ntire2022_key_list_is_the_organizers_file(shared_dir):
    path = shared_dir / "third_party" / "NTIRE2022_ESR" / "model_zoo" / "team04_rlfn.pth"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    assert list(torch.load(path, weights_only=True, map_location="cpu")) == NTIRE2022_RLFN_KEYS


@pytest.mark.data
@pytest.mark.parametrize("name", ["rlfn_ntire_x4", "slimrlfn_x4"])
def test_official_files_load_by_path(name, weights_dir):
    model, info = load_model(weights_dir / f"{name}.pth")
    assert model.model_name == name and info.strict and info.sha256 == OFFICIAL_SHA256[name]


@pytest.mark.data
def test_official_weights_start_the_unfused_form(weights_dir, tmp_path):
    official, _ = load_model(weights_dir / "slimrlfn_x4.pth")
    save_model(unfused_from_deploy(official), tmp_path / "start.pth")
    unfused, _ = load_model(tmp_path / "start.pth")
    assert unfused.model_name == "slimrlfn_unfused_x4" and same_output(unfused, official)


def test_wrong_architecture_names_first_key_and_both_shapes(tmp_path):
    path = tmp_path / "ntire.pth"
    torch.save(build_model("rlfn_ntire_x4").state_dict(), path)
    message = one_line_error(lambda: load_state(build_model("rlfn_x4"), path), path, "conv_1.weight",
                             "(46, 3, 3, 3)", "(52, 3, 3, 3)")
    assert "rlfn_ntire_x4" in message  # suggests the model the file fits


def test_missing_and_unexpected_keys(tmp_path):
    path = tmp_path / "rlfn_style.pth"
    state = build_model("slimrlfn_x4").state_dict()
    state["extra.weight"] = torch.zeros(1)
    del state["conv_2.bias"]
    torch.save(state, path)
    one_line_error(lambda: load_state(build_model("slimrlfn_x4"), path), path, "1 missing keys",
                   "'conv_2.bias'", "1 unexpected keys", "'extra.weight'")


def test_unfused_file_into_deploy_model_says_what_to_do(tmp_path):
    path = tmp_path / "unfused.pth"
    torch.save(build_model("slimrlfn_unfused_x4").state_dict(), path)
    message = one_line_error(lambda: load_state(build_model("slimrlfn_x4"), path), path)
    assert "slimrlfn_unfused_x4" in message


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04truncated zip", b"\x80\x02}q\x00",
                                     pickle.dumps({"a": 1}, protocol=4)])
def test_corrupt_files(tmp_path, content):
    path = tmp_path / "broken.pth"
    path.write_bytes(content)
    message = one_line_error(lambda: load_state(build_model("slimrlfn_x4"), path), path)
    assert "corrupt, truncated" in message


def test_truncated_real_checkpoint(tmp_path):
    good = tmp_path / "good.pth"
    torch.save(build_model("slimrlfn_x4").state_dict(), good)
    path = tmp_path / "cut.pth"
    path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    one_line_error(lambda: load_model(path, model_name="slimrlfn_x4"), path, "corrupt, truncated")


def test_wrapper_dict_is_named(tmp_path):
    path = tmp_path / "basicsr.pth"
    torch.save({"params": build_model("slimrlfn_x4").state_dict()}, path)
    one_line_error(lambda: load_state(build_model("slimrlfn_x4"), path), path, "'params'", "not a plain state dict")


class Payload:
    pass


def test_arbitrary_objects_are_refused(tmp_path):
    path = tmp_path / "objects.pth"
    torch.save({"model": Payload()}, path)
    one_line_error(lambda: load_state(build_model("slimrlfn_x4"), path), path, "weights_only")
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps({"a": Payload}, protocol=2))
    one_line_error(lambda: load_state(build_model("slimrlfn_x4"), plain), plain, "weights_only")


def test_non_tensor_entries_and_non_dicts(tmp_path):
    path = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], path)
    one_line_error(lambda: load_state(build_model("slimrlfn_x4"), path), path, "not a state dict")
    torch.save({"conv_1.weight": 3}, path)
    one_line_error(lambda: load_state(build_model("slimrlfn_x4"), path), path, "'conv_1.weight'", "not a tensor")


def test_missing_file_points_at_official_sources(tmp_path):
    path = tmp_path / "slimrlfn_x4.pth"
    one_line_error(lambda: load_model(path), path, "bytedance/RLFN", "Blcony/SlimRLFN")


def test_unknown_stem_and_unknown_name(tmp_path):
    path = tmp_path / "mystery.pth"
    torch.save({"w": torch.zeros(2)}, path)
    one_line_error(lambda: load_model(path), path, "model_name")
    one_line_error(lambda: load_model(path, model_name="slimrlfn_x3"), path, "slimrlfn_x3")
