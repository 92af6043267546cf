"""tricks_lab.color: PCA lighting (eigen-decomposition, sampler, application, hook) and colour jitter."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tricks_lab import cache
from tricks_lab.color import (
    GREY_WEIGHTS,
    ColorJitter,
    ColorJitterParams,
    PCALighting,
    PCALightingParams,
    apply_color_jitter,
    apply_pca_lighting,
    cifar10_lighting_eigen,
    color_jitter,
    lighting_eigen,
    pca_lighting,
    pixel_covariance,
    sample_color_jitter,
    sample_pca_lighting,
)
from tricks_lab.loader import CIFAR10_MEAN, CIFAR10_STD

FAST = settings(max_examples=30, deadline=None)


def _images(n: int = 64, seed: int = 0, size: int = 8) -> np.ndarray:
    # correlated colour channels, as in natural images: a shared grey level plus small colour noise
    rng = np.random.default_rng(seed)
    grey = rng.uniform(0, 255, (n, size, size, 1))
    return np.clip(grey + rng.normal(0, 20, (n, size, size, 3)) * [1.0, 0.5, 0.8], 0, 255).astype(np.uint8)


def _eigen(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    return lighting_eigen(pixel_covariance(_images(seed=seed)))


# --- the eigen-decomposition ----------------------------------------------------------------


def test_pixel_covariance_is_numpys_over_all_pixels_in_unit_scale() -> None:
    images = _images()
    expected = np.cov(images.reshape(-1, 3).astype(np.float64).T / 255.0, bias=True)
    np.testing.assert_allclose(pixel_covariance(images), expected, rtol=1e-9, atol=1e-12)


@FAST
@given(st.integers(0, 2**31 - 1))
def test_eigenvectors_are_orthonormal_and_reconstruct_the_covariance(seed: int) -> None:
    sigma = pixel_covariance(_images(n=4, seed=seed))
    eigvals, eigvecs = lighting_eigen(sigma)
    torch.testing.assert_close(eigvecs.T @ eigvecs, torch.eye(3), atol=1e-5, rtol=0)
    rebuilt = (eigvecs * eigvals) @ eigvecs.T
    torch.testing.assert_close(rebuilt.double(), torch.from_numpy(sigma), atol=1e-6, rtol=1e-4)
    assert torch.all(eigvals[:-1] >= eigvals[1:]) and torch.all(eigvals >= 0)
    assert torch.all(eigvecs.sum(dim=0) >= 0)  # the sign convention


def test_cifar10_eigen_is_computed_once_and_cached_per_data_copy(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))

    class Data:
        train_images = _images(n=32)
        source = "fake copy"

    first = cifar10_lighting_eigen(Data())
    files = list((tmp_path / "data").glob("pca-lighting-*.npy"))
    assert len(files) == 1
    Data.train_images = Data.train_images.copy()  # same bytes: the cached file is read
    np.save(files[0], np.array([[9.0, 0.0, 0.0], *np.eye(3)]))
    assert cifar10_lighting_eigen(Data())[0][0] == 9.0
    Data.source = "another copy"
    torch.testing.assert_close(cifar10_lighting_eigen(Data()), first)
    assert len(list((tmp_path / "data").glob("pca-lighting-*.npy"))) == 2


# --- PCA lighting ---------------------------------------------------------------------------


@FAST
@given(st.integers(1, 6), st.floats(0.0, 2.0), st.integers(0, 2**31 - 1))
def test_the_offset_is_the_same_at_every_pixel(n: int, std: float, seed: int) -> None:
    eigvals, eigvecs = _eigen()
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 3, 5, 7, generator=g)
    params = sample_pca_lighting(n, eigvals, eigvecs, std=std, generator=g)
    shifted = apply_pca_lighting(images, params)
    delta = (shifted - images).double()
    torch.testing.assert_close(delta, params.offsets.double().view(n, 3, 1, 1).expand_as(delta), atol=1e-6, rtol=0)


def test_the_offset_is_v_times_alpha_lambda() -> None:
    eigvals, eigvecs = _eigen()
    params = sample_pca_lighting(5, eigvals, eigvecs, std=0.3, generator=torch.Generator().manual_seed(1))
    expected = torch.stack([eigvecs @ (a * eigvals) for a in params.alphas])
    torch.testing.assert_close(params.offsets, expected)


def test_std_zero_is_the_identity() -> None:
    eigvals, eigvecs = _eigen()
    images = torch.randn(4, 3, 6, 6)
    out = pca_lighting(images, eigvals, eigvecs, std=0.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, images)
    out, targets = PCALighting(0.0, eigvals, eigvecs)(images, torch.arange(4), torch.Generator().manual_seed(0))
    assert torch.equal(out, images) and torch.equal(targets, torch.arange(4))


@pytest.mark.parametrize("std", [0.1, 1.0])
def test_offsets_covariance_matches_v_diag_std2_lambda2_vt(std: float) -> None:
    eigvals, eigvecs = _eigen()
    n = 200_000
    params = sample_pca_lighting(n, eigvals, eigvecs, std=std, generator=torch.Generator().manual_seed(0))
    offsets = params.offsets.double()
    empirical = offsets.T @ offsets / n
    expected = (eigvecs.double() * (std * eigvals.double()) ** 2) @ eigvecs.double().T
    scale = float(expected.abs().max())
    torch.testing.assert_close(empirical, expected, atol=0.02 * scale, rtol=0)
    torch.testing.assert_close(offsets.mean(0), torch.zeros(3, dtype=torch.float64), atol=0.01 * scale**0.5, rtol=0)
    # along each eigenvector the offsets' spread is std * lambda_k
    spread = (offsets @ eigvecs.double()).std(dim=0)
    torch.testing.assert_close(spread, std * eigvals.double(), rtol=0.02, atol=1e-9)


def test_normalised_images_get_the_offset_divided_by_the_channel_std() -> None:
    # lighting then normalising equals normalising then lighting with o / std
    eigvals, eigvecs = _eigen()
    x = torch.rand(3, 3, 4, 4)
    params = sample_pca_lighting(3, eigvals, eigvecs, std=0.5, generator=torch.Generator().manual_seed(2))
    mean, std = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1), torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    first = (apply_pca_lighting(x, params) - mean) / std
    second = apply_pca_lighting((x - mean) / std, params, channel_std=CIFAR10_STD)
    torch.testing.assert_close(first, second)
    hooked, _ = PCALighting(0.5, eigvals, eigvecs).transform((x - mean) / std, torch.arange(3), params)
    torch.testing.assert_close(hooked, second)


def test_hook_is_a_float_stage_hook_reproducible_from_its_generator() -> None:
    eigvals, eigvecs = _eigen()
    hook = PCALighting(0.1, eigvals, eigvecs)
    assert hook.stage == "float" and "PCALighting(std=0.1" in repr(hook)
    images, targets = torch.randn(8, 3, 4, 4), torch.arange(8)
    a, _ = hook(images, targets, torch.Generator().manual_seed(3))
    b, _ = hook(images, targets, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not torch.equal(a, images)
    params = hook.make_params(images, torch.Generator().manual_seed(3))
    assert isinstance(params, PCALightingParams) and params.offsets.shape == (8, 3)
    assert torch.equal(hook.transform(images, targets, params)[0], a)


def test_hooks_do_not_synchronise_with_the_device() -> None:
    # meta tensors have no values: an .item()/.tolist()/bool() in the per-batch path would raise
    images = torch.empty(8, 3, 32, 32, device="meta")
    targets = torch.empty(8, dtype=torch.int64, device="meta")
    for hook in (PCALighting(0.1, *_eigen()), ColorJitter(0.4, 0.4, 0.4)):
        out, out_targets = hook(images, targets, None)
        assert out.device.type == "meta" and out.shape == images.shape and out_targets is targets


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda e, v: sample_pca_lighting(0, e, v), "n must be >= 1, got 0"),
        (lambda e, v: sample_pca_lighting(2, e, v, std=-0.1), r"std must be >= 0, got -0.1"),
        (lambda e, v: PCALighting(float("nan"), e, v), r"std must (not be NaN|be a finite number)"),
        (lambda e, v: PCALighting(0.1, e[:2], v), r"eigvals must have shape \(3,\), got \(2,\)"),
        (lambda e, v: PCALighting(0.1, -e, v), "eigvals must be finite and >= 0"),
        (lambda e, v: PCALighting(0.1, e, 2 * v), "eigvecs must be orthonormal"),
        (lambda e, v: PCALighting(0.1, e, v, channel_std=(0.2, 0.2)), "channel_std must have 3 entries"),
        (lambda e, v: PCALighting(0.1, e, v, channel_std=(0.2, 0.0, 0.2)), "channel_std must be > 0, got 0.0"),
        (lambda e, v: apply_pca_lighting(torch.zeros(2, 3, 4, 4, dtype=torch.uint8),
                                         sample_pca_lighting(2, e, v)), "images must be float"),
        (lambda e, v: apply_pca_lighting(torch.zeros(3, 3, 4, 4), sample_pca_lighting(2, e, v)),
         r"params.offsets must have shape \(3, 3\), got \(2, 3\)"),
        (lambda e, v: lighting_eigen(np.ones((2, 2))), "covariance must be a finite symmetric 3x3 matrix"),
        (lambda e, v: pixel_covariance(np.zeros((2, 4, 4, 3))), "images must be uint8"),
    ],
)
def test_bad_arguments_are_clear_errors(call, match: str) -> None:
    eigvals, eigvecs = _eigen()
    with pytest.raises((ValueError, TypeError), match=match):
        call(eigvals, eigvecs)


# --- colour jitter --------------------------------------------------------------------------


@FAST
@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.integers(0, 2**31 - 1))
def test_jitter_factors_lie_in_one_plus_minus_strength(b: float, c: float, s: float, seed: int) -> None:
    params = sample_color_jitter(64, b, c, s, generator=torch.Generator().manual_seed(seed))
    low = 1 - torch.tensor([b, c, s]) - 1e-6
    high = 1 + torch.tensor([b, c, s]) + 1e-6
    assert torch.all(params.factors >= low) and torch.all(params.factors <= high)


def test_jitter_factors_are_uniform_on_0_6_to_1_4_at_he_et_al_s_setting() -> None:
    factors = sample_color_jitter(100_000, generator=torch.Generator().manual_seed(0)).factors
    assert 0.6 <= float(factors.min()) and float(factors.max()) <= 1.4
    torch.testing.assert_close(factors.mean(0), torch.ones(3), atol=0.005, rtol=0)
    torch.testing.assert_close(factors.var(0), torch.full((3,), 0.8**2 / 12), atol=0.002, rtol=0)


def test_jitter_with_unit_factors_is_the_identity_and_each_factor_does_its_operation() -> None:
    x = torch.rand(2, 3, 5, 5, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(apply_color_jitter(x, ColorJitterParams(torch.ones(2, 3))), x)
    assert torch.equal(color_jitter(x, 0.0, 0.0, 0.0), x)
    bright = apply_color_jitter(x, ColorJitterParams(torch.tensor([[1.3, 1, 1], [0.7, 1, 1]])))
    torch.testing.assert_close(bright, x * torch.tensor([1.3, 0.7]).view(2, 1, 1, 1))
    grey = (x * torch.tensor(GREY_WEIGHTS).view(1, 3, 1, 1)).sum(1, keepdim=True)
    desaturated = apply_color_jitter(x, ColorJitterParams(torch.tensor([[1, 1, 0.0], [1, 1, 0.0]])))
    torch.testing.assert_close(desaturated, grey.expand_as(x))
    flat = apply_color_jitter(x, ColorJitterParams(torch.tensor([[1, 0.0, 1], [1, 0.0, 1]])))
    torch.testing.assert_close(flat, grey.mean(dim=(2, 3), keepdim=True).expand_as(x))


def test_jitter_hook_acts_on_the_pixels_behind_the_normalisation() -> None:
    x = torch.rand(4, 3, 6, 6)
    mean, std = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1), torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    hook = ColorJitter()
    assert hook.stage == "float"
    params = hook.make_params(x, torch.Generator().manual_seed(0))
    out, _ = hook.transform((x - mean) / std, torch.arange(4), params)
    torch.testing.assert_close(out * std + mean, apply_color_jitter(x, params), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match=r"brightness must be in \[0.0, 1.0\], got 1.5"):
        ColorJitter(brightness=1.5)
    with pytest.raises(ValueError, match="mean and channel_std must be given together"):
        ColorJitter(mean=(0.5, 0.5, 0.5))


def test_lighting_strength_depends_on_the_pixel_units_of_the_covariance() -> None:
    # The offset scales with lambda (a variance): eigenvalues of [0, 255] pixels are 255^2 times
    # those of [0, 1] pixels, so the same std gives offsets 255 times larger relative to the image.
    images = _images()
    unit = lighting_eigen(pixel_covariance(images))[0].double()
    byte = lighting_eigen(pixel_covariance(images) * 255.0**2)[0].double()
    torch.testing.assert_close(byte, unit * 255.0**2, rtol=1e-5, atol=0)
