#!/usr/bin/env python3
"""The GPU check: packed here, run once on a lent CUDA machine (which gets the checkout only, no network).

  python .ci/gpu_check.py pack [--shared ../shared]     here: writes the git-ignored .gpu/ (about 7 MiB)
  python .ci/gpu_check.py run                           there, in the checkout, with .gpu carried

``pack`` puts in .gpu/: wheels the CUDA image lacks (fvcore and its pure-Python needs), the three official x4
checkpoints, Set5 in the NTIRE layout (DIV2K_LSDIR_valid_*), and the organizers' test_demo.py, utils/, models/
with their team 0 (RLFN) and team 21 (SlimRLFN) checkpoints. Nothing of ../shared enters the repository.

``run`` installs those wheels and the project without network, adds a seeded synthetic 2K-sized test set
(DIV2K_LSDIR_test_*, LR by the project's MATLAB-exact bicubic), runs the CUDA tests, the harness's NTIRE mode
(rlfn_ntire_x4, slimrlfn_x4, slimrlfn_prune_x4 on valid + test, ``--ntire-runs``) and the organizers' own script
on the same folders as often (teams 0 and 21, --include_test), and writes under results/gpu/ (and $OUT when set):
the harness record with its fingerprint, the organizers' results per run, and a summary of both side by side.
``run --rehearse-on-cpu`` runs the same steps on a CPU (official CUDA events stood in for) to check the script.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACK = Path(os.environ.get("SR_GPU_PACK", ROOT / ".gpu"))  # the carried folder (tests pack elsewhere)
WHEELS = ("fvcore==0.1.5.post20221221", "iopath==0.1.10", "yacs==0.1.8", "termcolor==3.3.0")
MODELS = ("rlfn_ntire_x4", "slimrlfn_x4", "slimrlfn_prune_x4")
TEAMS = {0: "rlfn_ntire_x4", 21: "slimrlfn_x4"}  # the organizers' select_model ids of the same networks
TEAM_FILES = ("test_demo.py", "utils", "models", "model_zoo/team00_rlfn.pth", "model_zoo/team21_slimrlfn.pth")
CPU_SHIM = ROOT / "tests" / "bench" / "official_cpu"


def sh(*argv, **kwargs) -> None:
    print("+", " ".join(map(str, argv)), flush=True)
    subprocess.run([str(a) for a in argv], check=True, **kwargs)


def pack(shared: Path, wheels: bool = True) -> None:
    repo = shared / "third_party" / "NTIRE2024_ESR"
    if not (repo / "test_demo.py").is_file():
        sys.exit(f"error: {repo}: the organizers' repository is not there; give --shared or set SR_SHARED_DIR")
    shutil.rmtree(PACK, ignore_errors=True)
    (PACK / "wheels").mkdir(parents=True)
    if wheels:  # from the package registry: fvcore and iopath come as source, built here into pure-Python wheels
        sh(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", PACK / "wheels", *WHEELS)
    (PACK / "weights").mkdir()
    for name in MODELS:
        shutil.copy(shared / "reference" / "weights" / f"{name}.pth", PACK / "weights")
    for item in TEAM_FILES:
        target = PACK / "official" / item
        target.parent.mkdir(parents=True, exist_ok=True)
        if (repo / item).is_dir():
            shutil.copytree(repo / item, target)
        else:
            shutil.copy(repo / item, target)
    set5 = shared / "datasets" / "Set5"
    from sr_harness.run.data import read_rgb  # noqa: PLC0415

    write_ntire_split(PACK / "data", "valid", [(p.stem, read_rgb(p), set5 / "LR_bicubic_X4" / p.name)
                                               for p in sorted((set5 / "HR").glob("*.png"))])
    size = sum(f.stat().st_size for f in PACK.rglob("*") if f.is_file())
    print(f"packed {PACK} ({size / 2**20:.1f} MiB): carry it as '.gpu' and run `python3 .ci/gpu_check.py run`")


def write_ntire_split(root: Path, split: str, images: list) -> None:
    """NTIRE layout: HR mod-cropped to 4 as <name>.png, LR as <name>x4.png (copied, or made by MATLAB bicubic)."""
    import imageio.v3 as iio  # noqa: PLC0415
    from sr_harness.protocols.imresize import bicubic_downscale  # noqa: PLC0415
    from sr_harness.protocols.quality import modcrop  # noqa: PLC0415

    hr_dir, lr_dir = root / f"DIV2K_LSDIR_{split}_HR", root / f"DIV2K_LSDIR_{split}_LR"
    hr_dir.mkdir(parents=True, exist_ok=True)
    lr_dir.mkdir(parents=True, exist_ok=True)
    for name, hr, lr in images:
        hr = modcrop(hr, 4)
        iio.imwrite(hr_dir / f"{name}.png", hr)
        if lr is None:
            iio.imwrite(lr_dir / f"{name}x4.png", bicubic_downscale(hr, 4))
        else:
            shutil.copy(lr, lr_dir / f"{name}x4.png")


def synthetic_2k(n: int, height: int, width: int) -> list:
    """Seeded photograph-like HR images (smooth gradients, edges and texture) of 2K size."""
    import numpy as np  # noqa: PLC0415

    rng = np.random.default_rng(2024)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    images = []
    for i in range(n):
        channels = []
        for _ in range(3):
            f = rng.uniform(2, 40, 4)
            wave = sum(np.sin(2 * np.pi * (f[k] * x * np.cos(k) + f[k] * y * np.sin(k)) + rng.uniform(0, 6))
                       for k in range(4))
            edges = (x * rng.uniform(-3, 3) + y * rng.uniform(-3, 3) > rng.uniform(-1, 1)) * 60
            channels.append(128 + 12 * wave + edges - 30 + rng.normal(0, 6, (height, width)))
        images.append((f"synthetic2k_{i:02}", np.clip(np.stack(channels, -1), 0, 255).astype(np.uint8), None))
    return images


def install() -> None:
    """The carried wheels and the project, offline, into the interpreter that has torch with CUDA."""
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--no-build-isolation"]
    sh(*pip, *sorted((PACK / "wheels").glob("*.whl")))
    sh(*pip, "-e", ROOT)


def official(work: Path, data: Path, runs: int, env: dict) -> list[dict]:
    """The organizers' test_demo.py, unmodified, ``runs`` times per team; results.json of every run."""
    shutil.copytree(PACK / "official", work, dirs_exist_ok=True)
    results = []
    for _ in range(runs):
        (work / "results.json").unlink(missing_ok=True)
        for team in TEAMS:
            sh(sys.executable, "test_demo.py", "--data_dir", data, "--save_dir", work / "out", "--model_id", team,
               "--include_test", cwd=work, env=env)
        results.append(json.loads((work / "results.json").read_text()))
    return results


def summary(record: dict, official_runs: list[dict]) -> dict:
    """Per model and set: the harness's mean runtime (mean of its runs) beside the organizers' (mean of theirs),
    peak memory, and the largest per-image PSNR-RGB difference."""
    rows = []
    for row in record["results"]:
        team = next((t for t, m in TEAMS.items() if m == row["model"]), None)
        split = row["dataset"].rsplit("_", 1)[-1]
        entry = {"model": row["model"], "dataset": row["dataset"], "harness_mean_ms": row["runtime"]["mean_ms"],
                 "harness_memory_mib": row["runtime"].get("memory_mib"), "ntire_comparable":
                 row["runtime"].get("ntire_comparable")}
        if team is not None:
            theirs = [next(v for k, v in run.items() if k.startswith(f"{team:02}_")) for run in official_runs]
            entry |= {"official_mean_ms": statistics.fmean(t[f"{split}_ave_runtime"] for t in theirs),
                      "official_memory_mib": max(t[f"{split}_memory"] for t in theirs),
                      "psnr_rgb_max_abs_diff": max(abs(p["psnr_rgb"] - q) for p, q in
                                                   zip(row["per_image"], theirs[0][f"{split}_psnr"]))}
            entry["harness_over_official"] = entry["harness_mean_ms"] / entry["official_mean_ms"]
        rows.append(entry)
    return {"env": record["env"], "ntire_runs": record.get("ntire_runs"), "rows": rows}


def run(runs: int, n_2k: int, rehearse: bool) -> None:
    import torch  # noqa: PLC0415

    if not rehearse and not torch.cuda.is_available():
        sys.exit("error: no CUDA device here; on a CPU use --rehearse-on-cpu to check the script")
    if not (PACK / "wheels").is_dir():
        sys.exit(f"error: {PACK}: not packed; run `python .ci/gpu_check.py pack` on the CPU box and carry .gpu")
    if not rehearse:
        install()
    size = (340, 512) if rehearse else (1356, 2040)  # DIV2K-sized HR on the GPU
    data = PACK / "data"
    shutil.rmtree(data / "DIV2K_LSDIR_test_HR", ignore_errors=True)
    shutil.rmtree(data / "DIV2K_LSDIR_test_LR", ignore_errors=True)
    write_ntire_split(data, "test", synthetic_2k(n_2k, *size))
    device = "cpu" if rehearse else "cuda"
    gpu = "cpu-rehearsal" if rehearse else torch.cuda.get_device_name(0).replace(" ", "_")
    out = PACK / "rehearsal" if rehearse else ROOT / "results" / "gpu"  # a rehearsal's numbers are not GPU ones
    out.mkdir(parents=True, exist_ok=True)
    if not rehearse:
        sh(sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", ROOT / "tests", cwd=ROOT)
    record_path = out / f"ntire2024_{gpu}.json"
    sh(sys.executable, "-m", "sr_harness", "eval", "--suite", "ntire2024", "--models", ",".join(MODELS),
       "--data", data / "DIV2K_LSDIR_valid_HR", "--data", data / "DIV2K_LSDIR_test_HR",
       "--weights-dir", PACK / "weights", "--device", device, "--ntire-runs", runs, "--out", record_path, "--force",
       cwd=ROOT)
    env = dict(os.environ, PYTHONPATH=str(CPU_SHIM)) if rehearse else dict(os.environ)
    official_runs = official(Path("/tmp/sr_gpu_official"), data, runs, env)
    (out / f"official_{gpu}.json").write_text(json.dumps(official_runs, indent=1))
    side_by_side = summary(json.loads(record_path.read_text()), official_runs)
    (out / f"summary_{gpu}.json").write_text(json.dumps(side_by_side, indent=1))
    for row in side_by_side["rows"]:
        print(json.dumps(row))
    if os.environ.get("OUT"):
        for path in out.glob(f"*{gpu}.json"):
            shutil.copy(path, os.environ["OUT"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--shared", type=Path, default=Path(os.environ.get("SR_SHARED_DIR", ROOT.parent / "shared")))
    p.add_argument("--no-wheels", action="store_true", help="skip the wheels (a CPU rehearsal needs none)")
    p = sub.add_parser("run")
    p.add_argument("--runs", type=int, default=5, help="fresh runs of each side (the organizers use 5)")
    p.add_argument("--images-2k", type=int, default=5, help="synthetic 2K-sized test images")
    p.add_argument("--rehearse-on-cpu", action="store_true")
    args = parser.parse_args()
    if args.command == "pack":
        pack(args.shared, wheels=not args.no_wheels)
    else:
        run(args.runs, args.images_2k, args.rehearse_on_cpu)


if __name__ == "__main__":
    main()
