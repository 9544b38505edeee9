"""Benchmark: the harness's NTIRE-mode evaluation against the organizers' own script, same CPU, same data.

The organizers' ``test_demo.py`` (../shared/third_party/NTIRE2024_ESR) runs unmodified from a scratch folder that
links its ``models``, ``model_zoo`` and ``utils`` (nothing is written into the repository), once per model as they
run it (RLFN = team 0, SlimRLFN = team 21), with ``official_cpu/sitecustomize.py`` standing in for CUDA events.
The harness evaluates both models in one ``eval --runtime-mode ntire`` process. Both sides: one thread, the same
NTIRE-layout folder (Set5 x 3 copies = 15 images), wall time of the whole command including interpreter start.
Pairs are interleaved (official, harness, official, ...) and the ratio is the median of the paired ratios;
the target is <= 1.0. Both sides' PSNR-RGB per image must agree (the harness's numbers unchanged).
"""

import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np
import pytest

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[2]  # the checkout

PAIRS = 5
TEAMS = {0: "rlfn_ntire_x4", 21: "slimrlfn_x4"}
SHIM = pathlib.Path(__file__).parent / "official_cpu"


@pytest.fixture(scope="module")
def setup(shared_dir, tmp_path_factory):
    repo = shared_dir / "third_party" / "NTIRE2024_ESR"
    if not (repo / "test_demo.py").is_file():
        pytest.skip("the organizers' NTIRE2024_ESR repository is not in ../shared")
    pytest.importorskip("cv2", reason="the organizers' utils need OpenCV: pip install -e '.[oracle]' (tox -e perf)")
    from sr_harness.run.data import read_rgb
    from sr_harness.protocols.quality import modcrop

    root = tmp_path_factory.mktemp("official")
    work = root / "work"
    work.mkdir()
    for name in ("models", "model_zoo", "utils", "test_demo.py"):
        (work / name).symlink_to(repo / name)
    data = root / "data"
    hr_dir, lr_dir = data / "DIV2K_LSDIR_valid_HR", data / "DIV2K_LSDIR_valid_LR"
    hr_dir.mkdir(parents=True)
    lr_dir.mkdir()
    import imageio.v3 as iio
    set5 = shared_dir / "datasets" / "Set5"
    for copy in range(3):
        for hr in sorted((set5 / "HR").glob("*.png")):
            stem = f"{copy}{hr.stem}"
            iio.imwrite(hr_dir / f"{stem}.png", modcrop(read_rgb(hr), 4))
            shutil.copy(set5 / "LR_bicubic_X4" / hr.name, lr_dir / f"{stem}x4.png")
    return repo, work, data, root


def _official(work: pathlib.Path, data: pathlib.Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(SHIM), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    for team in TEAMS:
        subprocess.run([sys.executable, "test_demo.py", "--data_dir", str(data), "--save_dir", str(work / "out"),
                        "--model_id", str(team)], cwd=work, env=env, check=True, capture_output=True)
    return json.loads((work / "results.json").read_text())


def _harness(shared_dir, data: pathlib.Path, out: pathlib.Path) -> dict:
    subprocess.run([sys.executable, "-m", "sr_harness", "eval", "--models", ",".join(TEAMS.values()),
                    "--weights-dir", str(shared_dir / "reference" / "weights"), "--data", str(data),
                    "--runtime-mode", "ntire", "--threads", "1", "--out", str(out), "--force"],
                   cwd=PROJECT_ROOT, env=dict(os.environ, SR_HARNESS_PROGRESS="0"), check=True, capture_output=True)
    return json.loads(out.read_text())


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


@pytest.mark.data
def test_harness_vs_official_script_wall_time(setup, shared_dir, benchmark):
    repo, work, data, root = setup
    official_s, harness_s = [], []
    for i in range(PAIRS):
        (work / "results.json").unlink(missing_ok=True)
        t, official = _timed(lambda: _official(work, data))
        official_s.append(t)
        t, record = _timed(lambda: _harness(shared_dir, data, root / "harness.json"))
        harness_s.append(t)
    ratios = [h / o for h, o in zip(harness_s, official_s)]
    ratio = statistics.median(ratios)
    benchmark.extra_info.update({"ratio": ratio, "ratios": ratios, "official_s": official_s, "harness_s": harness_s})
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    print(f"\nharness / official wall time = {ratio:.3f} (paired median of {PAIRS}; official {official_s}, "
          f"harness {harness_s})")
    teams = {model: next(k for k in official if k.startswith(f"{team:02}_")) for team, model in TEAMS.items()}
    for row in record["results"]:
        assert np.allclose([p["psnr_rgb"] for p in row["per_image"]], official[teams[row["model"]]]["valid_psnr"],
                           rtol=0, atol=1e-9), row["model"]
    assert ratio <= 1.0, f"the harness takes {ratio:.2f}x the official script's wall time"
