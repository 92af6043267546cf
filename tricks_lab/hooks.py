"""The batch-hook protocol: how tricks plug into the GPU-resident loader.

The loader (:class:`tricks_lab.loader.GpuLoader`) builds every training batch in
four steps::

    uint8 crop + flip  ->  "uint8" hooks  ->  float, normalised  ->  "float" hooks

A hook is any object with a ``stage`` attribute (``"uint8"`` or ``"float"``)
that is called as ``hook(images, targets, generator)`` and returns
``(images, targets)`` (the :class:`BatchTransform` protocol). ``images`` is
``(N, C, H, W)`` on the loader's device (uint8 in ``[0, 255]`` at the uint8
stage; normalised float at the float stage, so a fill of 0 there is the
dataset mean); ``targets`` is either int64 class indices ``(N,)`` or float soft
targets ``(N, K)``; ``generator`` is a ``torch.Generator`` on the same device
(or ``None`` for torch's global RNG), so a seeded loader stays deterministic.

Every batched augmentation of the package is a :class:`Hook`: it splits its
randomness from its pixels as ``torchvision.transforms.v2`` does with
``make_params`` / ``transform``::

    params = hook.make_params(images, generator)      # sample_<op>(N, ..., generator=...)
    images, targets = hook.transform(images, targets, params)   # apply_<op>, unchecked

The hook's arguments are validated once, in its constructor; the per-batch
path runs the unchecked kernels only, so it never reads a device value on the
host (no synchronisation; the tests run every hook on the ``meta`` device).
The public functions of the op modules (``sample_<op>``, ``apply_<op>``,
``<op>``) are the checked boundary.

:class:`ImageHook` adapts any ``fn(images, generator=..., **kwargs) -> images``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Literal, Protocol, runtime_checkable

import torch

from ._validation import check_choice

__all__ = [
    "STAGES",
    "BatchTransform",
    "Hook",
    "ImageHook",
    "Stage",
    "check_one_shape",
    "sample_coin",
    "sample_uniform_int",
    "sampling_device",
    "v2_image_inputs",
]

Stage = Literal["uint8", "float"]
STAGES: tuple[Stage, ...] = ("uint8", "float")


@runtime_checkable
class BatchTransform(Protocol):
    """A batch-level transform the loader applies to every training batch."""

    stage: Stage

    def __call__(
        self, images: torch.Tensor, targets: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]: ...


class Hook(ABC):
    """Base class of every batched augmentation the loader runs.

    Subclasses set :attr:`stage` and implement :meth:`make_params` (draw the
    per-sample parameters from ``generator``, on the images' device) and
    :meth:`transform` (apply them, deterministic, without argument checks and
    without host synchronisation). ``__call__`` chains the two.
    """

    stage: Stage

    @abstractmethod
    def make_params(self, images: torch.Tensor, generator: torch.Generator | None) -> Any:
        """Draw this batch's parameters (a frozen ``<Op>Params`` dataclass)."""

    @abstractmethod
    def transform(
        self, images: torch.Tensor, targets: torch.Tensor, params: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply drawn parameters: ``(images, targets) -> (images, targets)``."""

    def __call__(
        self,
        images: torch.Tensor,
        targets: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The loader's call: ``transform(images, targets, make_params(images, generator))``."""
        return self.transform(images, targets, self.make_params(images, generator))

    def _options(self) -> dict[str, Any]:
        """The constructor arguments shown by ``repr``."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._options().items())
        return f"{type(self).__name__}({args})"


class ImageHook(Hook):
    """Adapt a batched images-only function into a hook.

    ``fn(images, generator=generator, **kwargs)`` must return the transformed
    images; the targets pass through unchanged. Example::

        ImageHook(my_noise, stage="float", sigma=0.1)

    The function draws and applies in one call, so :meth:`make_params` returns
    the generator and :meth:`transform` calls ``fn``.
    """

    def __init__(self, fn: Callable[..., torch.Tensor], stage: Stage, **kwargs: Any) -> None:
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        check_choice("stage", stage, STAGES)
        self.fn = fn
        self.stage: Stage = stage
        self.kwargs = kwargs

    def make_params(self, images: torch.Tensor, generator: torch.Generator | None) -> Any:
        return generator

    def transform(
        self, images: torch.Tensor, targets: torch.Tensor, params: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.fn(images, generator=params, **self.kwargs), targets

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        name = getattr(self.fn, "__name__", repr(self.fn))
        return f"ImageHook({name}, stage={self.stage!r}{', ' if args else ''}{args})"


def sampling_device(
    generator: torch.Generator | None, device: torch.device | str | None
) -> torch.device:
    """Where a sampler draws: ``device`` if given, else the generator's, else the CPU."""
    if device is not None:
        return torch.device(device)
    return generator.device if generator is not None else torch.device("cpu")


# ----------------------------------------------------------------------------
# Draws shared by the samplers of every op module
# ----------------------------------------------------------------------------


def sample_coin(
    n: int,
    p: float,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """One ``Bernoulli(p)`` coin per sample, ``(n,)`` bool: ``u_i < p``, ``u_i ~ U[0, 1)``.

    ``p = 1`` draws nothing and returns all ``True``, so an op applied to every
    sample consumes no extra randomness; ``0 < p < 1`` (and ``p = 0``) draw ``n``
    uniforms. Unchecked: callers validate ``p``.
    """
    device = sampling_device(generator, device)
    if p >= 1.0:
        return torch.ones(n, dtype=torch.bool, device=device)
    return torch.rand(n, generator=generator, device=device) < p


def sample_uniform_int(high: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Integers uniform on ``{0, ..., high}``, one per entry of ``high >= 0`` (int64, its shape).

    ``min(floor(u (high + 1)), high)`` with ``u ~ U[0, 1)`` in float64, drawn on
    ``high``'s device: a per-entry upper bound, which ``torch.randint`` cannot take.
    """
    uniform = torch.rand(high.shape, generator=generator, device=high.device, dtype=torch.float64)
    return torch.minimum(torch.floor(uniform * (high + 1)).long(), high)


def v2_image_inputs(flat_inputs: list[Any]) -> list[Any]:
    """The inputs a ``torchvision.transforms.v2`` transform treats as images, by torchvision's rule:
    every ``tv_tensors.Image``/``Video`` and PIL image, and the first plain tensor only when
    there is none of those (later plain tensors, e.g. labels, pass through)."""
    import PIL.Image
    from torchvision import tv_tensors

    images = [inpt for inpt in flat_inputs if isinstance(inpt, (tv_tensors.Image, tv_tensors.Video, PIL.Image.Image))]
    if images:
        return images
    plain = [inpt for inpt in flat_inputs if isinstance(inpt, torch.Tensor) and not isinstance(inpt, tv_tensors.TVTensor)]
    return plain[:1]


def check_one_shape(name: str, shapes: set[tuple[int, ...]]) -> None:
    """A v2 transform draws once per call for every image in it: refuse image inputs of different shapes."""
    if len(shapes) > 1:
        raise ValueError(
            f"{name} draws once per image for the whole call, so all image inputs must have the same shape, "
            f"got {sorted(shapes)}; call it once per input"
        )
