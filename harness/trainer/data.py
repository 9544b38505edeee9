"""Training data: random LR/HR patch pairs with flips and 90-degree rotations, sharded by DistributedSampler.

Every patch is a pure function of (seed, epoch, index), so a resumed or multi-process run draws exactly the
patches an uninterrupted single run draws, whatever the number of DataLoader workers.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from sr_harness import HarnessError
from sr_harness.run.data import DataError, EmbeddedDataset, open_dataset

from .folders import evaluation_hashes, load_folder_pairs, manifest_hash, pixel_hash

MAX_CROP_TRIES = 10
MIN_LR_SIDE = 15  # the networks' smallest input (ESA's strided conv and 7 x 7 pool)


class TrainDataError(HarnessError, ValueError):
    """Training data that cannot be used; one line naming the source and the fix."""


def load_pairs(spec: str, *, scale: int, purpose: str = "training") -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """(name, LR uint8 3xhxw, HR uint8 3xHxW) for every image; the embedded evaluation images are refused."""
    try:
        dataset = open_dataset(spec, scale=scale)
        if isinstance(dataset, EmbeddedDataset) and dataset.split == "eval":  # whatever spelling chose it
            raise TrainDataError(f"{spec}: the embedded evaluation images are never used for {purpose}; "
                                 "use 'embedded:train' or a folder")
        pairs = [(p.name, _chw(p.lr), _chw(p.hr)) for p in dataset]
    except DataError as exc:
        raise TrainDataError(str(exc)) from None
    if not pairs:
        raise TrainDataError(f"{spec}: no images found for {purpose}; put PNG/JPEG HR images in it")
    return pairs


def load_training_data(spec: str, *, scale: int, exclude_specs: list[str]) -> tuple[list, dict]:
    """Training pairs and their manifest: ``embedded:train`` or comma-separated folders of HR photographs."""
    if spec.startswith("embedded"):
        pairs = load_pairs(spec, scale=scale)
        entries = [{"name": n, "sha256": pixel_hash(hr.permute(1, 2, 0).numpy())} for n, _, hr in pairs]
        return pairs, {"spec": spec, "n_files": len(entries), "hash": manifest_hash(entries), "files": entries}
    try:
        exclude = evaluation_hashes(exclude_specs, scale=scale, error=TrainDataError)
        pairs, manifest = load_folder_pairs(spec, scale=scale, exclude=exclude, error=TrainDataError)
    except DataError as exc:
        raise TrainDataError(str(exc)) from None
    if not pairs:
        raise TrainDataError(f"{spec}: no usable images for training; put PNG/JPEG HR images in it")
    return [(n, _chw(lr), _chw(hr)) for n, lr, hr in pairs], manifest


def _chw(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).contiguous()


class PatchDataset(torch.utils.data.Dataset):
    """``patches_per_image`` random crops of each image per epoch; items are keyed by (epoch, index)."""

    def __init__(self, pairs, *, hr_patch: int, scale: int, seed: int, patches_per_image: int, source: str = "",
                 min_patch_std: float = 0.0):
        if hr_patch % scale:
            raise TrainDataError(f"hr_patch {hr_patch} is not a multiple of the scale {scale}")
        self.lr_patch, self.scale, self.seed = hr_patch // scale, scale, seed
        self.min_patch_std = min_patch_std
        # Images smaller than one patch cannot give one: skipped by rule (listed), an error only if none is left.
        self.pairs = [p for p in pairs if min(p[1].shape[1:]) >= self.lr_patch]
        self.skipped = [name for name, lr, _ in pairs if min(lr.shape[1:]) < self.lr_patch]
        if not self.pairs:
            name, lr, _ = pairs[0]
            h, w = lr.shape[1:]
            raise TrainDataError(f"{source or name}: image {name!r} is {w}x{h} LR pixels, smaller than the "
                                 f"{self.lr_patch}x{self.lr_patch} LR patch (hr_patch {hr_patch}); "
                                 "lower hr_patch or add larger images")
        self.length = len(self.pairs) * patches_per_image

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        epoch, index = key
        rng = np.random.default_rng([self.seed, epoch, index])
        _, lr, hr = self.pairs[index % len(self.pairs)]
        p, s = self.lr_patch, self.scale
        for _ in range(MAX_CROP_TRIES):  # skip near-flat crops (black sky, retina background) when asked
            top = int(rng.integers(0, lr.shape[1] - p + 1))
            left = int(rng.integers(0, lr.shape[2] - p + 1))
            if not self.min_patch_std or lr[:, top:top + p, left:left + p].float().std() >= self.min_patch_std:
                break
        lr = lr[:, top:top + p, left:left + p]
        hr = hr[:, top * s:(top + p) * s, left * s:(left + p) * s]
        flip_h, flip_v, rot = rng.integers(0, 2, size=3)
        if flip_h:
            lr, hr = lr.flip(2), hr.flip(2)
        if flip_v:
            lr, hr = lr.flip(1), hr.flip(1)
        if rot:
            lr, hr = lr.transpose(1, 2), hr.transpose(1, 2)
        return lr, hr  # uint8; the loop converts whole batches (cheaper than per patch)


class EpochKeys(Sampler):
    """The indices of a DistributedSampler for one epoch as (epoch, index) keys, from batch ``skip_batches`` on."""

    def __init__(self, sampler: DistributedSampler, epoch: int, batch_size: int, skip_batches: int = 0):
        sampler.set_epoch(epoch)
        self.keys = [(epoch, i) for i in list(sampler)[skip_batches * batch_size:]]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self.keys)

    def __len__(self) -> int:
        return len(self.keys)


class PatchStream:
    """Endless batches for a stage: epoch after epoch, resumable at any global step."""

    def __init__(self, dataset: PatchDataset, *, global_batch: int, world_size: int = 1, rank: int = 0,
                 num_workers: int = 0, seed: int = 0):
        if global_batch % world_size:
            raise TrainDataError(f"batch_size {global_batch} does not split evenly over {world_size} processes")
        self.dataset, self.local_batch = dataset, global_batch // world_size
        self.steps_per_epoch = len(dataset) // global_batch
        if self.steps_per_epoch == 0:
            raise TrainDataError(f"an epoch has {len(dataset)} patches, fewer than one batch of {global_batch}; "
                                 "raise data.patches_per_image or lower batch_size")
        self.sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed,
                                          drop_last=True)
        self.num_workers = num_workers

    def batches(self, start_step: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        epoch, skip = divmod(start_step, self.steps_per_epoch)
        while True:
            keys = EpochKeys(self.sampler, epoch, self.local_batch, skip)
            loader = DataLoader(self.dataset, batch_size=self.local_batch, sampler=keys, drop_last=True,
                                num_workers=self.num_workers, persistent_workers=False)
            for n, batch in enumerate(loader, start=1):
                yield batch
                if n + skip >= self.steps_per_epoch:
                    break
            epoch, skip = epoch + 1, 0


def validation_images(spec: str, *, scale: int, hr_crop: int) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """Fixed validation pairs: a centre crop (HR side ``hr_crop``, 0 = whole) of each image."""
    if spec.startswith("embedded"):
        pairs = load_pairs(spec, scale=scale, purpose="validation")
    else:
        try:
            found, _ = load_folder_pairs(spec, scale=scale, exclude={}, error=TrainDataError)
        except DataError as exc:
            raise TrainDataError(str(exc)) from None
        pairs = [(n, _chw(lr), _chw(hr)) for n, lr, hr in found]
    pairs = [p for p in pairs if min(p[1].shape[1:]) >= MIN_LR_SIDE]  # too small for the networks: skipped
    if not pairs:
        raise TrainDataError(f"{spec}: no validation image has {MIN_LR_SIDE}+ LR pixels a side; use larger images")
    if hr_crop <= 0:
        return pairs
    out, p = [], hr_crop // scale
    for name, lr, hr in pairs:
        top, left = max(0, (lr.shape[1] - p) // 2), max(0, (lr.shape[2] - p) // 2)
        out.append((name, lr[:, top:top + p, left:left + p],
                    hr[:, top * scale:(top + p) * scale, left * scale:(left + p) * scale]))
    return out
