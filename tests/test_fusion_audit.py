"""Fusion audit: a foreign network's own fold method, run in a copy, and the max |difference| it makes."""

import textwrap

import pytest
import torch
from sr_harness.models.external import ExternalSpec, load_external
from sr_harness.models.fusion_audit import fusion_audit
from torch import nn


class RepBlock(nn.Module):
    """RepVGG-style: 3x3 + 1x1 + identity while training; ``switch_to_deploy`` folds them into one 3x3."""

    def __init__(self, channels, wrong=False):
        super().__init__()
        self.deploy, self.wrong = False, wrong
        self.conv3 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv1 = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        return self.fused(x) if self.deploy else self.conv3(x) + self.conv1(x) + x

    def switch_to_deploy(self):
        weight = self.conv3.weight.detach().clone()
        weight[:, :, 1:2, 1:2] += self.conv1.weight.detach()
        if not self.wrong:  # the identity branch; the "wrong" fold forgets it
            weight[:, :, 1, 1] += torch.eye(weight.shape[0])
        self.fused = nn.Conv2d(weight.shape[1], weight.shape[0], 3, padding=1)
        self.fused.weight.data, self.fused.bias.data = weight, self.conv3.bias.detach() + self.conv1.bias.detach()
        del self.conv3, self.conv1
        self.deploy = True


class Net(nn.Module):
    def __init__(self, wrong=False):
        super().__init__()
        self.head = nn.Conv2d(3, 8, 3, padding=1)
        self.body = nn.Sequential(RepBlock(8, wrong), RepBlock(8, wrong))
        self.tail = nn.Conv2d(8, 3, 3, padding=1)

    def forward(self, x):
        return self.tail(self.body(self.head(x)))


def test_a_correct_fold_changes_nothing_and_the_model_stays_unfused():
    net = Net().eval()
    audit = fusion_audit(net)
    assert audit["methods"] == ["switch_to_deploy"] and audit["modules"] == 2
    assert audit["max_abs_diff"] < 1e-5
    assert audit["params_before"] - audit["params_after"] == 2 * (8 * 8 + 8)  # the two 1x1 convs
    assert not net.body[0].deploy and hasattr(net.body[0], "conv1")  # the copy was folded, not the model


def test_a_wrong_fold_is_reported_with_its_size():
    audit = fusion_audit(Net(wrong=True).eval())
    assert audit["max_abs_diff"] > 1e-2


def test_no_fold_method_no_audit_and_built_folded_is_said():
    assert fusion_audit(nn.Sequential(nn.Conv2d(3, 3, 3, padding=1))) is None
    net = Net()
    for block in net.body:
        block.switch_to_deploy()
    assert fusion_audit(net)["already_folded"] is True


def test_models_loaded_by_file_carry_the_audit(tmp_path):
    path = tmp_path / "rep_net.py"
    path.write_text("import torch\nfrom torch import nn\n" + textwrap.dedent(
        __import__("inspect").getsource(RepBlock)) + textwrap.dedent(__import__("inspect").getsource(Net)))
    _, info = load_external(ExternalSpec(source=f"{path}:Net"))
    assert info["fusion_audit"]["max_abs_diff"] == pytest.approx(0.0, abs=1e-5)


def test_fused_adds_a_folded_row_that_scores_like_the_model(tmp_path, capsys):
    import json

    from sr_harness.cli.main import main

    path = tmp_path / "rep_sr.py"
    path.write_text("import torch\nfrom torch import nn\nimport torch.nn.functional as F\n" + textwrap.dedent(
        __import__("inspect").getsource(RepBlock)) + textwrap.dedent(__import__("inspect").getsource(Net))
        + "class RepSR(Net):\n    def forward(self, x):\n"
          "        return F.interpolate(x + 0.01 * super().forward(x), scale_factor=4, mode='nearest')\n")
    out = tmp_path / "run.json"
    code = main(["eval", "--data", "embedded", "--model", f"{path}:RepSR", "--fused", "--rounds", "1",
                 "--warmup", "0", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    rows = {r["model"]: r for r in json.loads(out.read_text())["results"]}
    assert set(rows) == {"RepSR", "RepSR_fused"}
    unfused, fused = rows["RepSR"], rows["RepSR_fused"]
    assert fused["checkpoint"]["folded"] == {"from": "RepSR", "methods": ["switch_to_deploy"]}
    assert fused["complexity"]["params"] == unfused["complexity"]["params"] - 2 * (8 * 8 + 8)
    assert fused["metrics"]["psnr_y"] == pytest.approx(unfused["metrics"]["psnr_y"], abs=1e-4)


def test_the_project_training_form_folds_through_the_same_interface():
    from sr_harness.models import build_model, fuse
    from sr_harness.models.fusion_audit import folded_copy

    torch.manual_seed(0)
    unfused = build_model("slimrlfn_unfused_x4").eval()
    audit = fusion_audit(unfused, data_range=255.0)
    assert audit["methods"] == ["reparameterize"] and audit["max_abs_diff"] < 1e-2  # outputs in [0, 255]
    assert audit["params_after"] == sum(p.numel() for p in build_model("slimrlfn_x4").parameters())
    in_place, through_registry = folded_copy(unfused).state_dict(), fuse(unfused).state_dict()
    assert in_place.keys() == through_registry.keys()
    assert all(torch.equal(in_place[k], through_registry[k]) for k in in_place)
    assert fusion_audit(build_model("slimrlfn_x4"))["already_folded"] is True
