"""Careless and hostile input, as a user would give it: the exit code, one error line, and every file that existed
before byte-identical after. Each case was a silent wrong result, lost data or a traceback before."""

import json
import os
import pathlib
import struct
import zlib

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from sr_harness import models
from sr_harness.cli.main import main
from sr_harness.errors import EXIT_FAILED_ROWS, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_REGRESSION, EXIT_USAGE, run_command
from sr_harness.records.run import SCHEMA_VERSION, load_record, write_record

FAST = ["--rounds", "1", "--warmup", "0", "--timing-size", "16", "--threads", "1"]


def snapshot(*folders) -> dict:
    return {p: p.read_bytes() for f in folders for p in sorted(pathlib.Path(f).rglob("*")) if p.is_file()}


def one_line_error(capsys, *must) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    line = err.splitlines()[-1]
    assert line.startswith("error: "), err
    for text in must:
        assert text in line, line
    return line


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> pathlib.Path:
    folder = tmp_path_factory.mktemp("hr")
    rng = np.random.default_rng(0)
    for i in range(2):
        base = rng.integers(0, 256, (16, 16, 3)).astype(np.float64)
        img = np.kron(base, np.ones((4, 4, 1))) + rng.normal(0, 6, (64, 64, 3))
        iio.imwrite(folder / f"im{i}.png", np.clip(img, 0, 255).astype(np.uint8))
    return folder


def save(model, path, **changes) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = model.state_dict()
    for key, fn in changes.items():
        state[key] = fn(state[key])
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def rlfn():
    torch.manual_seed(0)
    return models.build_model("rlfn_s_x4").eval()


def test_two_files_with_one_name_are_refused_then_labelled_by_name(tmp_path, images, rlfn, capsys):
    a = save(rlfn, tmp_path / "a" / "rlfn_s_x4.pth")
    b = save(rlfn, tmp_path / "b" / "rlfn_s_x4.pth", **{"conv_2.bias": lambda t: t + 3.0})
    out = tmp_path / "r.json"
    assert main(["eval", "--models", f"{a},{b}", "--data", str(images), "--out", str(out), *FAST]) == EXIT_USAGE
    one_line_error(capsys, "both be labelled 'rlfn_s_x4'", "--name")
    assert not out.exists()
    assert main(["eval", "--models", f"{a},{b}", "--name", "first,second", "--data", str(images), "--out", str(out),
                 *FAST]) == 0
    rows = {r["model"]: r for r in load_record(out)["results"]}
    assert set(rows) == {"first", "second"}
    assert rows["first"]["metrics"]["psnr_y"] != rows["second"]["metrics"]["psnr_y"]  # each row its own file
    assert rows["first"]["checkpoint"]["sha256"] != rows["second"]["checkpoint"]["sha256"]
    assert rows["second"]["checkpoint"]["path"].endswith("b/rlfn_s_x4.pth")


@pytest.mark.parametrize("change, message", [
    (lambda t: t * float("nan"), "holds NaN or Inf"),
    (lambda t: t + float("inf"), "holds NaN or Inf"),
    (lambda t: t.to(torch.int64), "is int64, not floating point"),
])
def test_non_finite_or_integer_weights_are_refused_at_load(tmp_path, images, rlfn, capsys, change, message):
    bad = save(rlfn, tmp_path / "rlfn_s_x4.pth", **{"conv_1.weight": change})
    assert main(["eval", "--models", str(bad), "--data", str(images), "--out", str(tmp_path / "r.json")]) == 2
    one_line_error(capsys, str(bad), "'conv_1.weight'", message)
    assert not (tmp_path / "r.json").exists()


def test_a_model_whose_output_overflows_is_a_failed_row(tmp_path, images, rlfn, capsys):
    bad = save(rlfn, tmp_path / "rlfn_s_x4.pth", **{"conv_1.weight": lambda t: t * 1e36})
    out = tmp_path / "r.json"
    argv = ["eval", "--models", f"bicubic,{bad}", "--data", str(images), "--out", str(out), *FAST]
    assert main(argv) == EXIT_FAILED_ROWS
    assert "NaN/Inf" in capsys.readouterr().err
    rows = {r["model"]: r for r in load_record(out)["results"]}
    assert rows["rlfn_s_x4"]["status"] == "failed" and rows["rlfn_s_x4"]["metrics"] == {}
    assert rows["bicubic"]["status"] == "ok" and np.isfinite(rows["bicubic"]["metrics"]["psnr_y"])


def record(rows=None, suite="default", **extra):
    rows = rows if rows is not None else [{"model": "m", "arch": "m", "dataset": "d",
                                           "metrics": {"psnr_y": 30.0, "psnr_rgb": 28.0, "ssim_y": 0.9}}]
    return {"kind": "sr-harness-run", "schema_version": SCHEMA_VERSION, "run_id": "r", "config": {}, "env": {},
            "suite": suite, "datasets": [{"name": "d"}], "results": rows, **extra}


@pytest.mark.parametrize("metrics, message", [
    ({"psnr_y": "nan", "psnr_rgb": 1.0, "ssim_y": 0.5}, "not a valid PSNR-Y value"),
    ({"psnr_y": "30", "psnr_rgb": 1.0, "ssim_y": 0.5}, "not a valid PSNR-Y value"),
    ({"psnr_rgb": 1.0, "ssim_y": 0.5}, "lacks the metric 'psnr_y'"),
    ({}, "lacks the metric"),
])
def test_baseline_update_refuses_invalid_records(tmp_path, capsys, metrics, message):
    base = write_record(record(), tmp_path / "baseline.json")
    before = base.read_bytes()
    bad = tmp_path / "bad.json"
    data = record([{"model": "m", "arch": "m", "dataset": "d", "metrics": metrics}])
    bad.write_text(json.dumps(data))
    assert main(["baseline", "update", "--from", str(bad), "--to", str(base)]) == EXIT_USAGE
    one_line_error(capsys, str(bad), message)
    assert base.read_bytes() == before
    assert main(["compare", str(bad), "--baseline", str(base)]) == EXIT_USAGE  # compare never says "ok"


def test_baseline_update_refuses_fewer_rows_and_regressions_unless_accepted(tmp_path, capsys):
    rows = [{"model": m, "arch": m, "dataset": "d", "metrics": {"psnr_y": 30.0, "psnr_rgb": 28.0, "ssim_y": 0.9}}
            for m in ("a", "b")]
    base = write_record(record(rows), tmp_path / "baseline.json")
    before = base.read_bytes()
    one_row = write_record(record(rows[:1]), tmp_path / "one.json")
    assert main(["baseline", "update", "--from", str(one_row), "--to", str(base)]) == EXIT_REGRESSION
    one_line_error(capsys, "regresses against the baseline", "b/d result missing", "--accept")
    worse = [dict(r, metrics=dict(r["metrics"], psnr_y=29.0)) for r in rows]
    worse_path = write_record(record(worse), tmp_path / "worse.json")
    assert main(["baseline", "update", "--from", str(worse_path), "--to", str(base)]) == EXIT_REGRESSION
    assert base.read_bytes() == before
    other = write_record(record(rows, suite="official"), tmp_path / "other.json")
    assert main(["baseline", "update", "--from", str(other), "--to", str(base)]) == EXIT_USAGE
    one_line_error(capsys, "suite 'official' differ")
    more = write_record(record(rows + [dict(rows[0], model="c")]), tmp_path / "more.json")
    assert main(["baseline", "update", "--from", str(more), "--to", str(base)]) == EXIT_USAGE
    one_line_error(capsys, "--allow-new-rows")
    assert base.read_bytes() == before
    assert main(["baseline", "update", "--from", str(worse_path), "--to", str(base), "--accept", "retrained"]) == 0
    accepted = load_record(base)["accepted"][0]
    assert accepted["reason"] == "retrained" and any("psnr_y regressed" in f for f in accepted["failing"])


def test_a_metric_missing_on_one_side_fails_compare(tmp_path, capsys):
    base = write_record(record(), tmp_path / "base.json")
    rows = [{"model": "m", "arch": "m", "dataset": "d",
             "metrics": {"psnr_y": 30.0, "psnr_rgb": 28.0, "ssim_y": 0.9, "ssim_rgb": 0.8}}]
    run = write_record(record(rows), tmp_path / "run.json")
    assert main(["compare", str(run), "--baseline", str(base), "--base", "none"]) == EXIT_REGRESSION
    assert "ssim_rgb" in capsys.readouterr().out


@pytest.fixture()
def existing(tmp_path):
    rec = write_record(record(), tmp_path / "run.json")
    ckpt = tmp_path / "model.pth"
    torch.save({"w": torch.zeros(1)}, ckpt)
    return rec, ckpt


@pytest.mark.parametrize("argv, message", [
    (lambda r, c, t: ["report", str(r), "-o", str(r)], "holds a record file, not a report"),
    (lambda r, c, t: ["report", str(r), "-o", str(c)], "holds a checkpoint file, not a report"),
    (lambda r, c, t: ["report", str(t / "x.json"), "-o", str(r)], "holds a record file, not a report"),
    (lambda r, c, t: ["report", str(r), "-o", "/dev/null"], "not a regular file"),
    (lambda r, c, t: ["report", str(r), "-o", str(t)], "is a directory"),
    (lambda r, c, t: ["report", str(r), "-o", str(r / "x.html")], "which is a file, not a folder"),
    (lambda r, c, t: ["eval", "--models", "bicubic", "--data", str(t), "--out", str(t / "n.json"),
                      "--report", str(r)], "holds a record file, not a report"),
    (lambda r, c, t: ["eval", "--models", "bicubic", "--data", str(t), "--out", str(t / "n.json"),
                      "--report", str(t / "n.json")], "given to both --out and --report"),
    (lambda r, c, t: ["eval", "--models", "bicubic", "--data", str(t), "--out", "/dev/null", "--force"],
     "not a regular file"),
    (lambda r, c, t: ["eval", "--models", "bicubic", "--data", str(t), "--out", str(c), "--force"],
     "holds a checkpoint file, not a record"),
    (lambda r, c, t: ["eval", "--models", "bicubic", "--data", str(t), "--out", str(r)], "refusing to overwrite"),
    (lambda r, c, t: ["fuse", str(c), "-o", str(r)], "holds a record file, not a checkpoint"),
    (lambda r, c, t: ["eval", "--models", "bicubic", "--data", str(t), "--out", str(t / "n.json"),
                      "--device", "cuda"] if not torch.cuda.is_available() else None, "sees no CUDA device"),
])
def test_outputs_never_replace_another_kind_of_file(existing, tmp_path, capsys, argv, message):
    rec, ckpt = existing
    args = argv(rec, ckpt, tmp_path)
    if args is None:
        pytest.skip("a CUDA device is present")
    before = snapshot(tmp_path)
    assert main(args) == EXIT_USAGE
    one_line_error(capsys, message)
    assert snapshot(tmp_path) == before
    assert pathlib.Path("/dev/null").is_char_device()


def test_a_writer_that_lost_a_race_keeps_its_result_aside(tmp_path):
    from sr_harness.outputs import Destination, OutputError

    dest = Destination(tmp_path / "r.json", "record").check()
    (tmp_path / "r.json").write_text("the other writer's record")
    with pytest.raises(OutputError, match="written by someone else"):
        dest.write_text("mine")
    assert (tmp_path / "r.json").read_text() == "the other writer's record"
    assert [p.read_text() for p in tmp_path.glob("r.conflict-*.json")] == ["mine"]


def test_files_get_the_umask_mode_and_stale_temps_are_cleaned(tmp_path):
    from sr_harness.outputs import Destination

    stale = tmp_path / ".r.json.999999999.abc.tmp"  # a writer killed with -9 (no such pid)
    stale.write_text("partial")
    old = os.umask(0o022)
    try:
        path = Destination(tmp_path / "r.json", "record").write_text("{}")
    finally:
        os.umask(old)
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert not stale.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_fuse_writes_through_the_checked_writer(tmp_path, capsys):
    """fuse -o gets the umask's mode, never replaces a file without --force, and a file written meanwhile is kept."""
    from sr_harness.outputs import Destination, OutputError

    unfused = tmp_path / "unfused.pth"
    models.save_model(models.build_model("slimrlfn_unfused_x4"), unfused)
    out = tmp_path / "fused.pth"
    old = os.umask(0o022)
    try:
        assert main(["fuse", str(unfused), "-o", str(out)]) == 0
    finally:
        os.umask(old)
    assert oct(out.stat().st_mode & 0o777) == "0o644"
    assert models.load_model(out)[0].model_name == "slimrlfn_x4"
    before = out.read_bytes()
    assert main(["fuse", str(unfused), "-o", str(out)]) == EXIT_USAGE
    one_line_error(capsys, "refusing to overwrite")
    assert out.read_bytes() == before

    raced = tmp_path / "raced.pth"
    dest = Destination(raced, "checkpoint").check()
    raced.write_bytes(b"the other writer's file")
    with pytest.raises(OutputError, match="written by someone else"):
        models.save_model(models.build_model("slimrlfn_x4"), dest)
    assert raced.read_bytes() == b"the other writer's file"


def png_header(path, width, height) -> pathlib.Path:
    """A tiny PNG file whose header claims a huge image (the pixels are never decoded)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("side", [10_000, 15_000])  # 100 MP (over --max-pixels) and 225 MP (a Pillow bomb)
def test_huge_image_headers_are_refused_before_decoding(tmp_path, capsys, side):
    folder = tmp_path / "data"
    folder.mkdir()
    png_header(folder / "huge.png", side, side)
    assert main(["eval", "--models", "bicubic", "--data", str(folder), "--out", str(tmp_path / "r.json")]) == 2
    one_line_error(capsys, "huge.png", "over the limit", "--max-pixels")


def test_a_checkpoint_config_asking_for_huge_widths_is_refused_without_allocating(tmp_path, capsys):
    model = models.build_model("rlfn_s_x4")
    path = tmp_path / "wide.pth"
    models.save_model(model, path)
    payload = torch.load(path, weights_only=True)
    payload["build_overrides"]["channels"] = 40000  # ~60 GB if built
    torch.save(payload, path)
    assert main(["eval", "--models", str(path), "--data", str(tmp_path), "--out", str(tmp_path / "r.json")]) == 2
    one_line_error(capsys, "wide.pth", "does not fit")


@pytest.mark.parametrize("field, value", [("build_overrides", [1, 2]), ("extra", "text"),
                                          ("build_overrides", {"channels": "many"}),
                                          ("build_overrides", {"channels": -5})])
def test_malformed_checkpoint_settings_are_one_line(tmp_path, capsys, field, value):
    path = tmp_path / "bad.pth"
    models.save_model(models.build_model("rlfn_s_x4"), path)
    payload = torch.load(path, weights_only=True)
    payload[field] = value
    torch.save(payload, path)
    assert main(["eval", "--models", str(path), "--data", str(tmp_path), "--out", str(tmp_path / "r.json")]) == 2
    one_line_error(capsys, "bad.pth")


def test_dollar_names_render_in_the_report(tmp_path, images, capsys):
    out, html = tmp_path / "r.json", tmp_path / "r.html"
    assert main(["eval", "--models", "bicubic", "--name", "$\\frac{$", "--data", str(images), "--out", str(out),
                 "--report", str(html), *FAST]) == 0
    assert "\\frac{" in html.read_text()


def test_interrupt_unexpected_error_and_debug(capsys):
    def interrupted(_):
        raise KeyboardInterrupt

    def broken(_):
        raise ZeroDivisionError("division by zero")

    assert run_command(interrupted, None) == EXIT_INTERRUPTED
    assert capsys.readouterr().err.strip().startswith("interrupted")
    assert run_command(broken, None) == EXIT_INTERNAL
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "rerun with --debug" in err and "ZeroDivisionError" in err
    with pytest.raises(ZeroDivisionError):
        run_command(broken, None, debug=True)


def test_damaged_records_in_compare_are_one_line(tmp_path, capsys):
    good = write_record(record(), tmp_path / "good.json")
    for text in ("[1, 2]", '{"kind": "sr-harness-run", "schema_version": 2, "results": 5}', "[" * 100000):
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        assert main(["compare", str(bad), "--baseline", str(good)]) == EXIT_USAGE
        one_line_error(capsys, "bad.json")
