"""--ntire-repo on the other years' layouts, written here as small repositories: NTIRE 2023's test_demo.py (one
generic forward, no forward_teamNN helpers, a team stored as a whole pickled module) and NTIRE 2025/2026's (a
placeholder branch that builds nothing). No ../shared needed."""

import textwrap

import pytest
import torch
from sr_harness.config.build import build_config
from sr_harness.run.runner import run
from torch import nn

# The organizers' style, plain torch.load calls included: the harness runs them with weights_only=True.
SCRIPT = '''
import os.path
import torch
from utils.model_summary import get_model_activation
from utils import utils_image as util


def select_model(args, device):
    model_id = args.model_id
    if model_id == 0:
        from models.team00_Tiny import Tiny
        name, data_range = f"{model_id:02}_Tiny_baseline", 255.0
        model = Tiny()
        model.load_state_dict(torch.load(os.path.join('model_zoo', 'team00_tiny.pth')), strict=True)
    elif model_id == 1:
        pass
    elif model_id == 13:
        name, data_range = f"{model_id:02}_Pickled", 255.0
        model = torch.load(os.path.join('model_zoo', 'team13_whole_module.pth'))
    else:
        raise NotImplementedError(f"Model {model_id} is not implemented.")
    model.eval()
    tile = None
    for k, v in model.named_parameters():
        v.requires_grad = False
    model = model.to(device)
    return model, name, data_range, tile


def forward(img_lq, model, tile=None, tile_overlap=32, scale=4):
    return model(img_lq)


def run(model, model_name, data_range, tile, logger, device, args, mode="test"):
    raise RuntimeError("the harness never calls run")
'''

TINY = '''
import torch.nn.functional as F
from torch import nn


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x):
        return F.interpolate(x + self.conv(x) * 0.01, scale_factor=4, mode="nearest")
'''


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("NTIRE2023_ESR")
    (root / "test_demo.py").write_text(SCRIPT)
    for package, files in {"models": {"team00_Tiny.py": TINY}, "utils": {
            "model_summary.py": "def get_model_activation(model, input_dim):\n    raise RuntimeError('not called')\n",
            "utils_image.py": "import an_image_library_not_installed  # the harness never calls their image utilities\n"}}.items():
        (root / package).mkdir()
        for name, text in files.items():
            (root / package / name).write_text(textwrap.dedent(text))
    (root / "model_zoo").mkdir()
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 3, 3, padding=1)
    torch.save({"conv.weight": conv.weight.detach(), "conv.bias": conv.bias.detach()},
               root / "model_zoo" / "team00_tiny.pth")
    torch.save(nn.Sequential(nn.Conv2d(3, 48, 3, padding=1), nn.PixelShuffle(4)),
               root / "model_zoo" / "team13_whole_module.pth")
    return root


def test_2023_and_2026_layouts_build_what_can_be_built_and_say_why_not(repo):
    cfg = build_config(ntire_repo=str(repo), teams=["all"], data=["embedded"], rounds=1, warmup=0, timing_size=32)
    record = run(cfg)
    rows = {r["model"]: r for r in record["results"]}
    missing = {m["model"]: m["reason"] for m in record["missing"]}
    assert set(rows) == {"team00"} and set(missing) == {"team01", "team13"}
    team = rows["team00"]
    assert team["arch"] == "00_Tiny_baseline" and team["checkpoint"]["forward"] == "forward"
    assert team["checkpoint"]["data_range"] == 255.0 and team["checkpoint"]["weights"] == ["model_zoo/team00_tiny.pth"]
    assert any("an_image_library_not_installed" in line for line in team["checkpoint"]["skipped_imports"])
    assert team["metrics"]["psnr_y"] > 15
    assert missing["team01"].startswith("UnboundLocalError")  # the 2025/2026 placeholder branch
    assert "weights_only" in missing["team13"] or "Weights only load failed" in missing["team13"]  # never unpickled
    assert "--trust-repo" in missing["team13"]  # the refusal names the flag that lifts it


def test_a_whole_pickled_module_loads_only_with_trust_repo(repo):
    cfg = build_config(ntire_repo=str(repo), teams=["13"], data=["embedded"], rounds=1, warmup=0, timing_size=32,
                       trust_repo=True)
    record = run(cfg)
    (row,) = record["results"]
    assert row["model"] == "team13" and row["status"] == "ok" and row["checkpoint"]["trusted"] is True
    assert row["checkpoint"]["weights"] == ["model_zoo/team13_whole_module.pth"]


def test_a_team_asked_for_by_id_that_cannot_be_built_exits_4_and_all_stays_0(repo, tmp_path, capsys):
    from sr_harness.cli.main import main

    common = ["--ntire-repo", str(repo), "--data", "embedded", "--rounds", "1", "--warmup", "0",
              "--timing-size", "32", "--force", "--isolation", "none"]  # exit codes here; isolation: test_foreign_failures
    assert main(["eval", "--team", "13", "--out", str(tmp_path / "one.json"), *common]) == 4
    assert "team13 was asked for by --team and could not be built" in capsys.readouterr().err
    assert main(["eval", "--team", "0", "--out", str(tmp_path / "ok.json"), *common]) == 0
    assert main(["eval", "--team", "all", "--out", str(tmp_path / "all.json"), *common]) == 0
