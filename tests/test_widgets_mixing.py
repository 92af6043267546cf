"""The mixing chapters' figures and explorers (04 RICAP, 09 mixup and CutMix): they build, label
their axes, draw what the package computes, and validate their input."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")
from matplotlib import pyplot as plt  # noqa: E402
from scipy import stats  # noqa: E402

from explorers import drawn_images, explorer_draw, same_images  # noqa: E402
from tricks_lab.loader import CIFAR10_MEAN, CIFAR10_STD  # noqa: E402
from tricks_lab.mixing import cutmix, mixup, ricap, sample_ricap  # noqa: E402
from tricks_lab.widgets import mixing as W  # noqa: E402
from tricks_lab.widgets.augmentation import normalised_batch  # noqa: E402

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)


def labelled(ax) -> bool:
    return bool(ax.get_xlabel()) and bool(ax.get_ylabel())


def plot_axes(fig) -> list:
    """Axes that are plots, not images."""
    return [ax for ax in fig.axes if not ax.images]


def test_normalised_batch_matches_the_loader_and_rejects_bad_input(images: np.ndarray) -> None:
    batch = normalised_batch(images)
    assert batch.shape == (8, 3, 32, 32) and batch.dtype == torch.float32
    expected = (images[0, 5, 7] / 255 - np.array(CIFAR10_MEAN)) / np.array(CIFAR10_STD)
    assert np.allclose(batch[0, :, 5, 7].numpy(), expected, atol=1e-5)
    assert normalised_batch(images[0]).shape == (1, 3, 32, 32)
    with pytest.raises(ValueError, match="uint8"):
        normalised_batch(images.astype(np.float32))
    with pytest.raises(ValueError, match="3 channels"):
        normalised_batch(images[..., :2])


def test_lambda_distribution_figure_is_labelled_and_validates() -> None:
    fig = W.lambda_distribution_figure((0.2, 1.0), samples=2000)
    assert len(fig.axes) == 2 and all(labelled(ax) for ax in fig.axes)
    assert fig.axes[0].get_yscale() == "log"
    with pytest.raises(ValueError, match="alpha must be > 0"):
        W.lambda_distribution_figure((0.0,))
    with pytest.raises(ValueError, match="alphas must name"):
        W.lambda_distribution_figure(())


def test_mixup_pair_figure_shows_both_ops_and_their_targets(images: np.ndarray) -> None:
    fig = W.mixup_pair_figure(images[0], images[1], 3, 8, CLASSES, alpha=0.4, lam=0.7, seed=2)
    assert all(labelled(ax) for ax in plot_axes(fig)) and len(plot_axes(fig)) == 2
    bars = plot_axes(fig)[1].patches
    heights = [b.get_height() for b in bars]
    assert heights[:2] == pytest.approx([0.7, 0.3])  # mixup: cat, ship
    assert heights[2] + heights[3] == pytest.approx(1.0) and heights[2] > 0.7  # CutMix: clipping only adds to A
    legend = " ".join(t.get_text() for t in plot_axes(fig)[0].get_legend().get_texts())
    half = stats.beta(0.4, 0.4).cdf(0.7) - stats.beta(0.4, 0.4).cdf(0.3)
    assert f"P = {half:.2f}" in legend
    with pytest.raises(ValueError, match="lam must be in"):
        W.mixup_pair_figure(images[0], images[1], 3, 8, CLASSES, lam=1.5)
    with pytest.raises(ValueError, match="labels must lie in"):
        W.mixup_pair_figure(images[0], images[1], 3, 10, CLASSES)


def test_cutmix_lambda_figure_never_lowers_lambda() -> None:
    fig = W.cutmix_lambda_figure(alpha=1.0, samples=2000)
    assert all(labelled(ax) for ax in fig.axes)
    scatter = fig.axes[0].collections[0].get_offsets()
    assert (scatter[:, 1] >= scatter[:, 0] - 1e-6).all()


def test_ricap_boundary_law_is_a_distribution_matching_the_sampler() -> None:
    law = W.ricap_boundary_law(0.3, 16)
    assert law.shape == (17,) and law.sum() == pytest.approx(1.0) and (law >= 0).all()
    assert law == pytest.approx(law[::-1])
    generator = torch.Generator().manual_seed(0)
    draws = np.array([sample_ricap(1, 16, 16, 0.3, generator=generator).boundary[0].item() for _ in range(1500)])
    assert stats.chisquare(np.bincount(draws, minlength=17), law * len(draws)).pvalue > 0.01
    with pytest.raises(ValueError, match="beta must be > 0"):
        W.ricap_boundary_law(0.0, 16)


def test_ricap_figure_draws_the_boundary_crops_and_area_weights(images: np.ndarray) -> None:
    fig = W.ricap_figure(images[:4], [3, 8, 1, 3], CLASSES, beta=0.3, boundary=(12, 20), seed=1)
    image_axes = [ax for ax in fig.axes if ax.images]
    assert len(image_axes) == 5 and labelled(image_axes[4])
    assert all(labelled(ax) for ax in plot_axes(fig))
    assert "(12, 20)" in image_axes[4].get_title()
    titles = [ax.get_title() for ax in image_axes[:4]]
    assert titles[0].startswith("patch 0: 12 x 20") and titles[3].startswith("patch 3: 20 x 12")
    target = [b.get_height() for b in plot_axes(fig)[1].patches]  # classes 1, 3, 8
    assert target == pytest.approx([12 * 12 / 1024, (12 * 20 + 20 * 12) / 1024, 20 * 20 / 1024])
    drawn = W.ricap_figure(images[:4], [0, 1, 2, 3], CLASSES, beta=0.3, seed=5)  # boundary drawn
    assert "boundary" in [ax for ax in drawn.axes if ax.images][4].get_title()
    with pytest.raises(ValueError, match="exactly 4 images"):
        W.ricap_figure(images[:3], [0, 1, 2], CLASSES)
    with pytest.raises(ValueError, match="boundary w must be in"):
        W.ricap_figure(images[:4], [0, 1, 2, 3], CLASSES, boundary=(40, 3))


def test_ricap_beta_figure_is_labelled() -> None:
    fig = W.ricap_beta_figure((0.3, 3.0), samples=2000)
    assert len(fig.axes) == 2 and all(labelled(ax) for ax in fig.axes)
    legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert "empty patch in" in legend[0] and legend[1].endswith("empty patch in 0%")


@pytest.mark.parametrize("method", W.METHODS)
def test_mixed_grid_figure_has_a_row_per_value_and_titles_from_the_targets(method: str, images: np.ndarray) -> None:
    fig = W.mixed_grid_figure(images, np.arange(8), CLASSES, method, (0.3, 2.0), seed=4)
    assert len(fig.axes) == 3 * 8
    # row 2 is what the package's op gives for the first value, with the figure's seed
    op = {"mixup": mixup, "cutmix": cutmix, "ricap": ricap}[method]
    mixed, _ = op(normalised_batch(images), torch.arange(8), 0.3, num_classes=10,
                  generator=torch.Generator().manual_seed(4))
    expected = W.to_display(mixed, normalized=True)
    assert all(np.allclose(drawn_images(fig)[8 + c], expected[c]) for c in range(8))
    assert [fig.axes[8 * r].get_ylabel() for r in range(3)][0] == "the batch"
    assert all(fig.axes[8 + c].get_title() for c in range(8))
    with pytest.raises(ValueError, match="method must be one of"):
        W.mixed_grid_figure(images, np.arange(8), CLASSES, "cutout")
    with pytest.raises(ValueError, match="one label per image"):
        W.mixed_grid_figure(images, np.arange(7), CLASSES, method)


def test_explorers_build() -> None:
    pytest.importorskip("ipywidgets")
    pictures = np.random.default_rng(1).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    assert len(W.mixup_explorer(pictures[0], pictures[1], 0, 1, CLASSES).children) == 2
    assert len(W.ricap_explorer(pictures, [0, 1, 2, 3], CLASSES).children) == 2


def test_mixup_explorer_draws_the_pair_figure_at_its_controls(monkeypatch) -> None:
    pytest.importorskip("ipywidgets")
    pictures = np.random.default_rng(1).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    draw, controls = explorer_draw(monkeypatch, W, W.mixup_explorer, pictures[0], pictures[1], 0, 1, CLASSES)
    values = {name: control.value for name, control in controls.items()}
    fig = draw(**values)
    assert same_images(fig, W.mixup_pair_figure(pictures[0], pictures[1], 0, 1, CLASSES, values["alpha"],
                                                 values["lam"], values["seed"]))
    bars = [b.get_height() for b in plot_axes(fig)[1].patches]
    assert bars[:2] == pytest.approx([values["lam"], 1 - values["lam"]])
    moved = draw(**{**values, "lam": 0.9})
    assert [b.get_height() for b in plot_axes(moved)[1].patches][:2] == pytest.approx([0.9, 0.1])


def test_ricap_explorer_draws_the_boundary_its_sliders_set(monkeypatch) -> None:
    pytest.importorskip("ipywidgets")
    pictures = np.random.default_rng(1).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    draw, controls = explorer_draw(monkeypatch, W, W.ricap_explorer, pictures, [0, 1, 2, 3], CLASSES)
    values = {name: control.value for name, control in controls.items()}
    fig = draw(**{**values, "w": 10, "h": 22})
    patched = [ax for ax in fig.axes if ax.images][4]
    assert "(10, 22)" in patched.get_title()
    assert same_images(fig, W.ricap_figure(pictures, [0, 1, 2, 3], CLASSES, values["beta"], (10, 22),
                                           values["seed"]))
