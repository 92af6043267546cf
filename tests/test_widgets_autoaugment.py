"""The AutoAugment chapter's figures build, label their axes, show what they claim; the explorer builds."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib import pyplot as plt

from explorers import explorer_draw
from tricks_lab import autoaugment as aa
from tricks_lab.widgets.autoaugment import (
    autoaugment_explorer,
    batch_draws_figure,
    describe_operation,
    magnitude_scales_figure,
    policy_gallery_figure,
    sub_policy_figure,
    sub_policy_label,
    tensorflow_enhancement_factor,
)


def image_hwc(seed: int = 0) -> np.ndarray:
    """A smooth colour ramp plus noise: every operation visibly changes it."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(30, 220, 32)
    base = np.stack([ramp[None, :].repeat(32, 0), ramp[:, None].repeat(32, 1), np.full((32, 32), 90.0)], -1)
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


def image_axes(fig: plt.Figure) -> list:
    return [ax for ax in fig.axes if ax.images]


def test_magnitude_scales_figure_labels_every_panel_with_units() -> None:
    fig = magnitude_scales_figure()
    assert len(fig.axes) == 6
    for ax in fig.axes:
        assert ax.get_xlabel() == "magnitude index m"
        assert ax.get_ylabel() and ax.get_title()
    translate = next(ax for ax in fig.axes if ax.get_title().startswith("Translate"))
    relative, absolute = (line.get_ydata() for line in translate.get_lines()[:2])
    assert relative[-1] == 14 and absolute[-1] == 9  # the two conventions on a 32-pixel image
    plt.close(fig)


def test_tensorflow_enhancement_factor_and_its_validation() -> None:
    np.testing.assert_allclose(tensorflow_enhancement_factor(np.arange(10)), 0.1 + 0.18 * np.arange(10))
    with pytest.raises(ValueError, match="magnitude_index must hold whole numbers"):
        tensorflow_enhancement_factor(10)
    with pytest.raises(ValueError, match="magnitude_index"):
        tensorflow_enhancement_factor(2.5)


def test_policy_gallery_shows_every_sub_policy_with_both_operations_forced() -> None:
    image = image_hwc()
    fig = policy_gallery_figure(image)
    axes = image_axes(fig)
    assert len(axes) == 1 + len(aa.POLICIES["cifar10"])
    assert axes[0].get_title() == "original"
    batch = torch.as_tensor(image).permute(2, 0, 1).unsqueeze(0)
    for s in (0, 13, 21):
        first, second = aa.POLICIES["cifar10"][s]
        expected = aa.apply_operation(aa.apply_operation(batch, first[0], first[2]), second[0], second[2])
        assert np.array_equal(axes[1 + s].images[0].get_array(), expected[0].permute(1, 2, 0).numpy())
        assert axes[1 + s].get_title().startswith(f"#{s}\n{first[0]} p={first[1]:.1f} m={first[2]}")
    plt.close(fig)


def test_batch_figure_draws_per_image_on_top_and_once_for_torchvision() -> None:
    fig = batch_draws_figure(image_hwc(), n=8, seed=3)
    axes = image_axes(fig)
    top = [ax.images[0].get_array().tobytes() for ax in axes[:8]]
    bottom = [ax.images[0].get_array().tobytes() for ax in axes[8:]]
    assert len(set(bottom)) == 1
    assert len(set(top)) > 1
    params = aa.sample_autoaugment(8, 32, 32, generator=torch.Generator().manual_seed(3))
    assert [ax.get_title().split("\n")[0] for ax in axes[:8]] == [f"#{s}" for s in params.sub_policy.tolist()]
    plt.close(fig)


def test_sub_policy_figure_forces_then_draws() -> None:
    image = image_hwc()
    fig = sub_policy_figure(image, sub_policy=1, magnitude=9, translate="absolute", n=6, seed=1)
    axes = image_axes(fig)
    assert len(axes) == 4 + 6
    assert [ax.get_title() for ax in axes[:4]] == ["original", "Rotate+ forced", "TranslateX+ forced", "both, in order"]
    batch = torch.as_tensor(image).permute(2, 0, 1).unsqueeze(0)
    shifted = aa.apply_operation(batch, "TranslateX", 9, translate="absolute")
    assert np.array_equal(axes[2].images[0].get_array(), shifted[0].permute(1, 2, 0).numpy())
    assert "TranslateX 9: ±9 px (p=0.3)" in fig.get_suptitle()
    plt.close(fig)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"sub_policy": 25}, ValueError, r"sub_policy must be in \[0, 24\]"),
        ({"sub_policy": True}, TypeError, "sub_policy must be an int"),
        ({"magnitude": 10}, ValueError, r"magnitude must be in \[0, 9\]"),
        ({"magnitude": 2.0}, TypeError, "magnitude must be None"),
        ({"policy": "cifar100"}, ValueError, "policy must be one of"),
        ({"translate": "pixels"}, ValueError, "translate must be one of"),
        ({"n": 0}, ValueError, "n must be >= 1"),
    ],
)
def test_sub_policy_figure_rejects_bad_arguments(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        sub_policy_figure(image_hwc(), **kwargs)


def test_figures_reject_images_that_are_not_one_uint8_rgb_image() -> None:
    with pytest.raises(ValueError, match="one uint8 image"):
        policy_gallery_figure(image_hwc().astype(np.float32))
    with pytest.raises(ValueError, match="one uint8 image"):
        batch_draws_figure(np.stack([image_hwc(), image_hwc()]))
    with pytest.raises(ValueError, match="3 channels"):
        sub_policy_figure(image_hwc()[..., :2])


def test_describe_operation_in_the_operations_units() -> None:
    assert describe_operation("Rotate", 9) == "Rotate 9: ±30.0°"
    assert describe_operation("TranslateY", 9) == "TranslateY 9: ±14 px"
    assert describe_operation("TranslateY", 9, translate="absolute") == "TranslateY 9: ±9 px"
    assert describe_operation("Posterize", 9) == "Posterize 9: 4 bits"
    assert describe_operation("Solarize", 0) == "Solarize 0: threshold 255"
    assert describe_operation("Color", 3) == "Color 3: factor 1±0.30"
    assert describe_operation("Invert", 3) == "Invert (no magnitude)"
    with pytest.raises(ValueError, match="op must be one of"):
        describe_operation("Cutout", 3)
    assert sub_policy_label(aa.POLICIES["cifar10"][0], " / ") == "Invert p=0.1 m=7 / Contrast p=0.2 m=6"
    with pytest.raises(ValueError, match="sub_policy must be a sequence"):
        sub_policy_label([("Invert", 0.1)])


def test_explorer_draws_the_sub_policy_its_controls_choose(monkeypatch) -> None:
    pytest.importorskip("ipywidgets")
    from tricks_lab.widgets import autoaugment as W

    draw, controls = explorer_draw(monkeypatch, W, W.autoaugment_explorer, image_hwc())
    values = {name: control.value for name, control in controls.items()}
    fig = draw(**{**values, "sub_policy": 1, "magnitude": 9, "translate": "absolute"})
    axes = image_axes(fig)
    assert [ax.get_title() for ax in axes[1:3]] == ["Rotate+ forced", "TranslateX+ forced"]
    batch = torch.as_tensor(image_hwc()).permute(2, 0, 1).unsqueeze(0)
    shifted = aa.apply_operation(batch, "TranslateX", 9, translate="absolute")
    assert np.array_equal(axes[2].images[0].get_array(), shifted[0].permute(1, 2, 0).numpy())
    reference = sub_policy_figure(image_hwc(), 1, 9, "cifar10", "absolute", values["seed"])
    assert all(np.array_equal(a.images[0].get_array(), b.images[0].get_array())
               for a, b in zip(axes, image_axes(reference)))



def test_explorer_builds_with_a_sub_policy_and_a_magnitude_control() -> None:
    pytest.importorskip("ipywidgets")
    box = autoaugment_explorer(image_hwc())
    controls = box.children[0].children
    descriptions = [c.description for c in controls]
    assert descriptions == ["sub-policy", "magnitude m", "translate", "seed"]
    assert len(controls[0].options) == 25 and controls[1].value is None
    plt.close("all")
