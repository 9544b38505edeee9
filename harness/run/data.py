"""Evaluation data: paired HR/LR folders, the NTIRE layout, HR-only folders and the embedded default set.

Every dataset yields ``ImagePair``s in sorted-name order: uint8 H x W x 3 RGB arrays, HR mod-cropped to the
scale, LR of exactly HR / scale. Reading rules, the same everywhere:

- greyscale (and 1-bit) images are replicated into three equal RGB channels;
- an alpha channel that is fully opaque is dropped with a ``DataWarning``; a translucent one is refused
  (compositing onto a background would invent pixels);
- 16-bit images are refused (the protocol is 8-bit; Pillow would silently drop the low byte);
- an image whose header says it has more than ``max_pixels`` pixels (default ``DEFAULT_MAX_PIXELS``, the
  ``--max-pixels`` option) is refused before any pixel is decoded: a small file can describe a huge image;
- a missing partner, an LR whose size is not HR / scale, an unreadable or truncated file, or an empty folder
  raises ``DataError``: one line naming the file and the fix. Pairs and sizes are checked from the file
  headers when a folder dataset is opened, before any model runs.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from sr_harness.protocols.imresize import bicubic_downscale
from sr_harness.protocols.quality import modcrop

from sr_harness.config.build import EVAL_IMAGES, TRAIN_IMAGES  # noqa: F401  (part of this module's interface)
from sr_harness.run.headers import DataError  # noqa: F401  (part of this module's interface)
from sr_harness.run.headers import check_pixels as _check_pixels
from sr_harness.run.headers import header_size as _header_size
from sr_harness.run.headers import png_bit_depth as _png_bit_depth

IMAGE_EXTENSIONS = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")
NTIRE_PREFIXES = ("DIV2K_LSDIR", "LSDIR_DIV2K")  # both names the organizers gave the data folder
# 36 MP: a 2K/4K test image is 3-9 MP; metrics need ~40 bytes per pixel, so this bounds one image at ~1.5 GB.
DEFAULT_MAX_PIXELS = 36_000_000


class DataWarning(UserWarning):
    """Input was usable after a documented conversion (an opaque alpha channel dropped)."""


@dataclass(frozen=True)
class ImagePair:
    name: str
    lr: np.ndarray
    hr: np.ndarray
    lr_path: Path | None = None
    hr_path: Path | None = None


def read_rgb(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file as uint8 H x W x 3 RGB, applying the module's reading rules."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found; check the path")
    data = path.read_bytes()  # decoding from memory: a failed decode leaves no open file behind
    _check_pixels(path, _header_size(path, io.BytesIO(data)), max_pixels)
    if _png_bit_depth(data) == 16:
        raise DataError(f"{path}: 16-bit image; save it as 8 bits per channel (the protocol is 8-bit)")
    try:
        img = iio.imread(data, extension=path.suffix.lower())
    except Exception as exc:  # noqa: BLE001  (imageio/Pillow raise many types for corrupt files)
        reason = " ".join(str(exc).split())[:160]
        raise DataError(f"{path}: unreadable or truncated image ({reason}); re-export it as an 8-bit PNG") from None
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    if img.dtype != np.uint8:
        raise DataError(f"{path}: {img.dtype} pixels (16-bit or float image); save it as 8 bits per channel")
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or img.shape[2] not in (1, 2, 3, 4):
        raise DataError(f"{path}: unsupported image layout {img.shape}; save it as an RGB or greyscale PNG")
    if img.shape[2] in (2, 4):
        alpha = img[..., -1]
        if alpha.min() < 255:
            raise DataError(f"{path}: translucent alpha channel; flatten the image to RGB before evaluating")
        warnings.warn(f"{path}: opaque alpha channel dropped", DataWarning, stacklevel=2)
        img = img[..., :-1]
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return np.ascontiguousarray(img)


class Dataset:
    """Base: subclasses set ``name``, ``scale`` and implement ``names`` and ``_load``."""

    name: str
    scale: int
    names: list[str]
    max_pixels: int = DEFAULT_MAX_PIXELS

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[ImagePair]:
        for name in self.names:
            yield self._load(name)

    def _load(self, name: str) -> ImagePair:
        raise NotImplementedError

    def describe(self) -> dict:
        return {"name": self.name, "scale": self.scale, "n_images": len(self), "images": list(self.names)}


class PairedFolder(Dataset):
    """HR and LR folders matched by name: ``0801.png`` <-> ``0801x4.png`` or the same file name."""

    def __init__(self, hr_dir: str | Path, lr_dir: str | Path, *, scale: int, name: str | None = None,
                 max_pixels: int = DEFAULT_MAX_PIXELS):
        self.hr_dir, self.lr_dir, self.scale = Path(hr_dir), Path(lr_dir), _check_scale(scale)
        self.max_pixels = max_pixels
        self.name = name or self.hr_dir.name
        hr_files = _list_images(self.hr_dir)
        lr_by_stem = {p.stem: p for p in _list_images(self.lr_dir)}
        self._pairs: dict[str, tuple[Path, Path]] = {}
        used: set[str] = set()
        for hr in hr_files:
            stem = next((s for s in (f"{hr.stem}x{scale}", f"{hr.stem}_x{scale}", hr.stem) if s in lr_by_stem), None)
            if stem is None:
                raise DataError(
                    f"{hr}: no LR partner in {self.lr_dir} (looked for {hr.stem}x{scale}.* and {hr.stem}.*); "
                    "add it or remove the HR file"
                )
            used.add(stem)
            self._pairs[hr.name] = (hr, lr_by_stem[stem])
        for stem in sorted(set(lr_by_stem) - used):
            raise DataError(f"{lr_by_stem[stem]}: LR image without an HR partner in {self.hr_dir}; add it or remove it")
        self.names = sorted(self._pairs)
        for hr, lr in self._pairs.values():
            hr_size, lr_size = _header_size(hr), _header_size(lr)
            _check_pixels(hr, hr_size, max_pixels)
            _check_pair_size(hr_size, lr_size, scale, hr, lr)

    def _load(self, name: str) -> ImagePair:
        hr_path, lr_path = self._pairs[name]
        hr = modcrop(read_rgb(hr_path, max_pixels=self.max_pixels), self.scale)
        lr = read_rgb(lr_path, max_pixels=self.max_pixels)
        _check_pair_size(hr.shape[1::-1], lr.shape[1::-1], self.scale, hr_path, lr_path)
        return ImagePair(name=Path(name).stem, lr=lr, hr=hr, lr_path=lr_path, hr_path=hr_path)

    def describe(self) -> dict:
        return super().describe() | {"kind": "paired", "hr_dir": str(self.hr_dir), "lr_dir": str(self.lr_dir),
                                     "lr_source": "files"}


class HROnlyFolder(Dataset):
    """HR images only; LR made by MATLAB-exact bicubic from the mod-cropped HR, cached in memory."""

    def __init__(self, hr_dir: str | Path, *, scale: int, name: str | None = None,
                 max_pixels: int = DEFAULT_MAX_PIXELS):
        self.hr_dir, self.scale, self.max_pixels = Path(hr_dir), _check_scale(scale), max_pixels
        self.name = name or self.hr_dir.name
        self._paths = {p.name: p for p in _list_images(self.hr_dir)}
        self.names = sorted(self._paths)
        for path in self._paths.values():
            w, h = _header_size(path)
            _check_pixels(path, (w, h), max_pixels)
            if min(w, h) < scale:
                raise DataError(f"{path}: {w} x {h} image is smaller than the scale {scale}; remove it")
        self._lr_cache: dict[str, np.ndarray] = {}

    def _load(self, name: str) -> ImagePair:
        path = self._paths[name]
        hr = modcrop(read_rgb(path, max_pixels=self.max_pixels), self.scale)
        if name not in self._lr_cache:
            self._lr_cache[name] = bicubic_downscale(hr, self.scale)
        return ImagePair(name=Path(name).stem, lr=self._lr_cache[name], hr=hr, lr_path=None, hr_path=path)

    def describe(self) -> dict:
        return super().describe() | {"kind": "hr_only", "hr_dir": str(self.hr_dir), "lr_source": "matlab_bicubic"}


class EmbeddedDataset(Dataset):
    """scikit-image's bundled sample photos (offline); LR by MATLAB-exact bicubic."""

    def __init__(self, *, split: str = "eval", scale: int = 4):
        if split not in ("eval", "train"):
            raise DataError(f"embedded split {split!r} is unknown; use 'eval' or 'train'")
        self.split, self.scale = split, _check_scale(scale)
        self.name = f"embedded-{split}"
        self.names = sorted(EVAL_IMAGES if split == "eval" else TRAIN_IMAGES)
        self._cache: dict[str, ImagePair] = {}

    def _load(self, name: str) -> ImagePair:
        if name not in self._cache:
            hr = modcrop(_skimage_sample(name), self.scale)
            self._cache[name] = ImagePair(name=name, lr=bicubic_downscale(hr, self.scale), hr=hr)
        return self._cache[name]

    def describe(self) -> dict:
        return super().describe() | {"kind": "embedded", "split": self.split, "source": "skimage.data",
                                     "lr_source": "matlab_bicubic"}


def embedded_dataset(*, split: str = "eval", scale: int = 4) -> EmbeddedDataset:
    return EmbeddedDataset(split=split, scale=scale)


def ntire_dataset(root: str | Path, *, split: str = "valid", scale: int = 4,
                  max_pixels: int = DEFAULT_MAX_PIXELS) -> PairedFolder:
    """``<root>/DIV2K_LSDIR_<split>_HR`` + ``_LR`` (or the pre-rename ``LSDIR_DIV2K_`` names)."""
    root = Path(root)
    for prefix in NTIRE_PREFIXES:
        hr_dir, lr_dir = root / f"{prefix}_{split}_HR", root / f"{prefix}_{split}_LR"
        if hr_dir.is_dir():
            if not lr_dir.is_dir():
                raise DataError(f"{lr_dir}: LR folder missing next to {hr_dir.name}; download DIV2K_LSDIR_{split}_LR")
            return PairedFolder(hr_dir, lr_dir, scale=scale, name=f"{prefix}_{split}", max_pixels=max_pixels)
    raise DataError(f"{root}: no {NTIRE_PREFIXES[0]}_{split}_HR folder; point to the folder that contains it")


def open_dataset(spec: str, *, scale: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> Dataset:
    """``embedded`` / ``embedded:eval`` / ``embedded:train``, or a folder, auto-detected in this order:

    an ``*_HR`` folder with an ``*_LR`` sibling; a root holding an NTIRE ``DIV2K_LSDIR_valid_HR``/``_LR`` pair;
    a Set5-style root with ``HR/`` and ``LR_bicubic_X<scale>/`` (or ``LR_bicubic/X<scale>/``, ``LR/``);
    a root with ``HR/`` only; a plain folder of HR images (LR made by MATLAB bicubic).
    """
    if spec == "embedded" or spec.startswith("embedded:"):
        return embedded_dataset(split=spec.partition(":")[2] or "eval", scale=scale)
    root = Path(spec)
    if not root.is_dir():
        raise DataError(f"{root}: dataset folder not found; give a folder path or 'embedded'")
    if root.name.endswith("_HR") and (root.parent / (root.name[:-3] + "_LR")).is_dir():
        return PairedFolder(root, root.parent / (root.name[:-3] + "_LR"), scale=scale, name=root.name[:-3],
                            max_pixels=max_pixels)
    if any((root / f"{p}_valid_HR").is_dir() for p in NTIRE_PREFIXES):
        return ntire_dataset(root, split="valid", scale=scale, max_pixels=max_pixels)
    if (root / "HR").is_dir():
        for lr_dir in (root / f"LR_bicubic_X{scale}", root / "LR_bicubic" / f"X{scale}", root / "LR"):
            if lr_dir.is_dir():
                return PairedFolder(root / "HR", lr_dir, scale=scale, name=root.name, max_pixels=max_pixels)
        return HROnlyFolder(root / "HR", scale=scale, name=root.name, max_pixels=max_pixels)
    return HROnlyFolder(root, scale=scale, max_pixels=max_pixels)


def _skimage_sample(name: str) -> np.ndarray:
    import skimage.data

    img = getattr(skimage.data, name)()
    if name == "stereo_motorcycle":
        img = img[0]  # (left, right, disparity): the left view
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., :3].astype(np.uint8))


def _check_scale(scale: int) -> int:
    if not isinstance(scale, int) or scale < 1:
        raise DataError(f"scale must be a positive integer, got {scale!r}")
    return scale


def _list_images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise DataError(f"{folder}: folder not found; check the dataset path")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    odd = next((p for p in files if not p.is_file()), None)  # a folder, a device, a broken or looping link
    if odd is not None:
        raise DataError(f"{odd}: has an image's name but is not a regular file; remove it or point to another folder")
    if not files:
        raise DataError(f"{folder}: no images ({', '.join(IMAGE_EXTENSIONS)}) found; point to a folder of images")
    return files


def _check_pair_size(hr_wh, lr_wh, scale: int, hr_path: Path, lr_path: Path) -> None:
    """HR mod-cropped to the scale must be exactly scale x LR (the official shape check)."""
    hr_w, hr_h = hr_wh[0] - hr_wh[0] % scale, hr_wh[1] - hr_wh[1] % scale
    if (hr_w, hr_h) != (lr_wh[0] * scale, lr_wh[1] * scale):
        raise DataError(
            f"{lr_path}: LR is {lr_wh[0]} x {lr_wh[1]} but HR {hr_path.name} is {hr_wh[0]} x {hr_wh[1]}, "
            f"not {scale} x LR; check the scale or regenerate the LR"
        )
