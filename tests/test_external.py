"""--model FILE.py:Class: a network from a source file outside the project, loaded as it is."""

import json
import textwrap

import pytest
import torch

from sr_harness.cli.main import main
from sr_harness.config.build import ConfigError, build_config
from sr_harness.run.runner import run
from sr_harness.models.checkpoints import CheckpointError
from sr_harness.models.external import ExternalSpec, load_external

# A whole model family in one folder the project has never seen, written from ../shared/docs/architectures.md
# (RLFN: ESA + RLFB + skeleton); rlfn.py imports its sibling as a package, as many research repositories do.
BLOCK_PY = '''
import torch
import torch.nn.functional as F
from torch import nn


class ESA(nn.Module):
    def __init__(self, channels, f=16):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, f, 1)
        self.conv_f = nn.Conv2d(f, f, 1)
        self.conv2 = nn.Conv2d(f, f, 3, stride=2, padding=0)
        self.conv3 = nn.Conv2d(f, f, 3, padding=1)
        self.conv4 = nn.Conv2d(f, channels, 1)

    def forward(self, x):
        c1_ = self.conv1(x)
        c3 = self.conv3(F.max_pool2d(self.conv2(c1_), kernel_size=7, stride=3))
        c3 = F.interpolate(c3, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return x * torch.sigmoid(self.conv4(c3 + self.conv_f(c1_)))


class RLFB(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.c1_r = nn.Conv2d(channels, channels, 3, padding=1)
        self.c2_r = nn.Conv2d(channels, channels, 3, padding=1)
        self.c3_r = nn.Conv2d(channels, channels, 3, padding=1)
        self.c5 = nn.Conv2d(channels, channels, 1)
        self.esa = ESA(channels)

    def forward(self, x):
        t = F.leaky_relu(self.c1_r(x), 0.05)
        t = F.leaky_relu(self.c2_r(t), 0.05)
        t = F.leaky_relu(self.c3_r(t), 0.05) + x
        return self.esa(self.c5(t))
'''

RLFN_PY = '''
from torch import nn

from model import block


class MyRLFN(nn.Module):
    def __init__(self, feature_channels=52, upscale=4, blocks=6):
        super().__init__()
        self.conv_1 = nn.Conv2d(3, feature_channels, 3, padding=1)
        for i in range(1, blocks + 1):
            setattr(self, f"block_{i}", block.RLFB(feature_channels))
        self.blocks = blocks
        self.conv_2 = nn.Conv2d(feature_channels, feature_channels, 3, padding=1)
        self.upsampler = nn.Sequential(nn.Conv2d(feature_channels, 3 * upscale ** 2, 3, padding=1),
                                       nn.PixelShuffle(upscale))

    def forward(self, x):
        f0 = self.conv_1(x)
        h = f0
        for i in range(1, self.blocks + 1):
            h = getattr(self, f"block_{i}")(h)
        return self.upsampler(self.conv_2(h) + f0)
'''

TINY_PY = '''
import torch.nn.functional as F
from torch import nn


class Tiny(nn.Module):
    def __init__(self, width=4, scale=4):
        super().__init__()
        self.scale = scale
        self.conv = nn.Conv2d(3, width, 3, padding=1)

    def forward(self, x):
        return F.interpolate(x, scale_factor=self.scale, mode="nearest")
'''


@pytest.fixture
def family(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "__init__.py").write_text("")
    (tmp_path / "model" / "block.py").write_text(textwrap.dedent(BLOCK_PY))
    (tmp_path / "model" / "rlfn.py").write_text(textwrap.dedent(RLFN_PY))
    return tmp_path / "model" / "rlfn.py"


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny_net.py"
    path.write_text(textwrap.dedent(TINY_PY))
    return path


@pytest.mark.data
@pytest.mark.slow
def test_a_foreign_file_reproduces_rlfn_x4_on_set5(family, shared_dir, weights_dir):
    weights = weights_dir / "rlfn_x4.pth"
    cfg = build_config(data=[str(shared_dir / "datasets" / "Set5")], rounds=1, warmup=0,
                       external=[{"source": f"{family}:MyRLFN", "weights": str(weights), "data_range": 255.0,
                                  "label": "mine"}])
    record = run(cfg)
    (row,) = record["results"]
    assert row["model"] == "mine"
    # ../shared/datasets/Set5/SOURCE.md: 32.2396 (an independent implementation of the official model)
    assert row["metrics"]["psnr_y"] == pytest.approx(32.2396, abs=0.0005)
    assert row["metrics"]["ssim_y"] == pytest.approx(0.8953, abs=0.0005)
    complexity = row["complexity"]  # ../shared/docs/architectures.md, rlfn_x4
    assert (complexity["params"], complexity["convs"]) == (543_740, 57)
    assert complexity["flops_g"] == pytest.approx(33.956613120, abs=1e-9)
    assert complexity["activations_m"] == pytest.approx(126.490304, abs=1e-6)


def test_record_names_the_source_its_hash_and_arguments(tiny):
    model, info = load_external(ExternalSpec(source=f"{tiny}:Tiny", args={"width": 8}))
    assert info["class"] == "Tiny" and info["args"] == {"width": 8}
    assert info["source"] == str(tiny.resolve()) and len(info["source_sha256"]) == 64
    assert model.net.conv.out_channels == 8 and model.data_range == 1.0
    assert model(torch.zeros(1, 3, 5, 6)).shape == (1, 3, 20, 24)


def test_weights_load_strict_from_a_nested_key(tiny, tmp_path):
    model, _ = load_external(ExternalSpec(source=f"{tiny}:Tiny"))
    nested = tmp_path / "w.pth"
    torch.save({"params_ema": model.net.state_dict(), "step": 3}, nested)
    with pytest.raises(CheckpointError, match="try --state-key params_ema"):
        load_external(ExternalSpec(source=f"{tiny}:Tiny", weights=str(nested)))
    _, info = load_external(ExternalSpec(source=f"{tiny}:Tiny", weights=str(nested), state_key="params_ema"))
    assert info["state_key"] == "params_ema" and len(info["weights_sha256"]) == 64
    with pytest.raises(CheckpointError, match="does not fit"):
        load_external(ExternalSpec(source=f"{tiny}:Tiny", weights=str(nested), state_key="params_ema",
                                   args={"width": 5}))
    with pytest.raises(CheckpointError, match="no key 'params'"):
        load_external(ExternalSpec(source=f"{tiny}:Tiny", weights=str(nested), state_key="params"))


@pytest.mark.parametrize("source, message", [
    ("tiny_net.py", "must be FILE.py:ClassName"),
    ("absent.py:Tiny", "no such source file"),
    ("tiny_net.py:Nope", "has no nn.Module class 'Nope'"),
])
def test_bad_sources_are_one_line(tiny, source, message):
    with pytest.raises(CheckpointError, match=message) as info:
        load_external(ExternalSpec(source=str(tiny.parent / source)))
    assert "\n" not in str(info.value)


def test_constructor_errors_name_the_arguments(tiny):
    with pytest.raises(CheckpointError, match=r"Tiny\(\*\*\{\"depth\": 2\}\) raised TypeError.*--model-args"):
        load_external(ExternalSpec(source=f"{tiny}:Tiny", args={"depth": 2}))


def test_import_errors_ask_for_the_missing_package(tmp_path):
    path = tmp_path / "needs.py"
    path.write_text("import package_that_is_not_installed\n")
    with pytest.raises(CheckpointError, match="cannot import it.*package_that_is_not_installed"):
        load_external(ExternalSpec(source=f"{path}:Net"))


def test_cli_runs_a_foreign_model_on_the_embedded_images(tiny, tmp_path, capsys):
    out = tmp_path / "run.json"
    code = main(["eval", "--data", "embedded", "--model", f"{tiny}:Tiny", "--model-args", '{"width": 2}',
                 "--name", "nearest", "--models", "bicubic", "--rounds", "1", "--warmup", "0", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    record = json.loads(out.read_text())
    rows = {r["model"]: r for r in record["results"]}
    assert set(rows) == {"bicubic", "nearest"}
    assert rows["nearest"]["checkpoint"]["class"] == "Tiny"
    assert rows["nearest"]["checkpoint"]["args"] == {"width": 2}
    assert rows["nearest"]["metrics"]["psnr_y"] < rows["bicubic"]["metrics"]["psnr_y"]  # nearest is worse


@pytest.mark.parametrize("argv, message", [
    (["--weights", "w.pth"], "--weights belongs to a --model"),
    (["--model", "a.py:A", "--data-range", "2"], "must be 1 or 255"),
    (["--model", "a.py:A", "--model-args", "[1]"], "must be a JSON object"),
    (["--model", "a.py:A", "--model-args", "{x"], "not JSON"),
    (["--model", "a.py:A", "--scale", "4", "--scale", "2"], "given twice"),
])
def test_cli_option_errors(argv, message, capsys):
    assert main(["eval", "--data", "embedded", "--out", "never.json", *argv]) == 2
    assert message in capsys.readouterr().err


def test_the_run_takes_the_models_scale_and_refuses_a_mix(tiny):
    assert build_config(data=["embedded"], external=[{"source": f"{tiny}:Tiny", "scale": 2}]).scale == 2
    with pytest.raises(ConfigError, match="different --scale values"):
        build_config(data=["embedded"], external=[{"source": f"{tiny}:Tiny", "scale": 2},
                                                  {"source": f"{tiny}:Tiny", "label": "b"}])
    with pytest.raises(ConfigError, match="--scale 2 but suite 'default' is x4"):
        build_config("default", external=[{"source": f"{tiny}:Tiny", "scale": 2}])


def test_a_suite_file_names_foreign_classes_and_checks_its_keys(tiny, tmp_path):
    suite = tmp_path / "mine.toml"
    suite.write_text(textwrap.dedent('''
        [mine]
        description = "my nets"
        data = ["embedded"]
        bicubic = true
        protocol = { rounds = 1, warmup = 0 }

        [[mine.models]]
        source = "tiny_net.py:Tiny"
        args = { width = 3 }
        label = "nearest"
    '''))
    cfg = build_config(suites_file=suite)
    assert cfg.suite == "mine" and [m.key for m in cfg.models] == ["bicubic", "nearest"]
    assert cfg.models[1].external["source"] == f"{tmp_path / 'tiny_net.py'}:Tiny"  # relative to the suite file
    suite.write_text(suite.read_text().replace("label =", "lable ="))
    with pytest.raises(ConfigError, match="unknown key.*'lable'"):
        build_config(suites_file=suite)


def test_cli_suite_file(tiny, tmp_path, capsys):
    suite = tmp_path / "s.toml"
    suite.write_text('[s]\ndata = ["embedded"]\nprotocol = { rounds = 1, warmup = 0 }\n'
                     '[[s.models]]\nsource = "tiny_net.py:Tiny"\n')
    assert main(["eval", "--suite-file", str(suite), "--out", str(tmp_path / "r.json")]) == 0, capsys.readouterr().err
    assert [r["model"] for r in json.loads((tmp_path / "r.json").read_text())["results"]] == ["Tiny"]


def test_an_installed_package_registers_models_by_entry_point(tmp_path, monkeypatch):
    package = tmp_path / "acme_sr"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "nets.py").write_text(textwrap.dedent(TINY_PY))
    dist = tmp_path / "acme_sr-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-sr\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[sr_harness.models]\nacme_tiny = acme_sr.nets:Tiny\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    model, info = load_external(ExternalSpec(source="entry:acme_tiny", args={"width": 2}))
    assert info["module"] == "acme_sr.nets" and info["class"] == "Tiny"
    assert info["source"] == str(package / "nets.py") and model.net.conv.out_channels == 2
    assert load_external(ExternalSpec(source="acme_sr.nets:Tiny"))[1]["module"] == "acme_sr.nets"
    with pytest.raises(CheckpointError, match="no entry point 'nope'.*installed: .*acme_tiny"):
        load_external(ExternalSpec(source="entry:nope"))
