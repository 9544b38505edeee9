"""HTML report: every section present, untrusted strings escaped, one self-contained file."""

import copy

from sr_harness.records.run import SCHEMA_VERSION
from sr_harness.report.page import render, write_report

EVIL = "<script>alert('x')</script>"
OFFICIAL_SLIM = "d8a4981dcf0f305761bef230f79740da82d29093144c0278ff46e7021d0c2450"


def row(model, arch, *, psnr, ratio, sha=None):
    return {"model": model, "arch": arch, "variant": f"variant {EVIL}", "dataset": "Set5", "n_images": 1,
            "checkpoint": {"sha256": sha or "0" * 64, "path": f"/w/{EVIL}.pth"},
            "metrics": {"psnr_y": psnr, "psnr_rgb": psnr - 2, "ssim_y": 0.89},
            "per_image": [{"name": f"img{EVIL}", "psnr_y": psnr, "psnr_rgb": psnr - 2, "ssim_y": 0.89}],
            "runtime": {"mode": "steady", "device": "cpu", "threads": 1, "median_ms": 10 * ratio, "mean_ms": 10 * ratio,
                        "ci_low_ms": 9.5 * ratio, "ci_high_ms": 10.5 * ratio, "n": 4, "precision": "fp32",
                        "samples_ms": [10 * ratio] * 4},
            "timing_input": {"kind": "centre crops", "hw": [96, 96], "n": 4},
            "speed": {"reference": "rlfn_ntire_x4", "ratio": ratio, "low": ratio * 0.95, "high": ratio * 1.05,
                      "input_hw": [96, 96]},
            "complexity": {"flops_g": 11.991174144, "params": 207774, "activations_m": 74.06, "convs": 51,
                           "memory_mib": None, "input_hw": [256, 256]}}


def record():
    env = {"device": "cpu", "cpu_model": "Test CPU", "threads": 1, "torch": "2.x", "gpu_name": None,
           "packages": {"torch": "2.x"}, "git": {"commit": "abc", "dirty": True}}
    bicubic = {"model": "bicubic", "arch": "bicubic", "variant": "reference", "dataset": "Set5", "n_images": 1,
               "checkpoint": None, "metrics": {"psnr_y": 28.4, "psnr_rgb": 26.7, "ssim_y": 0.81}, "per_image": [],
               "runtime": None, "timing_input": None, "speed": None, "complexity": None}
    return {"kind": "sr-harness-run", "schema_version": SCHEMA_VERSION, "run_id": "run1", "created_utc": "now",
            "suite": "official", "headline": "psnr_y", "description": f"desc {EVIL}", "config": {}, "env": env,
            "datasets": [{"name": "Set5", "n_images": 1, "scale": 4}],
            "missing": [{"model": f"m{EVIL}", "checkpoint": "c.pth", "variant": "v", "reason": "absent"}],
            "results": [bicubic, row("slimrlfn_x4", "slimrlfn_x4", psnr=31.9774, ratio=0.9, sha=OFFICIAL_SLIM),
                        row(f"mine{EVIL}", "slimrlfn_x4", psnr=31.5, ratio=0.8)],
            "speed_reference": {"model": "rlfn_ntire_x4"}, "phase_seconds": {"forward": 1.0}, "wall_seconds": 3.0}


def test_report_has_sections_and_escapes_untrusted_text(tmp_path):
    run = record()
    baseline = copy.deepcopy(run)
    baseline["run_id"] = "base1"
    baseline["results"][1]["metrics"]["psnr_y"] += 0.02  # the run regressed against this baseline
    html = render([run], baseline=baseline)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;" in html
    for section in ("Dataset Set5", "Measured vs published", "Diff vs baseline", "Environment", "Not in this run",
                    "FLOPs, fvcore, multiply-add counted once", "NTIRE 2024 score rel. RLFN_ntire", "<details>",
                    "quality vs runtime", "quality vs FLOPs", "quality vs parameters", "CPU</strong> timings", "Regression"):
        assert section in html, section
    assert html.count("<svg") == 3  # plots inline (runtime, FLOPs, params); nothing fetched from elsewhere
    assert "<link" not in html and 'src="' not in html and 'href="http' not in html
    # the official checkpoint is compared with the cited value; the unknown one gets "no data"
    assert "reproduced" in html and "checkpoint is not an official release" in html
    path = write_report([run], tmp_path / "r.html")
    assert path.read_text().startswith("<!DOCTYPE html>")


def test_report_shows_the_ntire_average_runtime():
    run = record()
    run["ntire_average"] = {f"mine{EVIL}": {"mean_ms": 12.5, "datasets": ["valid", "test"],
                                           "per_dataset_mean_ms": [10.0, 15.0], "rule": "mean over datasets"}}
    run["ntire_runs"] = {"n": 5, "run_ids": ["a"]}
    html = render([run])
    assert "NTIRE average runtime" in html and "<strong>12.50</strong>" in html
    assert "mean of 5 fresh runs" in html and EVIL not in html


def test_report_says_how_many_fresh_processes_the_steady_timing_took():
    run = record()
    assert "fresh processes" not in render([run])  # one process: nothing to say
    for result in run["results"][1:]:
        result["timing_input"]["processes"] = 6
    assert "rounds split over 6 fresh processes" in render([run])
