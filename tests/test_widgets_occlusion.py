"""The occlusion chapters' figures and explorers: they build, label their axes and validate input."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")
from matplotlib import pyplot as plt  # noqa: E402

from explorers import drawn_images, explorer_draw, same_images  # noqa: E402
from tricks_lab.loader import CIFAR10_MEAN, CIFAR10_STD  # noqa: E402
from tricks_lab.occlusion import occlude, sample_cutout, sample_random_erasing  # noqa: E402
from tricks_lab.widgets import occlusion as W  # noqa: E402
from tricks_lab.widgets.augmentation import normalised_batch  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)


def labelled(ax) -> bool:
    return bool(ax.get_xlabel()) and bool(ax.get_ylabel())


def test_normalised_batch_matches_the_loader_and_rejects_bad_input(images: np.ndarray) -> None:
    batch = normalised_batch(images)
    assert batch.shape == (4, 3, 32, 32) and batch.dtype == torch.float32
    expected = (images[0, 5, 7] / 255 - np.array(CIFAR10_MEAN)) / np.array(CIFAR10_STD)
    assert np.allclose(batch[0, :, 5, 7].numpy(), expected, atol=1e-5)
    assert torch.equal(normalised_batch(torch.as_tensor(images).permute(0, 3, 1, 2)), batch)
    with pytest.raises(ValueError, match="uint8"):
        normalised_batch(images.astype(np.float32))
    with pytest.raises(ValueError, match="3 channels"):
        normalised_batch(images[..., :2])


def test_cutout_figure_outlines_holes_and_nominal_squares(images: np.ndarray) -> None:
    fig = W.cutout_figure(images, length=16, seed=3)
    axes = [ax for ax in fig.axes if ax.images]
    assert len(axes) == 4 and all(ax.get_title().endswith("%)") for ax in axes)
    assert all(len(ax.patches) >= 1 for ax in axes)
    assert "16 x 16" in fig._suptitle.get_text()
    with pytest.raises(ValueError, match="length"):
        W.cutout_figure(images, length=0)


def test_cutout_coverage_figure_is_labelled_and_shows_clipping() -> None:
    fig = W.cutout_coverage_figure(length=8, size=16, samples=2000)
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert len(axes) == 3 and all(labelled(ax) for ax in axes)
    legend = " ".join(t.get_text() for t in axes[2].get_legend().get_texts())
    assert "inside: mean 64 px" in legend
    with pytest.raises(ValueError, match="length must be <= size"):
        W.cutout_coverage_figure(length=20, size=16)


def test_erasing_figures_build_and_are_labelled(images: np.ndarray) -> None:
    fig = W.erasing_figure(images, p=1.0, seed=0)
    axes = [ax for ax in fig.axes if ax.images]
    assert all("px" in ax.get_title() for ax in axes) and all(ax.patches for ax in axes)
    fig = W.erasing_figure(images, p=0.0, seed=0)
    assert all(ax.get_title() == "not erased" for ax in fig.axes if ax.images)
    fig = W.erasing_statistics_figure(samples=2000)
    assert all(labelled(ax) for ax in fig.axes if ax.get_title())
    with pytest.raises(ValueError, match="scale"):
        W.erasing_statistics_figure(scale=(0.5, 0.1))


def test_statistics_figure_reports_the_uniform_ratios_tall_bias() -> None:
    fig = W.erasing_statistics_figure(size=256, scale=(0.02, 0.1), samples=4000)
    ratio_ax = next(ax for ax in fig.axes if ax.get_title() == "Aspect ratio")
    texts = [t.get_text() for t in ratio_ax.get_legend().get_texts()]
    tall = [float(t.split(": ")[1].split("%")[0]) for t in texts]
    uniform_tall = 100 * (1 / 0.3 - 1) / (1 / 0.3 - 0.3)
    assert abs(tall[0] - 50) < 3 and abs(tall[1] - uniform_tall) < 3


def test_fill_figure_has_one_column_per_fill(images: np.ndarray) -> None:
    fig = W.fill_figure(images[:2])
    axes = [ax for ax in fig.axes if ax.images]
    assert len(axes) == 2 * (1 + len(W.FILLS))
    assert [ax.get_title() for ax in axes[: 1 + len(W.FILLS)]] == ["original", *W.FILLS]
    with pytest.raises(ValueError, match="fills"):
        W.fill_figure(images, fills={})


def test_named_fills_are_what_they_say_in_raw_pixels() -> None:
    mean, std = np.array(CIFAR10_MEAN), np.array(CIFAR10_STD)
    assert np.allclose(np.array(W.FILLS["black (0 before normalising)"]) * std + mean, 0)
    assert np.allclose(np.array(W.FILLS["raw CIFAR mean"]) * std + mean, mean + std * mean)
    assert W.FILLS["0 = dataset mean"] == 0.0


def test_occluded_fraction_figure_compares_cutout_and_erasing() -> None:
    generator = torch.Generator().manual_seed(0)
    boxes = {"cutout": sample_cutout(2000, 32, 32, 16, generator=generator),
             "erasing": sample_random_erasing(2000, 32, 32, p=0.5, value=0.0, generator=generator)}
    ax = W.occluded_fraction_figure(boxes).axes[0]
    assert labelled(ax)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "untouched 0%" in texts[0] and "untouched 5" in texts[1]
    with pytest.raises(TypeError, match="OcclusionParams"):
        W.occluded_fraction_figure({"x": 1})


def test_explorers_build(images: np.ndarray) -> None:
    pytest.importorskip("ipywidgets")
    for make in (W.cutout_explorer, W.erasing_explorer):
        box = make(images)
        assert len(box.children) == 2


def test_cutout_explorer_draws_the_package_holes_at_its_controls(monkeypatch, images: np.ndarray) -> None:
    pytest.importorskip("ipywidgets")
    draw, controls = explorer_draw(monkeypatch, W, W.cutout_explorer, images)
    values = {name: control.value for name, control in controls.items()}
    fig = draw(**{**values, "length": 8, "n_holes": 2})
    assert same_images(fig, W.cutout_figure(images, 8, 2, values["inside"], values["seed"]))
    params = sample_cutout(4, 32, 32, 8, n_holes=2, inside=values["inside"],
                           generator=torch.Generator().manual_seed(values["seed"]))
    expected = occlude(normalised_batch(images), params)
    assert drawn_images(fig)[0].shape[:2] == (32, 32)
    assert [len(ax.patches) >= 2 for ax in fig.axes if ax.images] == [True] * 4
    changed = [bool((expected[i] != normalised_batch(images)[i]).any()) for i in range(4)]
    assert all(changed)


def test_erasing_explorer_draws_the_chosen_fill(monkeypatch, images: np.ndarray) -> None:
    pytest.importorskip("ipywidgets")
    draw, controls = explorer_draw(monkeypatch, W, W.erasing_explorer, images)
    values = {name: control.value for name, control in controls.items()}
    fig = draw(**{**values, "p": 1.0, "fill": "0 = dataset mean"})
    reference = W.erasing_figure(images, 1.0, values["scale"], (values["r1"], 1 / values["r1"]), 0.0,
                                 values["log_ratio"], values["seed"])
    assert same_images(fig, reference)
    assert all("px" in ax.get_title() for ax in fig.axes if ax.images)
