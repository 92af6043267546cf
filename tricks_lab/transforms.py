"""The batch-hook protocol: how tricks plug into the GPU-resident loader.

The loader (:class:`tricks_lab.data.GpuLoader`) builds every training batch in
four steps::

    uint8 crop + flip  ->  "uint8" hooks  ->  float, normalised  ->  "float" hooks

A hook is any object with a ``stage`` attribute (``"uint8"`` or ``"float"``)
that is called as ``hook(images, targets, generator)`` and returns
``(images, targets)``. ``images`` is ``(N, C, H, W)`` on the loader's device
(uint8 in ``[0, 255]`` at the uint8 stage; normalised float at the float
stage, so a fill of 0 there is the dataset mean); ``targets`` is either int64
class indices ``(N,)`` or float soft targets ``(N, K)``; ``generator`` is the
loader's ``torch.Generator`` on the same device, so a seeded loader stays
deterministic. Mixing ops (mixup, CutMix, RICAP) change the targets to soft
ones; occlusion and AutoAugment change only the images and use
:class:`ImageHook` to become hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol, runtime_checkable

import torch

from ._validation import check_choice

Stage = Literal["uint8", "float"]
STAGES: tuple[Stage, ...] = ("uint8", "float")


@runtime_checkable
class BatchTransform(Protocol):
    """A batch-level transform the loader applies to every training batch."""

    stage: Stage

    def __call__(
        self, images: torch.Tensor, targets: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]: ...


class ImageHook:
    """Adapt a batched images-only function into a :class:`BatchTransform`.

    ``fn(images, generator=generator, **kwargs)`` must return the transformed
    images; the targets pass through unchanged. Example::

        ImageHook(cutout_batch, stage="float", length=16)
    """

    def __init__(self, fn: Callable[..., torch.Tensor], stage: Stage, **kwargs: Any) -> None:
        check_choice("stage", stage, STAGES)
        self.fn = fn
        self.stage: Stage = stage
        self.kwargs = kwargs

    def __call__(
        self, images: torch.Tensor, targets: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.fn(images, generator=generator, **self.kwargs), targets

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"ImageHook({self.fn.__name__}, stage={self.stage!r}{', ' if args else ''}{args})"
