"""The prepared GPU check (.ci/gpu_check.py), rehearsed on the CPU: packing from ../shared, then the harness's
NTIRE mode and the organizers' own script on the same valid + test folders, side by side."""

from pathlib import Path

import json
import os
import subprocess
import sys

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]  # the checkout

SCRIPT = PROJECT_ROOT / ".ci" / "gpu_check.py"


@pytest.mark.data
@pytest.mark.slow
def test_the_gpu_check_packs_and_runs_both_sides_on_the_same_folders(shared_dir, tmp_path):
    if not (shared_dir / "third_party" / "NTIRE2024_ESR" / "test_demo.py").is_file():
        pytest.skip("the organizers' NTIRE2024_ESR repository is not in ../shared")
    pytest.importorskip("cv2", reason="the organizers' utils need OpenCV (the test extra)")
    env = dict(os.environ, SR_GPU_PACK=str(tmp_path / "pack"), SR_HARNESS_PROGRESS="0", OMP_NUM_THREADS="1")
    subprocess.run([sys.executable, SCRIPT, "pack", "--shared", shared_dir, "--no-wheels"], env=env, check=True,
                   capture_output=True)
    assert sorted(p.name for p in (tmp_path / "pack" / "weights").iterdir()) == [
        "rlfn_ntire_x4.pth", "slimrlfn_prune_x4.pth", "slimrlfn_x4.pth"]
    assert len(list((tmp_path / "pack" / "data" / "DIV2K_LSDIR_valid_LR").glob("*x4.png"))) == 5
    subprocess.run([sys.executable, SCRIPT, "run", "--rehearse-on-cpu", "--runs", "1", "--images-2k", "1"], env=env,
                   check=True, capture_output=True)
    summary = json.loads((tmp_path / "pack" / "rehearsal" / "summary_cpu-rehearsal.json").read_text())
    rows = {(r["model"], r["dataset"]): r for r in summary["rows"]}
    assert set(rows) == {(m, f"DIV2K_LSDIR_{s}") for m in ("rlfn_ntire_x4", "slimrlfn_x4", "slimrlfn_prune_x4")
                         for s in ("valid", "test")}
    for (model, _), row in rows.items():
        assert row["harness_mean_ms"] > 0
        if model != "slimrlfn_prune_x4":  # the organizers' script runs team 0 and team 21 (unpruned)
            assert row["official_mean_ms"] > 0 and row["psnr_rgb_max_abs_diff"] < 1e-6
    assert not (PROJECT_ROOT / "results" / "gpu" / "summary_cpu-rehearsal.json").exists()  # no CPU number as GPU
