"""The baseline chapter's explorer (the loader's random crop with reflect padding, and flip),
and :func:`normalised_batch`, the images every augmentation figure starts from."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from ..loader import CIFAR10_MEAN, CIFAR10_STD, apply_crop_flip, normalize, sample_crop_flip
from ..plotting import image_grid
from . import explorer

__all__ = ["crop_flip_explorer", "crop_flip_figure", "normalised_batch", "uint8_batch"]


def uint8_batch(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 images ``(N, H, W, 3)``, ``(H, W, 3)``, ``(N, 3, H, W)`` or ``(3, H, W)`` as a
    contiguous uint8 ``(N, 3, H, W)`` batch on the CPU (the loader's layout)."""
    batch = torch.as_tensor(np.asarray(images))
    if batch.ndim == 3:
        batch = batch.unsqueeze(0)
    if batch.ndim != 4 or batch.dtype != torch.uint8:
        raise ValueError(f"images must be uint8 (N, H, W, 3) or (N, 3, H, W), got {batch.dtype} {tuple(batch.shape)}")
    if batch.shape[1] != 3 and batch.shape[-1] == 3:
        batch = batch.permute(0, 3, 1, 2)
    if batch.shape[1] != 3:
        raise ValueError(f"images must have 3 channels, got shape {tuple(batch.shape)}")
    return batch.contiguous()


def normalised_batch(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 images (as :func:`uint8_batch` takes them) as the loader's float batch.

    ``x = (u / 255 - mean) / std`` per channel with the CIFAR-10 constants
    (:func:`tricks_lab.loader.normalize`), float32 ``(N, 3, H, W)`` on the CPU.
    """
    return normalize(uint8_batch(images), CIFAR10_MEAN, CIFAR10_STD, torch.float32)


def crop_flip_figure(image: np.ndarray, padding: int = 4, flip: bool = True, seed: int = 0, n: int = 8) -> Figure:
    """``n`` augmented copies of one ``(H, W, 3)`` uint8 image, titled with their offsets and flips."""
    batch = torch.as_tensor(image).permute(2, 0, 1).unsqueeze(0).repeat(n, 1, 1, 1)
    generator = torch.Generator().manual_seed(seed)
    params = sample_crop_flip(n, padding=padding, flip=flip, generator=generator, device="cpu")
    out = apply_crop_flip(batch, params)
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
