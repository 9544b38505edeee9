"""NTIRE bookkeeping beyond one set: (valid + test) / 2, later sets of a cold run, and --ntire-runs N."""

from pathlib import Path

import json
import statistics

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]  # the checkout
from sr_harness.cli.main import main
from sr_harness.run.timing import ntire_average
from sr_harness.protocols import runtime

CHECKPOINT = PROJECT_ROOT / "results" / "checkpoints" / "rlfn_ntire_x4.pth"


def _row(model, dataset, mean_ms, mode="ntire"):
    return {"model": model, "dataset": dataset, "runtime": {"mode": mode, "mean_ms": mean_ms}}


def test_average_is_valid_plus_test_over_two_for_models_timed_on_both():
    rows = [_row("a", "valid", 10.0), _row("a", "test", 14.0), _row("b", "valid", 3.0),
            _row("c", "valid", 1.0, mode="steady"), _row("c", "test", 1.0, mode="steady")]
    avg = ntire_average(rows)
    assert set(avg) == {"a"}  # b has no test time, c was not NTIRE-timed
    assert avg["a"]["mean_ms"] == 12.0 and avg["a"]["per_dataset_mean_ms"] == [10.0, 14.0]
    assert avg["a"]["datasets"] == ["valid", "test"]


def test_a_set_after_a_cold_one_stays_comparable(monkeypatch):
    monkeypatch.setattr(runtime, "_device_kind", lambda device: "cuda")
    monkeypatch.setattr(runtime, "environment_flags", lambda device: {})
    assert runtime.ntire_result([5.0, 1.0], device="cuda", cold=True).ntire_comparable
    assert runtime.ntire_result([1.0, 1.0], device="cuda", cold=False, follows_cold_set=True).ntire_comparable
    assert not runtime.ntire_result([1.0, 1.0], device="cuda", cold=False).ntire_comparable  # warm, alone


@pytest.mark.slow
def test_two_datasets_and_two_fresh_processes(tmp_path):
    out = tmp_path / "runs.json"
    args = ["eval", "--models", f"bicubic,{CHECKPOINT}", "--data", "embedded", "--data", "embedded:train",
            "--runtime-mode", "ntire", "--threads", "1", "--out", str(out)]
    assert main([*args, "--ntire-runs", "2"]) == 0
    record = json.loads(out.read_text())
    assert record["ntire_runs"]["n"] == 2 and len(set(record["ntire_runs"]["run_ids"])) == 2
    rows = [r for r in record["results"] if r["model"] == "rlfn_ntire_x4"]
    for row in rows:
        rt = row["runtime"]
        assert len(rt["per_run_mean_ms"]) == 2 and rt["mean_ms"] == pytest.approx(statistics.fmean(rt["per_run_mean_ms"]))
        assert rt["n"] == 2 * row["n_images"] == len(rt["samples_ms"])
        assert rt["mean_ms"] == pytest.approx(statistics.fmean(rt["samples_ms"]))  # equal-sized runs
    avg = record["ntire_average"]["rlfn_ntire_x4"]
    assert avg["mean_ms"] == pytest.approx(statistics.fmean(r["runtime"]["mean_ms"] for r in rows))

    single = tmp_path / "single.json"
    assert main([*args[:-1], str(single)]) == 0
    once = {(r["model"], r["dataset"]): r["per_image"] for r in json.loads(single.read_text())["results"]}
    assert once == {(r["model"], r["dataset"]): r["per_image"] for r in record["results"]}  # quality unchanged


def test_fresh_runs_need_the_ntire_mode(tmp_path, capsys):
    code = main(["eval", "--models", "bicubic", "--data", "embedded", "--runtime-mode", "steady", "--ntire-runs", "2",
                 "--out", str(tmp_path / "r.json")])
    assert code == 2 and "--ntire-runs needs the NTIRE runtime mode" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def _options(argv):
    from sr_harness.cli.main import build_parser
    from sr_harness.config.options import RunOptions

    return RunOptions.from_namespace(build_parser().parse_args(argv))


def test_children_get_the_runs_options_and_none_of_the_parents(tmp_path):
    from sr_harness.run.fresh_runs import child_argv

    argv = ["eval", "--models", "bicubic,rlfn_x4", "--name", ",mine", "--model", "net.py:Net", "--model-args",
            '{"c": 4}', "--data-range", "255", "--name", "theirs", "--fused", "--suite-file", "s.toml",
            "--ntire-repo", "repo", "--team", "0,2", "--out", "r.json", "--force", "--report=r.html", "--baseline",
            "b.json", "--ntire-runs", "3", "--data", "embedded", "--data", "set", "--metric", "ssim_rgb",
            "--threads", "1", "--rounds", "7", "--for-baseline"]
    parent = _options(argv)
    child = child_argv(parent, tmp_path / "c.json")
    assert child[1:4] == ["-m", "sr_harness", "eval"] and child[-2:] == ["--out", str(tmp_path / "c.json")]
    assert not {"--force", "--report", "--baseline", "--ntire-runs", "r.json", "r.html"} & set(child)
    assert _options(child[3:]) == parent  # every run option round-trips
    assert parent.external == [{"source": "net.py:Net", "args": {"c": 4}, "data_range": 255.0, "label": "theirs"}]
    assert parent.names == ["", "mine"] and parent.teams == ["0", "2"] and parent.data == ["embedded", "set"]


def test_eval_option_names_are_exact_so_a_child_never_sees_a_parent_only_option(tmp_path, capsys):
    assert main(["eval", "--models", "bicubic", "--data", "embedded", "--ntire-r", "2", "--out",
                 str(tmp_path / "r.json")]) == 2
    assert "--ntire-r" in capsys.readouterr().err


TINY_NET = '''
import torch.nn as nn
import torch.nn.functional as F


class Tiny(nn.Module):
    def __init__(self, width=4):
        super().__init__()
        self.body = nn.Conv2d(3, 3 * 16, 3, padding=1)

    def forward(self, x):
        return F.pixel_shuffle(self.body(x), 4)
'''


@pytest.mark.slow
@pytest.mark.parametrize("source", ["model", "suite_file"])
def test_fresh_runs_of_a_foreign_class_and_of_a_suite_file(tmp_path, source):
    import torch

    (tmp_path / "tiny_net.py").write_text(TINY_NET)
    torch.manual_seed(0)
    weights = {"body.weight": torch.randn(48, 3, 3, 3) * 0.1, "body.bias": torch.zeros(48)}
    torch.save(weights, tmp_path / "tiny.pth")  # fixed weights: every fresh process computes the same images
    if source == "model":
        picked = ["--model", f"{tmp_path / 'tiny_net.py'}:Tiny", "--model-args", '{"width": 4}', "--weights",
                  str(tmp_path / "tiny.pth"), "--data", "embedded"]
    else:
        (tmp_path / "suite.toml").write_text(
            '[mine]\ndescription = "one foreign class"\ndata = ["embedded"]\n'
            '[mine.protocol]\nruntime_mode = "ntire"\n'
            '[[mine.models]]\nlabel = "tiny"\nsource = "tiny_net.py:Tiny"\nweights = "tiny.pth"\n')
        picked = ["--suite-file", str(tmp_path / "suite.toml")]
    out = tmp_path / "runs.json"
    assert main(["eval", *picked, "--runtime-mode", "ntire", "--threads", "1", "--ntire-runs", "2",
                 "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["ntire_runs"]["n"] == 2
    assert [r["status"] for r in record["results"]] == ["ok"] * len(record["results"]) and record["results"]
    assert all(len(r["runtime"]["per_run_mean_ms"]) == 2 for r in record["results"])
