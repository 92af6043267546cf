"""Pitfalls of the Cutout and Random Erasing chapters (06, 07) not pinned in test_occlusion.py."""

from __future__ import annotations

import pytest
import torch

from tricks_lab.loader import CIFAR10_MEAN, CIFAR10_STD, normalize
from tricks_lab.hooks import Hook
from tricks_lab.occlusion import CutoutHook, RandomErasingHook


@pytest.mark.parametrize(
    "hook",
    [
        CutoutHook(8, stage="uint8"),
        RandomErasingHook(p=1.0, value=0, stage="uint8"),
    ],
    ids=["cutout", "erasing"],
)
def test_occluding_before_normalising_fills_black_not_the_mean(hook: Hook) -> None:
    """Fill 0 before normalisation is black: after normalising it is -mean/std (about -2), not 0."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(1, 256, (64, 3, 16, 16), dtype=torch.uint8, generator=generator)
    occluded, _ = hook(images, torch.zeros(64, dtype=torch.long), generator)
    holes = occluded != images
    assert holes.any() and (occluded[holes] == 0).all()
    normalised = normalize(occluded, CIFAR10_MEAN, CIFAR10_STD, torch.float32)
    black = -torch.tensor(CIFAR10_MEAN) / torch.tensor(CIFAR10_STD)
    expected = black.view(1, 3, 1, 1).expand_as(normalised)[holes]
    assert torch.allclose(normalised[holes], expected, atol=1e-5)
    assert normalised[holes].max() < -1.5
