"""Training photographs from folders: HR images only, LR made once per run by the MATLAB-exact bicubic.

A spec is one folder or several joined by commas (``$VARS`` expand, e.g. ``$SR_SHARED_DIR/datasets/train/T91``);
each is scanned recursively for PNG/BMP/JPEG/TIFF/WebP files (a folder with an ``HR/`` subfolder: that one only).
Rules, stated in every training record through the manifest:

- greyscale images become three equal channels (harness.data.read_rgb); 16-bit and translucent images are errors;
- HR is mod-cropped to the scale; images whose shorter side is below the run's HR patch are skipped by
  ``PatchDataset`` and listed as skipped (too small to give a patch);
- the manifest lists every file (relative name, size, sha256 of its bytes) and its hash identifies the data;
- an image whose pixels equal an evaluation image (the embedded evaluation split, the validation split, or any
  ``exclude`` folder) is an error: training on what is evaluated would make the numbers meaningless.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from sr_harness.run.data import IMAGE_EXTENSIONS, EmbeddedDataset, read_rgb
from sr_harness.protocols.imresize import bicubic_downscale
from sr_harness.protocols.quality import modcrop
from sr_harness.models.checkpoints import sha256_file


def folder_list(spec: str) -> list[Path]:
    return [Path(os.path.expandvars(part.strip())).expanduser() for part in spec.split(",") if part.strip()]


def image_files(folder: Path) -> list[Path]:
    root = folder / "HR" if (folder / "HR").is_dir() else folder
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def pixel_hash(img: np.ndarray) -> str:
    """Content hash of decoded pixels: the same picture saved as PNG or BMP has the same hash."""
    digest = hashlib.sha256(f"{img.shape}".encode())
    digest.update(np.ascontiguousarray(img).tobytes())
    return digest.hexdigest()


def manifest_hash(entries: list[dict]) -> str:
    return hashlib.sha256(json.dumps(entries, sort_keys=True).encode()).hexdigest()


def read_folders(spec: str, *, error) -> list[tuple[str, Path, np.ndarray]]:
    """(name, path, uint8 RGB) of every image of the spec's folders; ``error`` builds the exception to raise."""
    images = []
    for folder in folder_list(spec):
        if not folder.is_dir():
            hint = " (set SR_SHARED_DIR)" if "$" in str(folder) else ""
            raise error(f"{folder}: training folder not found{hint}; give existing folders, comma-separated")
        files = image_files(folder)
        if not files:
            raise error(f"{folder}: no images ({', '.join(IMAGE_EXTENSIONS)}) found; put HR photographs in it")
        for path in files:
            images.append((f"{folder.name}/{path.relative_to(folder).as_posix()}", path, read_rgb(path)))
    return images


def evaluation_hashes(specs: list[str], *, scale: int, error) -> dict[str, str]:
    """Pixel hashes (of the mod-cropped HR) of the embedded evaluation images and of every folder in ``specs``."""
    hashes = {pixel_hash(pair.hr): f"embedded:eval/{pair.name}" for pair in EmbeddedDataset(split="eval",
                                                                                             scale=scale)}
    for spec in specs:
        if spec and not spec.startswith("embedded"):
            for name, _, img in read_folders(spec, error=error):
                hashes[pixel_hash(modcrop(img, scale))] = name
    return hashes


def load_folder_pairs(spec: str, *, scale: int, exclude: dict[str, str], error) -> tuple[list, dict]:
    """Training pairs (name, LR, HR as uint8 H x W x 3) and the data manifest."""
    pairs, entries = [], []
    for name, path, img in read_folders(spec, error=error):
        hr = modcrop(img, scale)
        clash = exclude.get(pixel_hash(hr))
        if clash is not None:
            raise error(f"{path}: this training image is the evaluation image {clash}; remove it from the "
                        "training folders (training on evaluated images makes the numbers meaningless)")
        entries.append({"name": name, "width": int(img.shape[1]), "height": int(img.shape[0]),
                        "sha256": sha256_file(path)})
        if min(hr.shape[:2]) >= scale * 4:  # an LR image needs a few pixels for the bicubic kernel
            pairs.append((name, bicubic_downscale(hr, scale), hr))
    manifest = {"spec": spec, "n_files": len(entries), "hash": manifest_hash(entries), "files": entries,
                "lr": "MATLAB-exact bicubic of the mod-cropped HR (harness protocols.imresize), made once per run",
                "rules": "greyscale -> 3 equal channels; images smaller than the HR patch are skipped"}
    return pairs, manifest
