"""Figures and explorers of the occlusion chapters: Cutout (06) and Random Erasing (07).

Every figure draws its boxes with the package's own samplers
(:func:`tricks_lab.occlusion.sample_cutout`,
:func:`tricks_lab.occlusion.sample_random_erasing`) and applies them with
:func:`tricks_lab.occlusion.occlude`, on images normalised as the loader does,
so what is shown is what the training loader's ``"float"`` hook does: a fill
of 0 is the dataset mean, and the images are shown un-normalised.

- Cutout (DeVries & Taylor, 2017): :func:`cutout_figure`,
  :func:`cutout_coverage_figure`, :func:`cutout_explorer`.
- Random Erasing (Zhong et al., 2020): :func:`erasing_figure`,
  :func:`erasing_statistics_figure`, :func:`fill_figure`,
  :func:`occluded_fraction_figure`, :func:`erasing_explorer`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import NullFormatter

from .._validation import check_increasing_pair, check_positive_int
from ..loader import CIFAR10_MEAN, CIFAR10_STD
from ..occlusion import (
    Fill,
    OcclusionParams,
    occlude,
    sample_cutout,
    sample_random_erasing,
)
from ..plotting import image_grid
from . import explorer
from .augmentation import normalised_batch

__all__ = [
    "FILLS",
    "cutout_coverage_figure",
    "cutout_explorer",
    "cutout_figure",
    "erasing_explorer",
    "erasing_figure",
    "erasing_statistics_figure",
    "fill_figure",
    "occluded_fraction_figure",
]

FILLS: dict[str, Fill] = {
    "random N(0, 1)": "random",
    "0 = dataset mean": 0.0,
    "image's own mean": "mean",
    "raw CIFAR mean": CIFAR10_MEAN,
    "black (0 before normalising)": tuple(-m / s for m, s in zip(CIFAR10_MEAN, CIFAR10_STD)),
}
"""Fills in normalised space, by what they put in the hole in raw pixels.

``"raw CIFAR mean"`` is what the Random Erasing reference code writes after
``Normalize`` (``mean + std * mean`` in raw units, not the mean); ``"black"`` is
what a fill of 0 before normalisation becomes, ``-mean / std``.
"""

HOLE_COLOUR = "red"
NOMINAL_COLOUR = "gold"


# --------------------------------------------------------------------------- Cutout


def cutout_figure(
    images: np.ndarray | torch.Tensor,
    length: int = 16,
    n_holes: int = 1,
    inside: bool = False,
    seed: int = 0,
) -> Figure:
    """Cutout (DeVries & Taylor, 2017) on each image, with its holes outlined.

    Each hole is the square ``[c - l//2, c - l//2 + l)`` in both axes around a
    centre ``c`` drawn uniformly over all pixels, clipped to the image (or wholly
    inside with ``inside=True``), filled with 0 after normalisation (the dataset
    mean). The red outline is the hole as applied; the dashed gold square is the
    nominal ``l x l`` square where clipping cut it. Titles give the occluded area
    in pixels (the union of the holes).
    """
    check_positive_int("length", length)
    check_positive_int("n_holes", n_holes)
    check_positive_int("seed", seed, allow_zero=True)
    batch = normalised_batch(images)
    n, _, height, width = batch.shape
    generator = torch.Generator().manual_seed(seed)
    boxes = sample_cutout(n, height, width, length, n_holes=n_holes, inside=inside, generator=generator)
    out = occlude(batch, boxes)
    areas = boxes.mask().flatten(1).sum(1).tolist()
    titles = [f"{area} px ({100 * area / (height * width):.0f}%)" for area in areas]
    where = "inside the image" if inside else "centre anywhere, clipped at the border"
    holes = "1 hole" if n_holes == 1 else f"{n_holes} holes"
    fig = image_grid(out, titles, ncols=min(n, 4), normalized=True, scale=2.2,
                     title=f"Cutout: {holes} of {length} x {length} pixels, {where}")
    for ax, image_boxes in zip(fig.axes, boxes.boxes.tolist()):
        for x0, y0, x1, y1 in image_boxes:
            ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                                   edgecolor=HOLE_COLOUR, lw=1.2))
            if y1 - y0 < length or x1 - x0 < length:
                ny0 = y0 if y0 > 0 else y1 - length
                nx0 = x0 if x0 > 0 else x1 - length
                ax.add_patch(Rectangle((nx0 - 0.5, ny0 - 0.5), length, length, fill=False,
                                       edgecolor=NOMINAL_COLOUR, ls="--", lw=1.0, clip_on=False))
        ax.set_xlim(-0.5 - length / 2, width - 0.5 + length / 2)
        ax.set_ylim(height - 0.5 + length / 2, -0.5 - length / 2)
    return fig


def cutout_coverage_figure(
    length: int = 16, size: int = 32, samples: int = 20000, seed: int = 0
) -> Figure:
    """Where Cutout occludes and how much: clipped against ``inside`` holes of side ``length``.

    Left two panels: ``P(pixel (i, j) occluded)`` estimated from ``samples``
    boxes. For clipped holes (DeVries & Taylor, 2017) row ``i`` is covered when
    ``i - ceil(l/2) < c_y <= i + floor(l/2)``, so ``l / H`` in the interior and
    less near the border; inside holes (corner uniform in ``[0, H - l]``) cover
    the centre far more often than the border. Right: the distribution of the
    hole's area in pixels (clipped holes are often smaller than ``l^2``).
    """
    check_positive_int("length", length)
    check_positive_int("size", size)
    check_positive_int("samples", samples)
    check_positive_int("seed", seed, allow_zero=True)
    if length > size:
        raise ValueError(f"length must be <= size = {size}, got {length}")
    variants = {"clipped (paper)": False, "inside": True}
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), layout="constrained",
                             gridspec_kw={"width_ratios": [1, 1, 1.3]})
    maps, areas = {}, {}
    for name, inside in variants.items():
        generator = torch.Generator().manual_seed(seed)
        boxes = sample_cutout(samples, size, size, length, inside=inside, generator=generator)
        maps[name] = boxes.mask()[:, 0].float().mean(0).numpy()
        areas[name] = boxes.areas[:, 0].numpy()
    vmax = max(float(m.max()) for m in maps.values())
    for ax, (name, coverage) in zip(axes[:2], maps.items()):
        image = ax.imshow(coverage, vmin=0, vmax=vmax, cmap="viridis", interpolation="nearest")
        ax.set(title=f"{name}: P(pixel occluded)", xlabel="x (pixel)", ylabel="y (pixel)")
        ax.grid(False)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="probability")
    bins = np.linspace(0, length * length, 33) + 0.5 * length * length / 32
    for name, area in areas.items():
        axes[2].hist(area, bins=bins, weights=np.full(len(area), 1 / len(area)), alpha=0.6,
                     label=f"{name}: mean {area.mean():.0f} px")
    axes[2].axvline(length * length, color="black", ls=":", lw=1, label=f"l$^2$ = {length * length} px")
    axes[2].set(title="Hole area", xlabel="hole area (pixels)", ylabel="fraction of holes")
    axes[2].legend(fontsize=8)
    fig.suptitle(f"Cutout with l = {length} on {size} x {size} images ({samples} draws)", fontsize=10)
    return fig


def cutout_explorer(images: np.ndarray | torch.Tensor) -> Any:
    """Sliders for the hole length (pixels), the number of holes and the seed; a checkbox for ``inside``."""
    import ipywidgets as widgets

    size = int(normalised_batch(images).shape[-1])
    return explorer(
        lambda length, n_holes, inside, seed: cutout_figure(images, length, n_holes, inside, seed),
        length=widgets.IntSlider(16, 1, size, description="length (px)"),
        n_holes=widgets.IntSlider(1, 1, 4, description="holes"),
        inside=widgets.Checkbox(False, description="inside"),
        seed=widgets.IntSlider(0, 0, 20, description="seed"),
    )


# --------------------------------------------------------------------------- Random Erasing


def erasing_figure(
    images: np.ndarray | torch.Tensor,
    p: float = 0.5,
    scale: tuple[float, float] = (0.02, 0.4),
    ratio: tuple[float, float] = (0.3, 1 / 0.3),
    value: Fill = "random",
    log_ratio: bool = True,
    seed: int = 0,
) -> Figure:
    """Random Erasing (Zhong et al., 2020) on each image, titled with its draw.

    With probability ``p`` a rectangle of area fraction ``s ~ U(scale)`` and
    aspect ratio ``r = h / w`` (log-uniform in ``ratio``, or uniform with
    ``log_ratio=False``) is filled with ``value`` in normalised space. Titles
    give the erased box's ``h x w`` in pixels, or why the image was left.
    """
    check_positive_int("seed", seed, allow_zero=True)
    batch = normalised_batch(images)
    n, _, height, width = batch.shape
    generator = torch.Generator().manual_seed(seed)
    boxes = sample_random_erasing(n, height, width, p=p, scale=scale, ratio=ratio, log_ratio=log_ratio,
                                  value=value, channels=batch.shape[1], generator=generator)
    out = occlude(batch, boxes)
    titles = [f"{h} x {w} px" if applied else "not erased"
              for h, w, applied in zip(boxes.heights[:, 0].tolist(), boxes.widths[:, 0].tolist(),
                                       boxes.selected.tolist())]
    value_text = value if isinstance(value, str) else np.round(np.asarray(value, dtype=float), 2).tolist()
    fig = image_grid(out, titles, ncols=min(n, 4), normalized=True, scale=2.2,
                     title=f"Random Erasing: p={p:g}, scale=({scale[0]:g}, {scale[1]:g}), "
                           f"ratio=({ratio[0]:.2g}, {ratio[1]:.2g}) {'log-uniform' if log_ratio else 'uniform'}, "
                           f"value={value_text}")
    for ax, (x0, y0, x1, y1), applied in zip(fig.axes, boxes.boxes[:, 0].tolist(), boxes.selected.tolist()):
        if applied:
            ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                                   edgecolor=HOLE_COLOUR, lw=1.0))
    return fig


def erasing_statistics_figure(
    scale: tuple[float, float] = (0.02, 0.4),
    ratio: tuple[float, float] = (0.3, 1 / 0.3),
    size: int = 32,
    samples: int = 20000,
    seed: int = 0,
) -> Figure:
    """The rectangle Random Erasing draws on ``size x size`` images, log-uniform against uniform ratio.

    Left: the erased area fraction ``h w / (H W)`` (``s ~ U(scale)``, then
    rounded and the boxes that do not fit rejected). Middle: the aspect ratio
    ``r = h / w`` on a log axis; a uniform ``r`` in ``(r1, r2)`` (the paper and
    its code) puts ``(r2 - 1) / (r2 - r1)`` of the boxes above 1 (taller than
    wide), a log-uniform one (torchvision, our default) half when ``r2 = 1/r1``.
    Right: ``P(pixel erased | erased)``, lower at the border, since the box must
    fit inside the image.
    """
    check_increasing_pair("scale", scale, low=0.0, high=1.0)
    check_positive_int("size", size)
    check_positive_int("samples", samples)
    check_positive_int("seed", seed, allow_zero=True)
    draws: dict[str, OcclusionParams] = {}
    for name, log_ratio in (("log-uniform r (torchvision, ours)", True), ("uniform r (paper's code)", False)):
        generator = torch.Generator().manual_seed(seed)
        draws[name] = sample_random_erasing(samples, size, size, p=1.0, scale=scale, ratio=ratio,
                                            log_ratio=log_ratio, value=0.0, generator=generator)
    fig, (ax_area, ax_ratio, ax_map) = plt.subplots(1, 3, figsize=(13, 3.8), layout="constrained",
                                                    gridspec_kw={"width_ratios": [1.1, 1.1, 1]})
    area_bins = np.linspace(0, min(1.0, scale[1] * 1.15 + 0.02), 30)
    ratio_bins = np.geomspace(ratio[0] / 1.5, ratio[1] * 1.5, 40)
    for name, boxes in draws.items():
        kept = boxes.selected
        fractions = boxes.area_fractions[kept, 0].numpy()
        aspects = boxes.aspect_ratios[kept, 0].numpy()
        tall = float((aspects > 1).mean())
        weights = np.full(len(fractions), 1 / len(fractions))
        ax_area.hist(fractions, bins=area_bins, weights=weights, alpha=0.55, label=name)
        ax_ratio.hist(aspects, bins=ratio_bins, weights=weights, alpha=0.55,
                      label=f"{name}: {100 * tall:.0f}% taller than wide")
    ax_area.set(title="Erased area", xlabel="area fraction h w / (H W)", ylabel="fraction of erased images")
    ax_ratio.set_xscale("log")
    ticks = sorted({ratio[0], 0.5, 1.0, 2.0, ratio[1]})
    ax_ratio.set_xticks(ticks, [f"{t:.2g}" for t in ticks])
    ax_ratio.xaxis.set_minor_formatter(NullFormatter())
    ax_ratio.axvline(1, color="black", ls=":", lw=1)
    ax_ratio.set(title="Aspect ratio", xlabel="aspect ratio r = h / w (log scale)",
                 ylabel="fraction of erased images")
    ax_area.legend(fontsize=7)
    ax_ratio.legend(fontsize=7)
    boxes = next(iter(draws.values()))
    coverage = boxes.mask()[boxes.selected, 0].float().mean(0).numpy()
    image = ax_map.imshow(coverage, vmin=0, cmap="viridis", interpolation="nearest")
    ax_map.grid(False)
    ax_map.set(title="P(pixel erased | image erased)", xlabel="x (pixel)", ylabel="y (pixel)")
    fig.colorbar(image, ax=ax_map, fraction=0.046, pad=0.04, label="probability")
    fig.suptitle(f"Random Erasing boxes on {size} x {size} images, scale={tuple(scale)}, "
                 f"ratio=({ratio[0]:.2g}, {ratio[1]:.2g}), {samples} draws", fontsize=10)
    return fig


def fill_figure(
    images: np.ndarray | torch.Tensor,
    fills: Mapping[str, Fill] | None = None,
    scale: tuple[float, float] = (0.15, 0.3),
    seed: int = 0,
) -> Figure:
    """The same Random Erasing boxes (Zhong et al., 2020) with different fills, one column a fill.

    ``fills`` maps a label to a fill in normalised space (default :data:`FILLS`):
    each row is one image, erased in the same rectangle in every column, so only
    the fill differs. The first column is the original.
    """
    check_positive_int("seed", seed, allow_zero=True)
    fills = dict(FILLS if fills is None else fills)
    if not fills:
        raise ValueError("fills must name at least one fill")
    batch = normalised_batch(images)
    n, _, height, width = batch.shape
    # One generator state per column: the boxes are drawn first, so every fill gets the same boxes.
    columns = [batch] + [
        occlude(batch, sample_random_erasing(n, height, width, p=1.0, scale=scale, value=value,
                                             generator=torch.Generator().manual_seed(seed)))
        for value in fills.values()
    ]
    grid = torch.stack(columns, dim=1).flatten(0, 1)
    labels = ["original", *fills]
    titles = [labels[i % len(labels)] if i < len(labels) else "" for i in range(len(grid))]
    return image_grid(grid, titles, ncols=len(labels), normalized=True, scale=1.6,
                      title="Random Erasing fills (one rectangle per row, the fill changes by column)")


def occluded_fraction_figure(boxes: Mapping[str, OcclusionParams], title: str | None = None) -> Figure:
    """How much of each image is hidden: the distribution of the occluded fraction per image.

    For each named set of boxes (drawn by a sampler for many images), the
    fraction ``|M_n| / (H W)`` of image n's pixels in its mask (0 for images
    not occluded), with its mean in the legend.
    """
    if not boxes:
        raise ValueError("boxes must name at least one set of boxes")
    fractions = {}
    for name, drawn in boxes.items():
        if not isinstance(drawn, OcclusionParams):
            raise TypeError(f"boxes[{name!r}] must be OcclusionParams, got {type(drawn).__name__}")
        fractions[name] = drawn.mask().flatten(1).float().mean(1).numpy()
    top = min(1.0, 1.1 * max(float(f.max()) for f in fractions.values()) + 0.02)
    bins = np.linspace(0, top, 41)
    fig, ax = plt.subplots(figsize=(6.5, 3.6), layout="constrained")
    for name, fraction in fractions.items():
        ax.hist(fraction, bins=bins, weights=np.full(len(fraction), 1 / len(fraction)), alpha=0.55,
                label=f"{name}: mean {100 * fraction.mean():.1f}%, untouched {100 * (fraction == 0).mean():.0f}%")
    ax.set(xlabel="occluded fraction of the image", ylabel="fraction of images",
           title=title or "How much of each training image is hidden")
    ax.legend(fontsize=8)
    return fig


def erasing_explorer(images: np.ndarray | torch.Tensor) -> Any:
    """Sliders for ``p``, ``scale`` and the ratio bound ``r1`` (ratio ``(r1, 1/r1)``), a fill menu, a seed."""
    import ipywidgets as widgets

    return explorer(
        lambda p, scale, r1, fill, log_ratio, seed: erasing_figure(
            images, p, scale, (r1, 1 / r1), FILLS[fill], log_ratio, seed),
        p=widgets.FloatSlider(0.5, min=0.0, max=1.0, step=0.05, description="p"),
        scale=widgets.FloatRangeSlider(value=(0.02, 0.4), min=0.01, max=0.9, step=0.01, description="scale"),
        r1=widgets.FloatLogSlider(0.3, base=10, min=-1, max=0, step=0.05, description="ratio r1"),
        fill=widgets.Dropdown(options=list(FILLS), value="random N(0, 1)", description="fill"),
        log_ratio=widgets.Checkbox(True, description="log-uniform ratio"),
        seed=widgets.IntSlider(0, 0, 20, description="seed"),
    )
