"""PSNR-Y / PSNR-RGB / SSIM-Y against golden values and an independent computation."""

import math
import warnings

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from sr_harness.protocols.quality import (
    ReferenceCache,
    image_metrics,
    mean_metrics,
    modcrop,
    prepare_reference,
    psnr_from_mse,
    psnr_rgb,
    psnr_y,
    rgb_to_y,
    ssim_y,
    to_uint8,
)


def _random_pair(seed, shape=(48, 40, 3)):
    rng = np.random.default_rng(seed)
    hr = rng.integers(0, 256, shape, dtype=np.uint8)
    noise = rng.integers(-12, 13, shape)
    return np.clip(hr.astype(int) + noise, 0, 255).astype(np.uint8), hr


def _independent_y(img):
    r, g, b = (img[..., c].astype(np.float64) for c in range(3))
    return 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0


def test_white_and_black_y_are_235_and_16():
    white, black = np.full((4, 4, 3), 255, np.uint8), np.zeros((4, 4, 3), np.uint8)
    for rounded in (False, True):
        assert rgb_to_y(white, rounded=rounded) == pytest.approx(np.full((4, 4), 235.0), abs=1e-9)
        assert rgb_to_y(black, rounded=rounded) == pytest.approx(np.full((4, 4), 16.0), abs=1e-12)


def test_constant_offset_of_one_is_48_1308_db():
    hr = np.full((20, 20, 3), 100, np.uint8)
    assert psnr_rgb(hr + 1, hr, crop=0) == pytest.approx(48.1308, abs=5e-5)
    assert psnr_from_mse(1.0) == pytest.approx(20 * math.log10(255), abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("crop", [0, 4])
def test_metrics_agree_with_independent_computation(seed, crop):
    sr, hr = _random_pair(seed)
    h, w = hr.shape[:2]
    a, b = sr[crop : h - crop, crop : w - crop], hr[crop : h - crop, crop : w - crop]
    ya, yb = _independent_y(a), _independent_y(b)
    assert psnr_rgb(sr, hr, crop=crop) == pytest.approx(peak_signal_noise_ratio(b, a, data_range=255), abs=1e-10)
    assert psnr_y(sr, hr, crop=crop) == pytest.approx(peak_signal_noise_ratio(yb, ya, data_range=255), abs=1e-9)
    rounded = peak_signal_noise_ratio(np.floor(yb + 0.5), np.floor(ya + 0.5), data_range=255)
    assert psnr_y(sr, hr, crop=crop, rounded_y=True) == pytest.approx(rounded, abs=1e-9)
    expected_ssim = structural_similarity(
        yb, ya, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert ssim_y(sr, hr, crop=crop) == pytest.approx(expected_ssim, abs=1e-9)
    both = image_metrics(sr, hr, crop=crop, rounded_y=True)
    assert both == pytest.approx(
        {"psnr_y": psnr_y(sr, hr, crop=crop), "psnr_rgb": psnr_rgb(sr, hr, crop=crop),
         "ssim_y": ssim_y(sr, hr, crop=crop), "psnr_y_rounded": rounded}
    )


def test_large_errors_do_not_overflow():
    hr = np.zeros((1000, 1000, 3), np.uint8)
    assert psnr_rgb(hr + 255, hr, crop=0) == pytest.approx(0.0, abs=1e-12)


def test_crop_removes_the_border_on_every_side():
    hr = np.full((16, 16, 3), 50, np.uint8)
    sr = hr.copy()
    sr[:2], sr[-2:], sr[:, :2], sr[:, -2:] = 0, 0, 0, 0  # damage only a 2-px frame
    assert psnr_rgb(sr, hr, crop=2) == math.inf
    assert psnr_rgb(sr, hr, crop=0) < 30  # crop 0 keeps the frame (x[0:-0] would be empty)
    with pytest.raises(ValueError, match="crop"):
        psnr_rgb(sr, hr, crop=8)


def test_identical_images_give_inf_without_warnings():
    _, hr = _random_pair(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics = image_metrics(hr, hr.copy(), crop=4, rounded_y=True)
    assert metrics["psnr_y"] == metrics["psnr_rgb"] == metrics["psnr_y_rounded"] == math.inf
    assert metrics["ssim_y"] == pytest.approx(1.0)


def test_mean_metrics_is_mean_of_per_image_values_and_keeps_inf():
    rows = [{"name": "a", "psnr_y": 30.0, "ssim_y": 0.5}, {"name": "b", "psnr_y": 34.0, "ssim_y": 0.7}]
    assert mean_metrics(rows) == pytest.approx({"psnr_y": 32.0, "ssim_y": 0.6})
    rows.append({"name": "c", "psnr_y": math.inf, "ssim_y": 1.0})
    assert mean_metrics(rows)["psnr_y"] == math.inf
    with pytest.raises(ValueError):
        mean_metrics([])
    with pytest.raises(ValueError, match="missing"):
        mean_metrics([{"psnr_y": 1.0}, {"ssim_y": 1.0}])


def test_to_uint8_clamps_scales_and_rounds_half_to_even():
    out = torch.tensor([-3.0, 0.5, 1.5, 2.5, 254.5, 300.0]).reshape(1, 3, 1, 2)
    img = to_uint8(out)
    assert img.dtype == np.uint8 and img.shape == (1, 2, 3)
    assert img.transpose(2, 0, 1).ravel().tolist() == [0, 0, 2, 2, 254, 255]
    unit = to_uint8(torch.full((3, 2, 2), 0.5), data_range=1.0)
    assert (unit == 128).all()  # 127.5 rounds half to even
    with pytest.raises(ValueError):
        to_uint8(torch.zeros(2, 3, 4, 4))


def test_modcrop_crops_bottom_and_right():
    img = np.arange(10 * 7 * 3).reshape(10, 7, 3)
    cropped = modcrop(img, 4)
    assert cropped.shape == (8, 4, 3)
    assert (cropped == img[:8, :4]).all()


def test_grey_rule_replicated_channels_give_scaled_y():
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    y = rgb_to_y(np.repeat(grey[..., None], 3, axis=2))
    assert y == pytest.approx(16 + 219 / 255 * grey.astype(float), abs=1e-9)


def test_bad_arguments_are_refused():
    sr, hr = _random_pair(4)
    with pytest.raises(ValueError, match="shape"):
        psnr_y(sr[:-1], hr, crop=0)
    with pytest.raises(ValueError, match="uint8"):
        psnr_rgb(sr.astype(np.float32), hr, crop=0)


def _skimage_ssim_y(sr, hr, crop):
    h, w = hr.shape[:2]
    ya, yb = (rgb_to_y(img[crop : h - crop, crop : w - crop]) for img in (sr, hr))
    return structural_similarity(yb, ya, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)


# Shapes at the 11 x 11 minimum, just past it, not multiples of the 8/16 blocks, and crossing 64-row strips.
@pytest.mark.parametrize("shape", [(11, 11, 3), (12, 30, 3), (75, 19, 3), (64 + 10, 37, 3), (64 + 11, 40, 3),
                                   (203, 77, 3), (130, 150, 3)])
def test_ssim_y_matches_scikit_image_on_random_images(shape):
    rng = np.random.default_rng(sum(shape))
    hr = rng.integers(0, 256, shape, dtype=np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-40, 41, shape), 0, 255).astype(np.uint8)
    for a, b in ((sr, hr), (hr, sr), (rng.integers(0, 256, shape, dtype=np.uint8), hr)):
        assert ssim_y(a, b, crop=0) == pytest.approx(_skimage_ssim_y(a, b, 0), abs=1e-12)


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket"])
def test_all_metrics_match_scikit_image_on_real_images(name):
    import skimage.data

    hr = modcrop(getattr(skimage.data, name)(), 4)
    # A plausible SR: 4x box-average down, nearest up, plus mild noise; flat sky, fur and text all occur.
    h, w = hr.shape[:2]
    low = hr.reshape(h // 4, 4, w // 4, 4, 3).mean(axis=(1, 3))
    noise = np.random.default_rng(0).normal(0, 2, hr.shape)
    sr = np.clip(np.repeat(np.repeat(low, 4, axis=0), 4, axis=1) + noise, 0, 255).round().astype(np.uint8)
    metrics = image_metrics(sr, hr, crop=4, rounded_y=True)
    assert metrics["ssim_y"] == pytest.approx(_skimage_ssim_y(sr, hr, 4), abs=1e-12)
    assert metrics["ssim_y"] == ssim_y(sr, hr, crop=4)
    a, b = sr[4 : h - 4, 4 : w - 4], hr[4 : h - 4, 4 : w - 4]
    assert metrics["psnr_rgb"] == pytest.approx(peak_signal_noise_ratio(b, a, data_range=255), abs=1e-12)
    assert metrics["psnr_rgb"] == psnr_rgb(sr, hr, crop=4)  # integer squared errors: exact in any order
    assert metrics["psnr_y"] == pytest.approx(psnr_y(sr, hr, crop=4), abs=1e-10)
    assert metrics["psnr_y_rounded"] == psnr_y(sr, hr, crop=4, rounded_y=True)


def test_rounded_y_from_float_y_is_exact_on_every_colour():
    # image_metrics rounds float Y (floor(Y + ROUND_OFFSET)); rgb_to_y(rounded=True) uses exact integers.
    from sr_harness.protocols.metric_sums import ROUND_OFFSET

    gb = np.stack(np.meshgrid(np.arange(256), np.arange(256), indexing="ij"), axis=-1).astype(np.uint8)
    ties = 0
    for red in range(256):
        img = np.concatenate([np.full((256, 256, 1), red, np.uint8), gb], axis=2)
        exact = rgb_to_y(img, rounded=True)
        assert np.array_equal(np.floor(rgb_to_y(img) + ROUND_OFFSET), exact), f"red = {red}"
        n = img.astype(np.int64) @ np.array([65481, 128553, 24966])
        ties += int(np.count_nonzero(n % 255000 == 127500))
    assert ties > 0  # exact halves occur, so rounding them upwards is tested, not assumed


def test_ssim_needs_an_11_pixel_window():
    sr, hr = _random_pair(5, shape=(18, 30, 3))
    assert 0 < ssim_y(sr, hr, crop=3) < 1  # 12 x 24 after cropping
    with pytest.raises(ValueError, match="11 x 11"):
        ssim_y(sr, hr, crop=4)  # 10 x 22


@pytest.mark.parametrize("data_range", [255.0, 1.0, 2.0, 1023.0])
def test_to_uint8_cpu_path_equals_torch_quantisation(data_range):
    # On the CPU to_uint8 quantises in numpy; on CUDA in torch. Both must give the same bytes.
    x = torch.rand(1, 3, 37, 53, generator=torch.Generator().manual_seed(1)) * 1.3 * data_range - 0.1 * data_range
    x[0, 0, 0, :6] = torch.tensor([0.5, 1.5, 2.5, 127.5, 254.5, data_range / 2])
    img = x[0].clamp(0.0, data_range)
    if data_range != 255.0:
        img = img * (255.0 / data_range)
    expected = img.round().to(torch.uint8).permute(1, 2, 0).numpy()
    out = to_uint8(x, data_range=data_range)
    assert out.flags.c_contiguous and np.array_equal(out, expected)


def test_prepared_reference_gives_the_same_metrics_for_every_model():
    import skimage.data

    hr = modcrop(skimage.data.coffee(), 4)  # 400 x 600: several 64-row strips
    cache = ReferenceCache(crop=4)
    for seed in range(3):  # three "models" scored against one prepared HR image
        noise = np.random.default_rng(seed).integers(-6, 7, hr.shape)
        sr = np.clip(hr.astype(int) + noise, 0, 255).astype(np.uint8)
        reused = image_metrics(sr, hr, crop=4, rounded_y=True, reference=cache.get("coffee", hr))
        assert reused == image_metrics(sr, hr, crop=4, rounded_y=True)
        assert reused["ssim_y"] == pytest.approx(_skimage_ssim_y(sr, hr, 4), abs=1e-12)
    assert cache.nbytes > 0 and cache.get("coffee", hr) is cache.get("coffee", hr)


def test_reference_of_another_image_or_crop_is_refused():
    sr, hr = _random_pair(3, shape=(40, 40, 3))
    with pytest.raises(ValueError, match="another HR image or crop"):
        image_metrics(sr, hr, crop=2, reference=prepare_reference(sr, crop=2))
    with pytest.raises(ValueError, match="another HR image or crop"):
        image_metrics(sr, hr, crop=2, reference=prepare_reference(hr, crop=3))


def test_reference_cache_keeps_nothing_past_its_byte_budget():
    sr, hr = _random_pair(4, shape=(40, 40, 3))
    cache = ReferenceCache(crop=2, max_bytes=1)
    first = cache.get(0, hr)
    assert cache.nbytes == 0 and cache.get(0, hr) is not first
    assert image_metrics(sr, hr, crop=2, reference=first) == image_metrics(sr, hr, crop=2)
