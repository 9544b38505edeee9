"""PSNR-Y / PSNR-RGB / SSIM-Y against golden values and an independent computation."""

import math
import warnings

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from protocols.quality import (
    image_metrics,
    mean_metrics,
    modcrop,
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
