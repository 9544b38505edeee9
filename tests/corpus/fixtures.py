"""The corpus's shared inputs, written once into one folder (``{fix}``): a small image folder, a valid record, the
foreign model classes, one folder per odd image and one damaged file per checkpoint case."""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import zlib
from pathlib import Path

import cv2
import imageio.v3 as iio
import numpy as np
import torch

from foreign_nets import NETS


def _png_header(path: Path, width: int, height: int) -> None:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


def _images(fix: Path) -> None:
    rng = np.random.default_rng(0)
    good = np.clip(np.kron(rng.integers(0, 256, (16, 16, 3)), np.ones((4, 4, 1))) + rng.normal(0, 6, (64, 64, 3)),
                   0, 255).astype(np.uint8)
    (fix / "hr").mkdir()
    for i in range(2):
        iio.imwrite(fix / "hr" / f"im{i}.png", np.roll(good, 8 * i, axis=0))
    png = (fix / "hr" / "im0.png").read_bytes()
    jpeg = iio.imwrite("<bytes>", good, extension=".jpg")
    writers = {
        "empty.png": lambda p: p.write_bytes(b""), "truncated.png": lambda p: p.write_bytes(png[: len(png) // 2]),
        "text.png": lambda p: p.write_text("hello"), "one_pixel.png": lambda p: iio.imwrite(p, good[:1, :1]),
        "three_pixels.png": lambda p: iio.imwrite(p, good[:3, :3]), "gray.png": lambda p: iio.imwrite(p, good[..., 0]),
        "rgba.png": lambda p: iio.imwrite(p, np.dstack([good, good[..., :1]])),
        "sixteen_bit.png": lambda p: cv2.imwrite(str(p), good.astype(np.uint16) * 257),
        "bomb_header.png": lambda p: _png_header(p, 15000, 15000),
        "huge_header.png": lambda p: _png_header(p, 10000, 10000), "jpeg_named.png": lambda p: p.write_bytes(jpeg),
        "zero_link.png": lambda p: p.symlink_to("/dev/zero"), "loop_link.png": lambda p: p.symlink_to(p),
        "folder.png": lambda p: p.mkdir(), "odd_size.png": lambda p: iio.imwrite(p, good[:63, :61]),
        "nan.tiff": lambda p: iio.imwrite(p, np.full((64, 64, 3), np.nan, np.float32)),
        "two_frames.gif": lambda p: iio.imwrite(p, np.stack([good, good[::-1]]), extension=".gif"),
    }
    for name, write in writers.items():
        folder = fix / "img" / name
        folder.mkdir(parents=True)
        shutil.copy(fix / "hr" / "im0.png", folder / "good.png")
        write(folder / name)
    (fix / "img" / "none").mkdir()
    (fix / "img" / "none" / "notes.txt").write_text("no images here")


class _Evil:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _checkpoints(fix: Path, good_record: Path) -> None:
    from sr_harness import models  # noqa: PLC0415

    folder = fix / "ckpt"
    folder.mkdir()
    torch.manual_seed(0)
    good = folder / "good.pth"
    models.save_model(models.build_model("rlfn_s_x4"), good)
    payload = torch.load(good, weights_only=True)
    raw = good.read_bytes()
    state_key = next(k for k, v in payload.items() if isinstance(v, dict) and all(torch.is_tensor(t) for t in v.values()))
    state = payload[state_key]
    first = next(iter(state))

    def with_payload(**changes):
        buf = io.BytesIO()
        torch.save({**payload, **changes}, buf)
        return buf.getvalue()

    def with_state(edit):
        changed = dict(state)
        edit(changed)
        return with_payload(**{state_key: changed})

    def overrides(**values):
        return with_payload(build_overrides={**payload.get("build_overrides", {}), **values})

    buf = io.BytesIO()
    torch.save({state_key: _Evil(str(fix / "pwned"))}, buf)
    contents = {
        "truncated": raw[: len(raw) // 2], "not_a_zip": os.urandom(4096), "empty": b"", "pickled_object": buf.getvalue(),
        "wrong_keys": with_state(lambda s: s.__setitem__("renamed." + first, s.pop(first))),
        "nan_weights": with_state(lambda s: s.__setitem__(first, s[first] * float("nan"))),
        "int_weights": with_state(lambda s: s.__setitem__(first, s[first].long())),
        "wrong_shape": with_state(lambda s: s.__setitem__(first, s[first].flatten())),
        "negative_widths": overrides(channels=-5), "huge_widths": overrides(channels=40000),
        "overrides_list": with_payload(build_overrides=[1, 2]), "widths_text": overrides(channels="many"),
        "state_in_list": with_payload(**{state_key: [state]}), "a_record": good_record.read_bytes(),
    }
    for name, data in contents.items():
        (folder / f"{name}.pth").write_bytes(data)


def write_fixtures(fix: Path, baseline: Path) -> dict:
    """Write every shared input into ``fix``; returns the valid record the mutations start from."""
    fix.mkdir(parents=True, exist_ok=True)
    record = json.loads(baseline.read_text())
    (fix / "good.json").write_text(json.dumps(record))
    (fix / "nets.py").write_text(NETS)
    (fix / "exits_at_import.py").write_text("import sys\nsys.exit(0)\n")
    (fix / "raises_at_import.py").write_text("raise ImportError('needs a package this machine lacks')\n")
    _images(fix)
    _checkpoints(fix, fix / "good.json")
    return record
