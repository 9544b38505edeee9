"""Dataset layouts, the embedded split, and one-line errors for bad input."""

import struct
import zlib

import imageio.v3 as iio
import numpy as np
import pytest

from sr_harness.run.data import (
    EVAL_IMAGES,
    TRAIN_IMAGES,
    DataError,
    DataWarning,
    HROnlyFolder,
    PairedFolder,
    embedded_dataset,
    ntire_dataset,
    open_dataset,
    read_rgb,
)
from sr_harness.protocols.imresize import bicubic_downscale


def _img(seed, hw=(32, 32)):
    return np.random.default_rng(seed).integers(0, 256, (*hw, 3), dtype=np.uint8)


def _write_pair(hr_dir, lr_dir, stem, *, lr_name=None, hw=(32, 32), scale=4, seed=0):
    hr_dir.mkdir(parents=True, exist_ok=True)
    lr_dir.mkdir(parents=True, exist_ok=True)
    hr = _img(seed, hw)
    iio.imwrite(hr_dir / f"{stem}.png", hr)
    crop = hr[: hw[0] - hw[0] % scale, : hw[1] - hw[1] % scale]
    iio.imwrite(lr_dir / (lr_name or f"{stem}x{scale}.png"), bicubic_downscale(crop, scale))
    return hr


def _write_png16(path, img):
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[i].astype(">u2").tobytes() for i in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _one_line(excinfo, name):
    message = str(excinfo.value)
    assert "\n" not in message and name in message, message
    return message


def test_paired_folder_x4_suffix_and_same_name(tmp_path):
    hr1 = _write_pair(tmp_path / "HR", tmp_path / "LR", "0802", hw=(34, 30), seed=1)
    _write_pair(tmp_path / "HR", tmp_path / "LR", "0801", lr_name="0801.png", seed=2)
    ds = PairedFolder(tmp_path / "HR", tmp_path / "LR", scale=4)
    pairs = list(ds)
    assert [p.name for p in pairs] == ["0801", "0802"] and len(ds) == 2
    assert pairs[1].hr.shape == (32, 28, 3) and pairs[1].lr.shape == (8, 7, 3)
    assert (pairs[1].hr == hr1[:32, :28]).all()  # mod-cropped bottom/right
    assert pairs[1].lr_path.name == "0802x4.png" and pairs[0].lr_path.name == "0801.png"
    assert ds.describe()["kind"] == "paired" and ds.describe()["n_images"] == 2


def test_ntire_layout_is_detected_and_paths_are_not_string_replaced(tmp_path):
    root = tmp_path / "runs_HR.png_data"  # '_HR' and '.png' in the root would break the official replace
    for stem in ("0801", "0000001"):
        _write_pair(root / "DIV2K_LSDIR_valid_HR", root / "DIV2K_LSDIR_valid_LR", stem)
    ds = open_dataset(str(root), scale=4)
    assert ds.name == "DIV2K_LSDIR_valid" and [p.name for p in ds] == ["0000001", "0801"]
    assert all(p.lr_path.parent.name == "DIV2K_LSDIR_valid_LR" for p in ds)
    assert len(ntire_dataset(root, split="valid")) == 2
    assert len(open_dataset(str(root / "DIV2K_LSDIR_valid_HR"), scale=4)) == 2
    with pytest.raises(DataError):
        ntire_dataset(root, split="test")


def test_set5_style_hr_only_and_plain_folder(tmp_path):
    _write_pair(tmp_path / "Set" / "HR", tmp_path / "Set" / "LR_bicubic_X4", "bird", lr_name="bird.png")
    assert isinstance(open_dataset(str(tmp_path / "Set"), scale=4), PairedFolder)
    iio.imwrite((tmp_path / "Only" / "HR").mkdir(parents=True) or tmp_path / "Only" / "HR" / "a.png", _img(3, (30, 29)))
    only = open_dataset(str(tmp_path / "Only"), scale=4)
    assert isinstance(only, HROnlyFolder) and only.describe()["lr_source"] == "matlab_bicubic"
    pair = next(iter(only))
    assert pair.hr.shape == (28, 28, 3) and (pair.lr == bicubic_downscale(pair.hr, 4)).all() and pair.lr_path is None
    plain = open_dataset(str(tmp_path / "Only" / "HR"), scale=2)
    assert next(iter(plain)).lr.shape == (15, 14, 3)


def test_embedded_split_is_fixed_and_disjoint():
    assert not set(EVAL_IMAGES) & set(TRAIN_IMAGES) and "cat" not in EVAL_IMAGES + TRAIN_IMAGES
    ds = embedded_dataset(split="eval", scale=4)
    assert ds.names == sorted(EVAL_IMAGES) and open_dataset("embedded", scale=4).names == ds.names
    assert open_dataset("embedded:train", scale=4).names == sorted(TRAIN_IMAGES)
    for pair in ds:
        assert pair.hr.dtype == np.uint8 and pair.hr.shape[0] % 4 == 0 and pair.hr.shape[1] % 4 == 0
        assert pair.lr.shape == (pair.hr.shape[0] // 4, pair.hr.shape[1] // 4, 3)
    with pytest.raises(DataError):
        embedded_dataset(split="test")


def test_missing_partner_is_named(tmp_path):
    _write_pair(tmp_path / "HR", tmp_path / "LR", "0801")
    iio.imwrite(tmp_path / "HR" / "0802.png", _img(1))
    with pytest.raises(DataError) as excinfo:
        PairedFolder(tmp_path / "HR", tmp_path / "LR", scale=4)
    _one_line(excinfo, "0802.png")
    (tmp_path / "HR" / "0802.png").unlink()
    iio.imwrite(tmp_path / "LR" / "0803x4.png", _img(1, (8, 8)))
    with pytest.raises(DataError) as excinfo:
        PairedFolder(tmp_path / "HR", tmp_path / "LR", scale=4)
    _one_line(excinfo, "0803x4.png")


def test_sizes_inconsistent_with_scale(tmp_path):
    _write_pair(tmp_path / "HR", tmp_path / "LR", "0801", scale=2)  # LR is HR/2, not HR/4
    with pytest.raises(DataError) as excinfo:
        PairedFolder(tmp_path / "HR", tmp_path / "LR", scale=4)
    assert "0801x2.png" not in str(excinfo.value)  # pairing by x4 fails first: no partner
    (tmp_path / "LR" / "0801x2.png").rename(tmp_path / "LR" / "0801x4.png")
    with pytest.raises(DataError) as excinfo:
        PairedFolder(tmp_path / "HR", tmp_path / "LR", scale=4)
    assert "not 4 x LR" in _one_line(excinfo, "0801x4.png")


def test_unreadable_and_truncated_files(tmp_path):
    good = tmp_path / "good.png"
    iio.imwrite(good, _img(0, (64, 64)))
    (tmp_path / "junk.png").write_bytes(b"not an image")
    (tmp_path / "cut.png").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    for name in ("junk.png", "cut.png"):
        with pytest.raises(DataError) as excinfo:
            read_rgb(tmp_path / name)
        _one_line(excinfo, name)
    with pytest.raises(DataError) as excinfo:
        open_dataset(str(tmp_path), scale=4)
    _one_line(excinfo, "junk.png")


def test_alpha_rule(tmp_path):
    rgba = np.dstack([_img(0, (8, 8)), np.full((8, 8), 255, np.uint8)])
    iio.imwrite(tmp_path / "opaque.png", rgba)
    with pytest.warns(DataWarning, match="opaque.png"):
        img = read_rgb(tmp_path / "opaque.png")
    assert img.shape == (8, 8, 3) and (img == rgba[..., :3]).all()
    rgba[0, 0, 3] = 10
    iio.imwrite(tmp_path / "translucent.png", rgba)
    with pytest.raises(DataError) as excinfo:
        read_rgb(tmp_path / "translucent.png")
    _one_line(excinfo, "translucent.png")


def test_16_bit_is_refused(tmp_path):
    _write_png16(tmp_path / "rgb16.png", np.random.default_rng(0).integers(0, 65535, (8, 8, 3), dtype=np.uint16))
    iio.imwrite(tmp_path / "grey16.png", np.full((8, 8), 40000, np.uint16))
    for name in ("rgb16.png", "grey16.png"):
        with pytest.raises(DataError) as excinfo:
            read_rgb(tmp_path / name)
        assert "16-bit" in _one_line(excinfo, name)


def test_grey_is_replicated_to_rgb(tmp_path):
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8)
    iio.imwrite(tmp_path / "g.png", grey)
    img = read_rgb(tmp_path / "g.png")
    assert img.shape == (8, 8, 3) and all((img[..., c] == grey).all() for c in range(3))


def test_empty_and_missing_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError) as excinfo:
        open_dataset(str(tmp_path / "empty"), scale=4)
    _one_line(excinfo, "empty")
    with pytest.raises(DataError) as excinfo:
        open_dataset(str(tmp_path / "nowhere"), scale=4)
    _one_line(excinfo, "nowhere")


@pytest.mark.data
def test_shared_set5_folders(shared_dir):
    for folder, baby in (("Set5", (512, 512, 3)), ("Set5_GTmod12", (504, 504, 3))):
        ds = open_dataset(str(shared_dir / "datasets" / folder), scale=4)
        pairs = list(ds)
        assert [p.name for p in pairs] == ["baby", "bird", "butterfly", "head", "woman"]
        assert pairs[0].hr.shape == baby
        assert all(p.lr.shape[0] * 4 == p.hr.shape[0] and p.lr.shape[1] * 4 == p.hr.shape[1] for p in pairs)
