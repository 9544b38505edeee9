"""Several NTIRE years on one board, on a small repository written here (no ../shared needed): negative team ids,
a team written for CUDA built on the CPU, FLOPs by the repository's own counter, shards that merge into the
unsharded table, and the leaderboard's HTML, CSV and Markdown."""

import csv
import dataclasses
import io
import json
import textwrap

import numpy as np
import pytest
import torch
from skimage import io as skio
from sr_harness.cli import main
from sr_harness.config.build import build_config
from sr_harness.models.ntire import build_team, team_ids
from sr_harness.run.runner import run

# The 2022 organizers' style: FLOPs by the repository's own utils/model_summary.get_model_flops, an id -1 baseline.
SCRIPT = '''
import torch
from utils.model_summary import get_model_activation, get_model_flops


def select_model(args, device):
    model_id = args.model_id
    if model_id == -1:
        from models.tiny import Tiny
        name, data_range, model = f"{model_id:02}_Baseline", 1.0, Tiny(0.01)
    elif model_id == 0:
        from models.tiny import Tiny
        name, data_range, model = f"{model_id:02}_Small", 1.0, Tiny(0.02)
    elif model_id == 1:
        from models.tiny import WarmedOnGpu
        name, data_range, model = f"{model_id:02}_Gpu", 1.0, WarmedOnGpu()
    elif model_id == 2:
        raise ImportError("No module named 'a_package_not_installed'")
    else:
        raise NotImplementedError(f"Model {model_id} is not implemented.")
    model.eval()
    model = model.to(device)
    return model, name, data_range, None


def forward(img_lq, model, tile=None, tile_overlap=32, scale=4):
    return model(img_lq)


def main():
    flops = get_model_flops(None, (3, 256, 256), False)
'''

TINY = '''
import torch
import torch.nn.functional as F
from torch import nn


class Tiny(nn.Module):
    def __init__(self, gain):
        super().__init__()
        self.conv, self.gain = nn.Conv2d(3, 3, 3, padding=1), gain
        with torch.no_grad():  # fixed weights, as a loaded checkpoint gives
            self.conv.weight.copy_(torch.linspace(-0.1, 0.1, 81).reshape(3, 3, 3, 3))
            self.conv.bias.fill_(0.01)

    def forward(self, x):
        return F.interpolate(x + self.conv(x) * self.gain, scale_factor=4, mode="nearest")


class WarmedOnGpu(Tiny):
    """Moves itself to the GPU and runs a warm-up forward there while it is built, as some entries do."""

    def __init__(self):
        super().__init__(0.03)
        self.cuda()(torch.randn(1, 3, 8, 8).cuda())
'''

# The repository's own FLOP counter: a rule of its own (here 7 per conv weight), so its number is told apart.
SUMMARY = '''
def get_model_activation(model, input_dim):
    raise RuntimeError("not called by the harness")


def get_model_flops(model, input_res, print_per_layer_stat=True):
    return 7 * sum(p.numel() for p in model.parameters()) * input_res[1] * input_res[2]
'''


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("repos") / "NTIRE2031_ESR"
    root.mkdir()
    (root / "test_demo.py").write_text(SCRIPT)
    for package, files in {"models": {"tiny.py": TINY}, "utils": {"model_summary.py": SUMMARY}}.items():
        (root / package).mkdir()
        for name, text in files.items():
            (root / package / name).write_text(textwrap.dedent(text))
    return root


@pytest.fixture(scope="module")
def two_sets(tmp_path_factory):
    rng = np.random.default_rng(1)
    folders = []
    for name in ("setA", "setB"):
        folder = tmp_path_factory.mktemp("data") / name
        folder.mkdir()
        for image in ("x", "y"):
            skio.imsave(folder / f"{image}.png", rng.integers(0, 256, (128, 160, 3), dtype=np.uint8), check_contrast=False)
        folders.append(str(folder))
    return folders


FAST = dict(rounds=1, warmup=0, timing_size=32, threads=1)


def _run(repo, data, **options):
    """The zoo suite on ``repo``, quick: one timed round, complexity at 32 x 32."""
    cfg = build_config("ntire-zoo", ntire_repo=str(repo), data=data, **FAST, **options)
    return run(dataclasses.replace(cfg, protocol=dataclasses.replace(cfg.protocol, complexity_hw=(32, 32))))


def test_negative_ids_are_teams_and_cuda_written_entries_build_on_the_cpu(repo):
    assert team_ids(repo) == (-1, 0, 1, 2)
    if torch.cuda.is_available():
        pytest.skip("the redirect is for CPU-only machines")
    with pytest.raises(AssertionError, match="CUDA"):  # the class as it is, outside the harness
        torch.nn.Linear(1, 1).cuda()
    model, info = build_team(repo, 1)
    assert info["cuda_redirected"] == 2 and next(model.net.parameters()).device.type == "cpu"
    assert build_team(repo, 0)[1]["cuda_redirected"] == 0
    assert model(torch.rand(1, 3, 8, 8)).shape == (1, 3, 32, 32)


def test_flops_are_also_counted_by_the_repositorys_own_counter(repo):
    model, info = build_team(repo, 0)
    assert info["flop_counter"] == "model_summary"
    own = model.own_flops((256, 256))
    assert own["flops_g_own"] == pytest.approx(7 * (81 + 3) * 256 * 256 / 1e9)
    assert "model_summary" in own["flops_counter"]


def _table(record, drop=("runtime (ms)", "year's score", "machine")):
    from sr_harness.report.leaderboard import to_csv  # noqa: PLC0415

    rows = list(csv.DictReader(io.StringIO(to_csv([record]))))
    return [{k: v for k, v in r.items() if k not in drop} for r in rows]


def test_two_shards_merged_give_the_unsharded_table(repo, two_sets, tmp_path):
    whole = _run(repo, two_sets)
    paths = []
    for k in (1, 2):
        shard = _run(repo, two_sets, shard=f"{k}/2")
        assert 0 < len(shard["results"]) < len(whole["results"])
        path = tmp_path / f"shard{k}.json"
        path.write_text(json.dumps(shard))
        paths.append(path)
    merged = tmp_path / "merged.json"
    assert main(["merge", *map(str, paths), "-o", str(merged)]) == 0
    merged_record = json.loads(merged.read_text())
    assert [(r["model"], r["dataset"]) for r in merged_record["results"]] == \
        [(r["model"], r["dataset"]) for r in whole["results"]]
    assert _table(merged_record) == _table(whole)
    assert {m["model"] for m in merged_record["missing"]} == {m["model"] for m in whole["missing"]} == {"team02"}


def test_rows_of_shards_timed_on_other_machines_are_told_apart(repo, two_sets, tmp_path):
    from sr_harness.report.leaderboard import entries  # noqa: PLC0415

    paths = []
    for k in (1, 2):
        shard = _run(repo, two_sets, shard=f"{k}/2")
        if k == 2:
            shard["env"] = {**shard["env"], "cpu_model": "another CPU"}
        paths.append(tmp_path / f"shard{k}.json")
        paths[-1].write_text(json.dumps(shard))
    merged = tmp_path / "merged.json"
    assert main(["merge", *map(str, paths), "-o", str(merged)]) == 0
    record = json.loads(merged.read_text())
    rows, _, machines = entries([record])
    on_second = {tuple(k) for s in record["shards"] if s["machine"] == 1 for k in s["rows"]}
    assert len(machines) == 2 and on_second
    assert all(e["machine"] == ("M2" if (e["entry"], e["dataset"]) in on_second else "M1") for e in rows)


def test_merge_refuses_overlapping_incomplete_and_mismatched_shards(repo, two_sets, tmp_path, capsys):
    shards = {}
    for spec in ("1/2", "1/3"):
        record = _run(repo, two_sets, shard=spec)
        shards[spec] = tmp_path / f"s{spec.replace('/', 'of')}.json"
        shards[spec].write_text(json.dumps(record))
    out = tmp_path / "m.json"
    cases = [([shards["1/2"], shards["1/2"]], "given twice"), ([shards["1/2"]], "missing"),
             ([shards["1/2"], shards["1/3"]], "different counts")]
    for files, words in cases:
        capsys.readouterr()
        assert main(["merge", *map(str, files), "-o", str(out)]) == 2
        assert words in capsys.readouterr().err and not out.exists()


def test_the_leaderboard_writes_html_csv_and_markdown_with_the_unbuilt_entries(repo, two_sets, tmp_path, capsys):
    html = tmp_path / "board.html"
    code = main(["leaderboard", "--ntire-repo", str(repo), "--data", two_sets[0], "-o", str(html), "--eval-args",
                 "--isolation none --rounds 1 --warmup 0 --timing-size 32 --threads 1"])
    assert code == 0, capsys.readouterr().err
    rows = list(csv.DictReader(io.StringIO(html.with_suffix(".csv").read_text())))
    assert {r["entry"] for r in rows} == {"team-1", "team00", "team01"}
    assert {r["year"] for r in rows} == {"2031"}
    page = html.read_text()
    assert "team02" in page and "a_package_not_installed" in page  # not measured, with the reason
    assert html.with_suffix(".md").read_text().startswith("| year | entry | team | dataset |")
