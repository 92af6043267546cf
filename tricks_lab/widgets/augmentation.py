"""The baseline chapter's explorer: the loader's random crop (reflect padding) and flip."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from ..loader import apply_crop_flip, sample_crop_flip
from ..plotting import image_grid
from . import explorer


def crop_flip_figure(image: np.ndarray, padding: int = 4, flip: bool = True, seed: int = 0, n: int = 8) -> Figure:
    """``n`` augmented copies of one ``(H, W, 3)`` uint8 image, titled with their offsets and flips."""
    batch = torch.as_tensor(image).permute(2, 0, 1).unsqueeze(0).repeat(n, 1, 1, 1)
    generator = torch.Generator().manual_seed(seed)
    params = sample_crop_flip(n, padding, flip, generator, "cpu")
    out = apply_crop_flip(batch, params, padding)
    titles = [f"dy={int(dy) - padding:+d} dx={int(dx) - padding:+d}{' flip' if f else ''}"
              for (dy, dx), f in zip(params.offsets.tolist(), params.flips.tolist())]
    images = torch.cat([batch[:1], out])
    return image_grid(images, ["original", *titles], ncols=min(n + 1, 9),
                      title=f"random crop with {padding}-pixel reflect padding (shift in pixels)"
                      + (" and horizontal flip" if flip else ""))


def crop_flip_explorer(image: np.ndarray) -> Any:
    """Sliders for padding (pixels) and seed, a checkbox for flips."""
    import ipywidgets as widgets

    return explorer(
        lambda padding, flip, seed: crop_flip_figure(image, padding, flip, seed),
        padding=widgets.IntSlider(4, 0, 12, description="padding (px)"),
        flip=widgets.Checkbox(True, description="flip"),
        seed=widgets.IntSlider(0, 0, 20, description="seed"),
    )
