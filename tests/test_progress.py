"""Progress: one line per finished phase (with its elapsed time) when stderr is not a terminal."""

from pathlib import Path

import re

PROJECT_ROOT = Path(__file__).resolve().parents[1]  # the checkout
from sr_harness.cli.main import main

CHECKPOINT = PROJECT_ROOT / "results" / "checkpoints" / "rlfn_ntire_x4.pth"


def test_each_long_phase_prints_one_line_off_a_terminal(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SR_HARNESS_PROGRESS", "1")
    code = main(["eval", "--models", f"bicubic,{CHECKPOINT}", "--data", "embedded", "--rounds", "1",
                 "--warmup", "0", "--timing-size", "16", "--out", str(tmp_path / "r.json")])
    err = capsys.readouterr().err.splitlines()
    assert code == 0
    phases = [re.sub(r": \d+\.\d s$", "", line) for line in err if re.search(r": \d+\.\d s$", line)]
    # the speed reference (rlfn_ntire_x4's architecture) is a row: counted once, timed beside its copy
    assert phases == ["quality bicubic on embedded-eval", "quality rlfn_ntire_x4 on embedded-eval",
                      "complexity rlfn_ntire_x4", "timing (steady, 2 models interleaved) on embedded-eval"], err


def test_progress_can_be_silenced(tmp_path, capsys):
    assert main(["eval", "--models", "bicubic", "--data", "embedded", "--out", str(tmp_path / "r.json")]) == 0
    assert capsys.readouterr().err == ""
