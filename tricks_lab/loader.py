"""A GPU-resident CIFAR batch loader with batched, per-sample augmentation.

The whole uint8 dataset lives on the training device (150 MB for CIFAR-10's
training set), so an epoch costs no host-to-device copies and no worker
processes: the trick behind the CIFAR-10 speed runs (Page, 2018, "How to
train your ResNet"; Jordan, 2024, "94% on CIFAR-10 in 3.29 seconds on a
single GPU"). Each training batch is built in four steps::

    random crop + flip (uint8) -> "uint8" hooks -> normalise -> "float" hooks

The standard CIFAR augmentation (He et al., 2016, "Deep Residual Learning for
Image Recognition", sec. 4.2) pads each side by ``p`` pixels and crops a random
``H x W`` window, then flips horizontally with probability 1/2. With reflect
padding, output pixel ``(i, j)`` of an image with offsets ``(dy, dx)`` in
``[0, 2p]`` and flip bit ``f`` is the source pixel::

    row = reflect(i + dy - p)
    col = reflect((W - 1 - j if f else j) + dx - p)
    reflect(k) = -k if k < 0;  2 (n - 1) - k if k >= n;  k otherwise

so crop and flip are a single gather, with every image its own offsets and
flip (no padded copy of the dataset is made). The randomness is drawn by
:func:`sample_crop_flip` and applied by the deterministic :func:`apply_crop_flip`.

Paired runs. Every consumer of randomness has its own ``torch.Generator``,
seeded by :func:`stream_seed` from the run's seed and the stream's name: the
data order (``"order"``), the crops and flips (``"crop_flip"``), and each hook
by its position (``"hook/0"``, ``"hook/1"``, ...); the model's initial weights
use ``"init"``. So two runs with the same seed whose recipes differ only in
the loss, the schedule or the optimizer start from the same weights and see
the same batches, and a recipe with a hook sees the same images in the same
order as the baseline up to the point where the hook acts: a hook's draws
never shift the others' (tests/test_loader.py). The paired difference of
their accuracies then holds only the trick's effect and the noise the trick
itself adds (:func:`tricks_lab.stats.paired_interval`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from ._validation import check_choice, check_image_batch, check_positive_int
from .data import CIFAR10_MEAN, CIFAR10_STD
from .hooks import STAGES, BatchTransform



def stream_seed(seed: int, stream: str) -> int:
    """The seed of random stream ``stream`` of a run with ``seed``: 63 bits of SHA-256 of ``"seed/stream"``.

    Independent-looking seeds for every (seed, stream) pair, stable across
    processes, machines and Python versions (unlike ``hash``).
    """
    check_positive_int("seed", seed, allow_zero=True)
    digest = hashlib.sha256(f"{seed}/{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def stream_generator(seed: int, stream: str, device: torch.device | str = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with :func:`stream_seed` ``(seed, stream)``."""
    generator = torch.Generator(device=torch.device(device))
    generator.manual_seed(stream_seed(seed, stream))
    return generator


@dataclass(frozen=True)
class CropFlipParams:
    """Per-sample crop offsets ``(N, 2)`` as ``(dy, dx)`` in ``[0, 2 padding]``, flip bits ``(N,)``, the padding."""

    offsets: torch.Tensor
    flips: torch.Tensor
    padding: int


def sample_crop_flip(
    n: int, *, padding: int, flip: bool = True, generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> CropFlipParams:
    """Draw uniform crop offsets in ``[0, 2 padding]`` and Bernoulli(1/2) flips (if ``flip``) for ``n`` images."""
    check_positive_int("n", n)
    check_positive_int("padding", padding, allow_zero=True)
    offsets = torch.randint(0, 2 * padding + 1, (n, 2), generator=generator, device=device)
    if flip:
        flips = torch.rand(n, generator=generator, device=device) < 0.5
    else:
        flips = torch.zeros(n, dtype=torch.bool, device=device)
    return CropFlipParams(offsets, flips, padding)


def apply_crop_flip(images: torch.Tensor, params: CropFlipParams) -> torch.Tensor:
    """Crop each image of ``(N, C, H, W)`` from its reflect-padded version and mirror it if asked."""
    check_image_batch("images", images)
    padding = params.padding
    n, channels, height, width = images.shape
    if padding >= min(height, width):
        raise ValueError(f"padding must be < the image size {min(height, width)}, got {padding}")
    device = images.device
    rows = torch.arange(height, device=device)[None, :] + params.offsets[:, :1] - padding
    cols = torch.arange(width, device=device)
    cols = torch.where(params.flips[:, None], width - 1 - cols[None, :], cols[None, :])
    cols = cols + params.offsets[:, 1:] - padding
    rows, cols = _reflect(rows, height), _reflect(cols, width)
    batch = torch.arange(n, device=device)[:, None, None, None]
    chan = torch.arange(channels, device=device)[None, :, None, None]
    return images[batch, chan, rows[:, None, :, None], cols[:, None, None, :]]


def _reflect(index: torch.Tensor, size: int) -> torch.Tensor:
    index = index.abs()
    return torch.where(index >= size, 2 * (size - 1) - index, index)


def normalize(images: torch.Tensor, mean: Sequence[float], std: Sequence[float], dtype: torch.dtype) -> torch.Tensor:
    """``(x / 255 - mean) / std`` per channel, computed in float32 and cast to ``dtype``."""
    scale = torch.tensor(std, device=images.device).mul(255.0).reciprocal().view(1, -1, 1, 1)
    shift = torch.tensor(mean, device=images.device).div(torch.tensor(std, device=images.device))
    return (images.float() * scale - shift.view(1, -1, 1, 1)).to(dtype)


class GpuLoader:
    """Batches of a uint8 image set kept on ``device``, augmented on the device.

    Args:
        images: ``(N, H, W, C)`` uint8 array or tensor (CIFAR's layout).
        labels: ``(N,)`` int64 class indices.
        batch_size: images per batch.
        train: shuffle and augment (crop + flip + hooks) if True; plain
            in-order batches, all images kept, if False.
        device: where the data lives and the batches are made.
        seed: the run's seed, from which the loader's random streams are
            derived (data order, crops and flips, each hook: see the module
            docstring); the same seed gives the same batches.
        padding: reflect padding of the random crop (0 disables the crop).
        flip: random horizontal flips.
        hooks: batch transforms (see :mod:`tricks_lab.hooks`), applied
            in order within their stage.
        drop_last: drop the last incomplete batch (default: True when training).
        dtype: dtype of the yielded images.
        channels_last: yield images in channels_last memory format.
        mean, std: normalisation constants, fractions of 255.
    Yields ``(images, targets)``: float ``(B, C, H, W)`` and int64 ``(B,)``
    labels, or float ``(B, K)`` soft targets when a hook makes them.
    """

    def __init__(
        self,
        images: np.ndarray | torch.Tensor,
        labels: np.ndarray | torch.Tensor,
        batch_size: int,
        *,
        train: bool,
        device: torch.device | str = "cpu",
        seed: int = 0,
        padding: int = 4,
        flip: bool = True,
        hooks: Sequence[BatchTransform] = (),
        drop_last: bool | None = None,
        dtype: torch.dtype = torch.float32,
        channels_last: bool = True,
        mean: Sequence[float] = CIFAR10_MEAN,
        std: Sequence[float] = CIFAR10_STD,
    ) -> None:
        check_positive_int("batch_size", batch_size)
        check_positive_int("padding", padding, allow_zero=True)
        images_t = torch.as_tensor(images)
        labels_t = torch.as_tensor(labels)
        if images_t.ndim != 4 or images_t.dtype != torch.uint8:
            raise ValueError(
                f"images must be uint8 (N, H, W, C), got {images_t.dtype} {tuple(images_t.shape)}"
            )
        if labels_t.shape != (len(images_t),):
            raise ValueError(f"labels must have shape ({len(images_t)},), got {tuple(labels_t.shape)}")
        self.drop_last = train if drop_last is None else drop_last
        if batch_size > len(images_t) and self.drop_last:
            raise ValueError(
                f"batch_size={batch_size} is larger than the data ({len(images_t)} images); "
                f"with drop_last no batch would be made"
            )
        for hook in hooks:
            check_choice("hook.stage", getattr(hook, "stage", None), STAGES)
        self.device = torch.device(device)
        self.images = images_t.to(self.device).permute(0, 3, 1, 2).contiguous()
        self.labels = labels_t.to(self.device, torch.int64)
        self.batch_size = batch_size
        self.train = train
        self.padding = padding
        self.flip = flip
        self.hooks = tuple(hooks)
        self.dtype = dtype
        self.channels_last = channels_last
        self.mean, self.std = tuple(mean), tuple(std)
        self.seed = seed
        self.order_generator = stream_generator(seed, "order", self.device)
        self.crop_flip_generator = stream_generator(seed, "crop_flip", self.device)
        self.hook_generators = tuple(stream_generator(seed, f"hook/{i}", self.device) for i in range(len(hooks)))

    def __len__(self) -> int:
        n = len(self.images)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    @property
    def num_images(self) -> int:
        return len(self.images)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.images)
        if self.train:
            order = torch.randperm(n, generator=self.order_generator, device=self.device)
        else:
            order = torch.arange(n, device=self.device)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            index = order[start : start + self.batch_size]
            yield self.make_batch(self.images[index], self.labels[index])

    def make_batch(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Augment (when training), normalise and hook one uint8 ``(B, C, H, W)`` batch."""
        targets = labels
        if self.train:
            if self.padding or self.flip:
                params = sample_crop_flip(len(images), padding=self.padding, flip=self.flip,
                                          generator=self.crop_flip_generator, device=self.device)
                images = apply_crop_flip(images, params)
            images, targets = self._run_hooks("uint8", images, targets)
        images = normalize(images, self.mean, self.std, torch.float32)
        if self.train:
            images, targets = self._run_hooks("float", images, targets)
        images = images.to(self.dtype)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images, targets

    def _run_hooks(
        self, stage: str, images: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        for hook, generator in zip(self.hooks, self.hook_generators):
            if hook.stage == stage:
                images, targets = hook(images, targets, generator)
        return images, targets

    def __repr__(self) -> str:
        return (
            f"GpuLoader({self.num_images} images, batch_size={self.batch_size}, train={self.train}, "
            f"device={self.device}, hooks={list(self.hooks)})"
        )
