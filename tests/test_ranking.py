"""NTIRE 2024 averaging and score against the official per-image RLFN results."""

import json
import math

import pytest

from sr_harness.protocols.ranking import NTIRE2024_BASELINE, ntire2024_score, passes_psnr_gate, set_averages


def test_baseline_scores_e_squared_on_every_term():
    score = ntire2024_score(13.54, 19.67, 0.317)
    for term in ("score_runtime", "score_flops", "score_params", "score_final"):
        assert score[term] == pytest.approx(math.e**2, rel=1e-12)


def test_slimrlfn_worked_example():
    score = ntire2024_score(10.0, 11.991174144, 0.207774)
    assert score["score_flops"] == pytest.approx(3.3846, abs=1e-4)
    assert score["score_params"] == pytest.approx(3.7094, abs=1e-4)
    assert score["score_runtime"] == pytest.approx(math.exp(20 / NTIRE2024_BASELINE.runtime_ms))
    with pytest.raises(ValueError):
        ntire2024_score(-1.0, 1.0, 1.0)


def test_psnr_gate():
    assert passes_psnr_gate(26.90, 26.99)
    assert not passes_psnr_gate(26.8999)
    assert not passes_psnr_gate(27.0, 26.98)


def test_set_averages_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        set_averages([30.0, 31.0], [1.0])


@pytest.mark.data
def test_official_rlfn_averages_are_reproduced(shared_file):
    data = json.loads(shared_file("reference", "ntire2024_rlfn_baseline_per_image.json").read_text())
    valid = set_averages([r["psnr"] for r in data["valid"]], [r["runtime_ms"] for r in data["valid"]])
    test = set_averages([r["psnr"] for r in data["test"]], [r["runtime_ms"] for r in data["test"]])
    assert valid["ave_psnr"] == 26.955138542968204  # bit-identical to the official results.json
    assert test["ave_psnr"] == 27.069471162517825
    assert valid["ave_runtime_ms"] == pytest.approx(14.943, abs=5e-4)
    assert valid["ave_runtime_ms_warm"] == pytest.approx(9.823, abs=5e-4)
    assert valid["median_runtime_ms"] == pytest.approx(10.845, abs=5e-4)
    assert test["ave_runtime_ms"] == pytest.approx(data["summary"]["test_ave_runtime"], abs=1e-12)
    assert passes_psnr_gate(valid["ave_psnr"], test["ave_psnr"])
