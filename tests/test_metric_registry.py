"""A new metric is one registry entry: a lower-is-better, LPIPS-style dummy is computed by eval, validated in the
record, shown in the report and judged by compare in its own direction."""

import numpy as np
import pytest

from sr_harness import metrics
from sr_harness.cli.main import main
from sr_harness.gate.compare import compare, has_regression
from sr_harness.records.run import load_record


def mean_abs_error(sr, hr, *, crop):
    """A distance: 0 for a perfect output, larger when worse (the direction LPIPS has)."""
    a = sr[crop:sr.shape[0] - crop, crop:sr.shape[1] - crop].astype(np.float64)
    b = hr[crop:hr.shape[0] - crop, crop:hr.shape[1] - crop].astype(np.float64)
    return float(np.abs(a - b).mean() / 255)


@pytest.fixture()
def distance_metric(monkeypatch):
    metric = metrics.Metric("mae_dist", "MAE distance", "", "quality", higher_is_better=False, tolerance=0.001,
                            optional=True, extra=True, compute=mean_abs_error)
    monkeypatch.setitem(metrics.METRICS, metric.name, metric)
    return metric


def test_judge_follows_the_metrics_direction(distance_metric):
    psnr = metrics.METRICS["psnr_y"]
    assert psnr.judge(30.0, 30.1) == "improved" and psnr.judge(30.0, 29.9) == "regressed"
    assert distance_metric.judge(0.10, 0.20) == "regressed" and distance_metric.judge(0.10, 0.05) == "improved"
    assert distance_metric.judge(0.10, 0.1005) == "ok"
    assert psnr.judge(float("inf"), 40.0) == "regressed" and psnr.judge(40.0, float("inf")) == "improved"


def test_a_registered_lower_is_better_metric_runs_end_to_end(distance_metric, hr_folder, tmp_path):
    out, page = tmp_path / "run.json", tmp_path / "r.html"
    assert main(["eval", "--models", "bicubic", "--data", str(hr_folder), "--metric", "mae_dist",
                 "--out", str(out), "--report", str(page)]) == 0
    run = load_record(out)
    measured = run["results"][0]["metrics"]["mae_dist"]
    assert 0.0 < measured < 1.0
    assert "MAE distance" in page.read_text()

    worse = load_record(out)
    worse["results"][0]["metrics"]["mae_dist"] = measured + 0.01
    deltas = [d for d in compare(worse, run) if d.metric == "mae_dist"]
    assert [d.status for d in deltas] == ["regressed"] and "lower is better" in deltas[0].note
    assert has_regression(compare(worse, run))

    better = load_record(out)
    better["results"][0]["metrics"]["mae_dist"] = measured - 0.01
    assert [d.status for d in compare(better, run) if d.metric == "mae_dist"] == ["improved"]
    assert not has_regression(compare(better, run))


def test_an_unregistered_metric_name_is_refused(hr_folder, tmp_path, capsys):
    assert main(["eval", "--models", "bicubic", "--data", str(hr_folder), "--metric", "lpips",
                 "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert "unknown optional metric(s) 'lpips'" in err and "ssim_rgb" in err
    assert not (tmp_path / "r.json").exists()
