"""AutoAugment: the published policies, per image and batched with per-image draws.

Cubuk, Zoph, Mane, Vasudevan and Le (2019), "AutoAugment: Learning Augmentation
Strategies from Data", CVPR. A reinforcement-learning controller searched for a
*policy*: 25 sub-policies of two operations each, every operation with a
probability ``p`` and a magnitude index ``m`` in 0-9. Training applies, to each
image independently::

    s ~ Uniform{1..25};  for (op, p, m) in sub-policy s:  with probability p,
    image <- op(image, sign * v_op(m)),  sign = +-1 with probability 1/2 where op is signed

:data:`POLICIES` holds the three published policies as printed in the paper.

Magnitude scales (``v_op(m)``) follow torchvision: ten evenly spaced values from
0 to the paper's bound (shear 0.3, rotate 30 degrees, enhancement 0.9 around a
factor of 1, posterize 8 down to 4 bits, solarize threshold 255 down to 0). The
paper's TensorFlow code spaces them as ``m / 10`` and uses unsigned enhancement
factors ``0.1 + 1.8 m / 10``; we keep torchvision's so our results can be
compared with its per-image transform. Translation has two conventions, chosen
with ``translate``:

- ``"relative"`` (default, torchvision): up to 150/331 of the side, the paper's
  150 pixels on its 331-pixel ImageNet images, truncated to whole pixels (up to
  14 pixels on a 32-pixel CIFAR image);
- ``"absolute"`` (the paper's TensorFlow CIFAR code): ``m`` pixels, at most 9 of
  its nominal 10.

Randomness is split as in torchvision v2, with the package's one signature:
``sample_autoaugment(n, height, width, policy, *, translate, generator, device)``
draws the per-image choices (:class:`AutoAugmentParams`, which carry each
step's operation and signed strength, so applying needs neither the policy
nor the image size again); ``apply_autoaugment(images, params)`` applies them.
:func:`autoaugment` does both on the batch's device, grouping the images by
operation (never looping over images); torchvision and kornia, given a batch,
draw one sub-policy for it. :class:`AutoAugmentHook` is the loader hook and
:class:`AutoAugment` the per-image ``torchvision.transforms.v2`` transform;
:data:`AUGMENTS` maps the recipe's names to hook factories. The operations,
their kernels and magnitude ranges are one table,
:data:`tricks_lab.autoaugment_ops.OPERATIONS`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Union

import PIL.Image
import torch
from torchvision import tv_tensors
from torchvision.transforms.v2 import Transform
from torchvision.transforms.v2 import functional as tvf

from ._validation import check_choice, check_in_range, check_positive_int, check_probability
from .autoaugment_ops import (
    NUM_MAGNITUDES,
    OP_NAMES,
    OPERATIONS,
    TRANSLATE_CONVENTIONS,
    check_uint8_images,
    run_operation,
)
from .hooks import Hook, Stage, check_one_shape, sampling_device, v2_image_inputs
from .per_image import transform_one

__all__ = [
    "AUGMENTS",
    "POLICIES",
    "TRANSLATE_CONVENTIONS",
    "AutoAugment",
    "AutoAugmentHook",
    "AutoAugmentParams",
    "PerImageHook",
    "apply_autoaugment",
    "apply_operation",
    "autoaugment",
    "magnitude_values",
    "randaugment_hook",
    "sample_autoaugment",
    "trivialaugment_hook",
]

Operation = tuple[str, float, int]
"""``(operation name, probability, magnitude index 0-9)``."""
SubPolicy = tuple[Operation, Operation]
PolicyLike = Union[str, Sequence[SubPolicy]]

POLICIES: dict[str, list[SubPolicy]] = {
    "cifar10": [
        (("Invert", 0.1, 7), ("Contrast", 0.2, 6)),
        (("Rotate", 0.7, 2), ("TranslateX", 0.3, 9)),
        (("Sharpness", 0.8, 1), ("Sharpness", 0.9, 3)),
        (("ShearY", 0.5, 8), ("TranslateY", 0.7, 9)),
        (("AutoContrast", 0.5, 8), ("Equalize", 0.9, 2)),
        (("ShearY", 0.2, 7), ("Posterize", 0.3, 7)),
        (("Color", 0.4, 3), ("Brightness", 0.6, 7)),
        (("Sharpness", 0.3, 9), ("Brightness", 0.7, 9)),
        (("Equalize", 0.6, 5), ("Equalize", 0.5, 1)),
        (("Contrast", 0.6, 7), ("Sharpness", 0.6, 5)),
        (("Color", 0.7, 7), ("TranslateX", 0.5, 8)),
        (("Equalize", 0.3, 7), ("AutoContrast", 0.4, 8)),
        (("TranslateY", 0.4, 3), ("Sharpness", 0.2, 6)),
        (("Brightness", 0.9, 6), ("Color", 0.2, 8)),
        (("Solarize", 0.5, 2), ("Invert", 0.0, 3)),
        (("Equalize", 0.2, 0), ("AutoContrast", 0.6, 0)),
        (("Equalize", 0.2, 8), ("Equalize", 0.6, 4)),
        (("Color", 0.9, 9), ("Equalize", 0.6, 6)),
        (("AutoContrast", 0.8, 4), ("Solarize", 0.2, 8)),
        (("Brightness", 0.1, 3), ("Color", 0.7, 0)),
        (("Solarize", 0.4, 5), ("AutoContrast", 0.9, 3)),
        (("TranslateY", 0.9, 9), ("TranslateY", 0.7, 9)),
        (("AutoContrast", 0.9, 2), ("Solarize", 0.8, 3)),
        (("Equalize", 0.8, 8), ("Invert", 0.1, 3)),
        (("TranslateY", 0.7, 9), ("AutoContrast", 0.9, 1)),
    ],
    "svhn": [
        (("ShearX", 0.9, 4), ("Invert", 0.2, 3)),
        (("ShearY", 0.9, 8), ("Invert", 0.7, 5)),
        (("Equalize", 0.6, 5), ("Solarize", 0.6, 6)),
        (("Invert", 0.9, 3), ("Equalize", 0.6, 3)),
        (("Equalize", 0.6, 1), ("Rotate", 0.9, 3)),
        (("ShearX", 0.9, 4), ("AutoContrast", 0.8, 3)),
        (("ShearY", 0.9, 8), ("Invert", 0.4, 5)),
        (("ShearY", 0.9, 5), ("Solarize", 0.2, 6)),
        (("Invert", 0.9, 6), ("AutoContrast", 0.8, 1)),
        (("Equalize", 0.6, 3), ("Rotate", 0.9, 3)),
        (("ShearX", 0.9, 4), ("Solarize", 0.3, 3)),
        (("ShearY", 0.8, 8), ("Invert", 0.7, 4)),
        (("Equalize", 0.9, 5), ("TranslateY", 0.6, 6)),
        (("Invert", 0.9, 4), ("Equalize", 0.6, 7)),
        (("Contrast", 0.3, 3), ("Rotate", 0.8, 4)),
        (("Invert", 0.8, 5), ("TranslateY", 0.0, 2)),
        (("ShearY", 0.7, 6), ("Solarize", 0.4, 8)),
        (("Invert", 0.6, 4), ("Rotate", 0.8, 4)),
        (("ShearY", 0.3, 7), ("TranslateX", 0.9, 3)),
        (("ShearX", 0.1, 6), ("Invert", 0.6, 5)),
        (("Solarize", 0.7, 2), ("TranslateY", 0.6, 7)),
        (("ShearY", 0.8, 4), ("Invert", 0.8, 8)),
        (("ShearX", 0.7, 9), ("TranslateY", 0.8, 3)),
        (("ShearY", 0.8, 5), ("AutoContrast", 0.7, 3)),
        (("ShearX", 0.7, 2), ("Invert", 0.1, 5)),
    ],
    "imagenet": [
        (("Posterize", 0.4, 8), ("Rotate", 0.6, 9)),
        (("Solarize", 0.6, 5), ("AutoContrast", 0.6, 5)),
        (("Equalize", 0.8, 8), ("Equalize", 0.6, 3)),
        (("Posterize", 0.6, 7), ("Posterize", 0.6, 6)),
        (("Equalize", 0.4, 7), ("Solarize", 0.2, 4)),
        (("Equalize", 0.4, 4), ("Rotate", 0.8, 8)),
        (("Solarize", 0.6, 3), ("Equalize", 0.6, 7)),
        (("Posterize", 0.8, 5), ("Equalize", 1.0, 2)),
        (("Rotate", 0.2, 3), ("Solarize", 0.6, 8)),
        (("Equalize", 0.6, 8), ("Posterize", 0.4, 6)),
        (("Rotate", 0.8, 8), ("Color", 0.4, 0)),
        (("Rotate", 0.4, 9), ("Equalize", 0.6, 2)),
        (("Equalize", 0.0, 7), ("Equalize", 0.8, 8)),
        (("Invert", 0.6, 4), ("Equalize", 1.0, 8)),
        (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
        (("Rotate", 0.8, 8), ("Color", 1.0, 2)),
        (("Color", 0.8, 8), ("Solarize", 0.8, 7)),
        (("Sharpness", 0.4, 7), ("Invert", 0.6, 8)),
        (("ShearX", 0.6, 5), ("Equalize", 1.0, 9)),
        (("Color", 0.4, 0), ("Equalize", 0.6, 3)),
        (("Equalize", 0.4, 7), ("Solarize", 0.2, 4)),
        (("Solarize", 0.6, 5), ("AutoContrast", 0.6, 5)),
        (("Invert", 0.6, 4), ("Equalize", 1.0, 8)),
        (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
        (("Equalize", 0.8, 8), ("Equalize", 0.6, 3)),
    ],
}
"""The published policies (Cubuk et al. 2019, appendix tables), duplicates as
printed. AutoContrast, Equalize and Invert take no magnitude; their printed
indices are kept and ignored (torchvision stores ``None`` there)."""

# ----------------------------------------------------------------- magnitudes


@functools.lru_cache(maxsize=64)
def _magnitude_grid(height: int, width: int, translate: str, device: torch.device) -> torch.Tensor:
    """``(len(OP_NAMES), 10)`` float64: row ``o`` is ``v_o(m)``; zeros for magnitude-free ops."""
    rows = [spec.magnitudes(height, width, translate) for spec in OPERATIONS.values()]
    return torch.stack(rows).to(device)


@functools.lru_cache(maxsize=64)
def _magnitude_rows(height: int, width: int, translate: str) -> list[list[float]]:
    """:func:`_magnitude_grid` as Python floats, for draws on the host."""
    return _magnitude_grid(height, width, translate, torch.device("cpu")).tolist()


def magnitude_values(op: str, height: int = 32, width: int = 32, translate: str = "relative") -> torch.Tensor:
    """The ten strengths ``v_op(0..9)`` of an operation on ``height x width`` images.

    Units are the operation's: shear coefficient, pixels, degrees, threshold
    grey level, bits, or the enhancement offset ``v`` of a factor ``1 +- v``;
    zeros for AutoContrast, Equalize and Invert. Index ``m`` sits at ``m / 9``
    of the way from the weakest to the strongest value, torchvision's spacing
    (Cubuk et al. 2019, "AutoAugment").
    """
    check_choice("op", op, OP_NAMES)
    check_positive_int("height", height)
    check_positive_int("width", width)
    check_choice("translate", translate, TRANSLATE_CONVENTIONS)
    return _magnitude_grid(height, width, translate, torch.device("cpu"))[OP_NAMES.index(op)].clone()


def apply_operation(
    images: torch.Tensor,
    op: str,
    magnitude_index: int,
    *,
    negative: bool = False,
    translate: str = "relative",
) -> torch.Tensor:
    """Apply one operation at magnitude index ``m`` to every image: ``op(x, +-v_op(m))``.

    ``negative`` flips the sign of signed operations (ignored by the others).
    For galleries and widgets (Cubuk et al. 2019, "AutoAugment").
    """
    check_uint8_images("images", images, rgb=True)
    check_choice("op", op, OP_NAMES)
    _check_magnitude_index("magnitude_index", magnitude_index)
    if not isinstance(negative, bool):
        raise TypeError(f"negative must be a bool, got {type(negative).__name__} {negative!r}")
    check_choice("translate", translate, TRANSLATE_CONVENTIONS)
    height, width = images.shape[-2:]
    strength = _magnitude_grid(height, width, translate, images.device)[OP_NAMES.index(op), magnitude_index]
    sign = -1.0 if negative and OPERATIONS[op].signed else 1.0
    return run_operation(op, images, (sign * strength).expand(images.shape[0]))


# ----------------------------------------------------------------- policies


def _check_magnitude_index(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int in 0-{NUM_MAGNITUDES - 1}, got {type(value).__name__} {value!r}")
    check_in_range(name, value, 0, NUM_MAGNITUDES - 1)


def _check_operation(name: str, operation: Any) -> Operation:
    if not isinstance(operation, (tuple, list)) or len(operation) != 3:
        raise ValueError(f"{name} must be (operation name, probability, magnitude index), got {operation!r}")
    op, probability, magnitude_index = operation
    check_choice(f"{name} operation", op, OP_NAMES)
    check_probability(f"{name} probability", probability)
    _check_magnitude_index(f"{name} magnitude index", magnitude_index)
    return (op, float(probability), magnitude_index)


def _policy_key(policy: PolicyLike) -> tuple[SubPolicy, ...]:
    """Validate a policy name or a list of sub-policies; return it as hashable tuples."""
    if isinstance(policy, str):
        check_choice("policy", policy, POLICIES)
        policy = POLICIES[policy]
    if not isinstance(policy, Sequence) or len(policy) == 0:
        raise ValueError(
            f"policy must be one of {sorted(POLICIES)} or a non-empty list of sub-policies, got {policy!r}"
        )
    key = []
    for i, sub_policy in enumerate(policy):
        if not isinstance(sub_policy, (tuple, list)) or len(sub_policy) != 2:
            raise ValueError(f"policy[{i}] must be a pair of operations, got {sub_policy!r}")
        first, second = (_check_operation(f"policy[{i}][{k}]", sub_policy[k]) for k in range(2))
        key.append((first, second))
    return tuple(key)


@dataclass(frozen=True)
class _PolicyTable:
    """A policy as tensors: ``(S, 2)`` operation index, probability, magnitude index, signed."""

    op_index: torch.Tensor
    probability: torch.Tensor
    magnitude_index: torch.Tensor
    signed: torch.Tensor


@functools.lru_cache(maxsize=64)
def _policy_table(key: tuple[SubPolicy, ...], device: torch.device) -> _PolicyTable:
    def column(value: Callable[[Operation], Any], dtype: torch.dtype) -> torch.Tensor:
        return torch.tensor([[value(op) for op in sub_policy] for sub_policy in key], dtype=dtype, device=device)

    return _PolicyTable(
        op_index=column(lambda op: OP_NAMES.index(op[0]), torch.int64),
        probability=column(lambda op: op[1], torch.float32),
        magnitude_index=column(lambda op: op[2], torch.int64),
        signed=column(lambda op: OPERATIONS[op[0]].signed, torch.bool),
    )


@dataclass(frozen=True)
class AutoAugmentParams:
    """Per-image AutoAugment choices for ``N`` images, complete: applying them needs
    neither the policy nor the image size.

    ``sub_policy`` int64 ``(N,)``: index of the drawn sub-policy (for plotting);
    ``op_index`` int64 ``(N, 2)``: each step's operation, an index into
    :data:`tricks_lab.autoaugment_ops.OP_NAMES`;
    ``fired`` bool ``(N, 2)``: whether each step applies (the operation's coin ``p``);
    ``sign`` int64 ``(N, 2)``, +1 or -1: the sign of each step's magnitude (always
    +1 for unsigned operations);
    ``strength`` float64 ``(N, 2)``: the signed strength ``sign * v_op(m)`` (the
    kernel takes ``1 + strength`` for the enhancement operations).
    """

    sub_policy: torch.Tensor
    op_index: torch.Tensor
    fired: torch.Tensor
    sign: torch.Tensor
    strength: torch.Tensor


def sample_autoaugment(
    n: int,
    height: int,
    width: int,
    policy: PolicyLike = "cifar10",
    *,
    translate: str = "relative",
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> AutoAugmentParams:
    """Draw each image's sub-policy, coin flips and signs.

    ``s_i ~ Uniform{0..S-1}``; operation ``k`` fires iff ``u_ik < p_{s_i,k}``
    (``u ~ U[0, 1)``, so ``p = 0`` never and ``p = 1`` always fires); its sign is
    -1 with probability 1/2 for signed operations; its strength is
    ``sign * v_op(m)`` on ``height x width`` images (Cubuk et al. 2019,
    "AutoAugment"). ``device`` defaults to the generator's, else CPU.
    """
    check_positive_int("n", n)
    check_positive_int("height", height)
    check_positive_int("width", width)
    check_choice("translate", translate, TRANSLATE_CONVENTIONS)
    device = sampling_device(generator, device)
    table = _policy_table(_policy_key(policy), device)
    return _draw(n, table, _magnitude_grid(height, width, translate, device), generator, device)


def _draw(
    n: int, table: _PolicyTable, grid: torch.Tensor, generator: torch.Generator | None, device: torch.device
) -> AutoAugmentParams:
    sub_policy = torch.randint(table.op_index.shape[0], (n,), generator=generator, device=device)
    fired = torch.rand(n, 2, generator=generator, device=device) < table.probability[sub_policy]
    negative = (torch.rand(n, 2, generator=generator, device=device) < 0.5) & table.signed[sub_policy]
    sign = 1 - 2 * negative.long()
    op_index = table.op_index[sub_policy]
    strength = grid[op_index, table.magnitude_index[sub_policy]] * sign
    return AutoAugmentParams(sub_policy=sub_policy, op_index=op_index, fired=fired, sign=sign, strength=strength)


def _check_params(params: Any, images: torch.Tensor) -> None:
    if not isinstance(params, AutoAugmentParams):
        raise TypeError(f"params must be AutoAugmentParams, got {type(params).__name__}")
    n = images.shape[0]
    expected = {"sub_policy": ((n,), torch.int64), "op_index": ((n, 2), torch.int64), "fired": ((n, 2), torch.bool),
                "sign": ((n, 2), torch.int64), "strength": ((n, 2), torch.float64)}
    for field, (shape, dtype) in expected.items():
        value = getattr(params, field)
        if not isinstance(value, torch.Tensor) or value.shape != shape or value.device != images.device:
            found = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ValueError(f"params.{field} must be a tensor of shape {shape} on {images.device}, got {found}")
        if value.dtype != dtype:
            raise TypeError(f"params.{field} must have dtype {dtype}, got {value.dtype}")
    if bool(((params.op_index < 0) | (params.op_index >= len(OP_NAMES))).any()):
        raise ValueError(f"params.op_index must lie in [0, {len(OP_NAMES) - 1}], got {params.op_index.tolist()}")
    if not bool((params.sign.abs() == 1).all()):
        raise ValueError(f"params.sign must be +1 or -1, got {params.sign.tolist()}")
    if not bool(torch.isfinite(params.strength).all()):
        raise ValueError(f"params.strength must be finite, got {params.strength.tolist()}")


_HOST_LOOP_MAX = 4
"""Up to this many images with parameters on the CPU, apply image by image (the per-image path)."""


def _apply(images: torch.Tensor, params: AutoAugmentParams) -> torch.Tensor:
    """Apply both steps. Three equivalent paths, chosen by where the data is:

    - a few images with parameters on the CPU (the per-image transform): one kernel
      call per fired step, read on the host at no cost;
    - a CPU batch: in each step, one kernel call per operation on the images it hits
      (grouping reads the group sizes, free on the CPU);
    - an accelerator batch: in each step, every operation runs on the whole batch
      and a select keeps each image's own, so the host never waits for the device.
    """
    if params.op_index.device.type == "cpu" and images.shape[0] <= _HOST_LOOP_MAX:
        return _apply_on_host(images, params)
    if images.device.type == "cpu":
        return _apply_grouped(images, params)
    return _apply_masked(images, params)


def _apply_on_host(images: torch.Tensor, params: AutoAugmentParams) -> torch.Tensor:
    strengths = params.strength.to(images.device)
    out = []
    for i, (ops, fired) in enumerate(zip(params.op_index.tolist(), params.fired.tolist())):
        image = images[i : i + 1]
        for k, (op, fire) in enumerate(zip(ops, fired)):
            if fire:
                image = run_operation(OP_NAMES[op], image, strengths[i, k : k + 1])
        out.append(image if any(fired) else image.clone())
    return torch.cat(out) if len(out) > 1 else out[0]


def _apply_grouped(images: torch.Tensor, params: AutoAugmentParams) -> torch.Tensor:
    out = images.clone()
    not_fired = len(OP_NAMES)
    for step in range(2):
        op_index = torch.where(params.fired[:, step], params.op_index[:, step], not_fired)
        strength = params.strength[:, step]
        order = torch.argsort(op_index, stable=True)
        counts = torch.bincount(op_index, minlength=not_fired + 1).tolist()
        for op, members in zip(OP_NAMES, order.split(counts)):
            if members.numel():
                out[members] = run_operation(op, out[members], strength[members])
    return out


def _apply_masked(images: torch.Tensor, params: AutoAugmentParams) -> torch.Tensor:
    out = images
    fired = params.fired.to(images.device)
    op_index = params.op_index.to(images.device)
    strength = params.strength.to(images.device)
    for step in range(2):
        chosen = torch.where(fired[:, step], op_index[:, step], len(OP_NAMES)).view(-1, 1, 1, 1)
        current = out
        for o, op in enumerate(OP_NAMES):
            out = torch.where(chosen == o, run_operation(op, current, strength[:, step]), out)
    return out if out is not images else images.clone()


def apply_autoaugment(images: torch.Tensor, params: AutoAugmentParams) -> torch.Tensor:
    """Apply given per-image choices: ``x_i <- op_2(op_1(x_i))`` for the fired operations.

    Step ``k`` of image ``i`` is ``op_ik(x, strength_ik)`` (``1 + strength`` for the
    enhancement operations); deterministic, the input is not modified (Cubuk et al.
    2019, "AutoAugment").
    """
    check_uint8_images("images", images, rgb=True)
    _check_params(params, images)
    return _apply(images, params)


def autoaugment(
    images: torch.Tensor,
    policy: PolicyLike = "cifar10",
    *,
    translate: str = "relative",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """AutoAugment a uint8 batch on its device, every image with its own draws.

    :func:`sample_autoaugment` then :func:`apply_autoaugment`; as a loader hook:
    :class:`AutoAugmentHook` (Cubuk et al. 2019, "AutoAugment").
    """
    check_uint8_images("images", images, rgb=True)
    n, _, height, width = images.shape
    params = sample_autoaugment(n, height, width, policy, translate=translate, generator=generator,
                                device=images.device)
    return _apply(images, params)


# ----------------------------------------------------------------- loader hooks


class AutoAugmentHook(Hook):
    """AutoAugment as a loader hook (stage ``"uint8"``): :func:`autoaugment` on every batch,
    each image with its own sub-policy, coins and signs (Cubuk et al. 2019, "AutoAugment").

    The policy is checked once, here; every batch runs the unchecked sampler and applier
    (on an accelerator without host synchronisation).
    """

    stage: Stage = "uint8"

    def __init__(self, policy: PolicyLike = "cifar10", *, translate: str = "relative") -> None:
        self._key = _policy_key(policy)
        check_choice("translate", translate, TRANSLATE_CONVENTIONS)
        self.policy = policy
        self.translate = translate

    def make_params(self, images: torch.Tensor, generator: torch.Generator | None) -> AutoAugmentParams:
        n, _, height, width = images.shape
        device = images.device
        return _draw(n, _policy_table(self._key, device), _magnitude_grid(height, width, self.translate, device),
                     generator, device)

    def transform(self, images: torch.Tensor, targets: torch.Tensor, params: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return _apply(images, params), targets

    def _options(self) -> dict[str, Any]:
        return {"policy": self.policy, "translate": self.translate}


@contextmanager
def _global_rng_seeded_from(generator: torch.Generator | None) -> Iterator[None]:
    """Inside, torch's global CPU RNG is seeded from ``generator``; restored on exit."""
    if generator is None:
        yield
        return
    seed = int(torch.randint(0, 2**62, (), generator=generator, device=generator.device))
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        yield


class PerImageHook(Hook):
    """Loader hook (stage ``"uint8"``) applying a per-image transform image by image.

    ``images[i] <- transform(images[i])`` for any torchvision per-image transform
    (``RandAugment``, ``TrivialAugmentWide``, ``AutoAugment``) on uint8 ``(C, H, W)``
    tensors: the slow path, a Python loop over the batch, so the chapter can run
    those transforms through the same loader. They draw from torch's global CPU
    RNG; given the loader's generator, the hook seeds a forked global RNG from
    it (its params are that seed), so a seeded loader stays deterministic and the
    caller's global RNG state is left as it was. Targets pass through. Reads the
    seed on the host: one synchronisation per batch on an accelerator.
    """

    stage: Stage = "uint8"

    def __init__(self, transform: Callable[[torch.Tensor], torch.Tensor]) -> None:
        if not callable(transform):
            raise TypeError(f"transform must be callable, got {type(transform).__name__}")
        self.per_image = transform

    def make_params(self, images: torch.Tensor, generator: torch.Generator | None) -> torch.Generator | None:
        check_uint8_images("images", images)
        return generator

    def transform(self, images: torch.Tensor, targets: torch.Tensor, params: Any) -> tuple[torch.Tensor, torch.Tensor]:
        with _global_rng_seeded_from(params):
            out = torch.stack([self.per_image(image) for image in images])
        if out.shape != images.shape or out.dtype != images.dtype:
            raise ValueError(
                f"transform must keep each image's shape and dtype, got {tuple(out.shape)} {out.dtype} "
                f"from {tuple(images.shape)} {images.dtype}"
            )
        return out, targets

    def __repr__(self) -> str:
        return f"PerImageHook({self.per_image!r})"


def randaugment_hook() -> PerImageHook:
    """torchvision's ``RandAugment()`` (Cubuk et al. 2020, "RandAugment") through :class:`PerImageHook`."""
    from torchvision.transforms import v2

    return PerImageHook(v2.RandAugment())


def trivialaugment_hook() -> PerImageHook:
    """torchvision's ``TrivialAugmentWide()`` (Müller and Hutter 2021, "TrivialAugment")
    through :class:`PerImageHook`."""
    from torchvision.transforms import v2

    return PerImageHook(v2.TrivialAugmentWide())


AUGMENTS: dict[str, Callable[[], Hook]] = {
    "autoaugment": AutoAugmentHook,
    "randaugment": randaugment_hook,
    "trivialaugment": trivialaugment_hook,
}
"""The recipe's ``augment`` names -> hook factories, each called with no argument
(AutoAugment with the CIFAR-10 policy)."""


# ----------------------------------------------------------------- per-image transform


class AutoAugment(Transform):
    """Per-image AutoAugment as a ``torchvision.transforms.v2`` transform.

    Same policies and scales as :func:`autoaugment`; uint8 RGB images ``(..., 3, H, W)``
    (plain tensors, ``tv_tensors.Image``) or RGB PIL images, each image of a batch
    with its own draw, from torch's global RNG as torchvision's transforms are
    (Cubuk et al. 2019, "AutoAugment").

    Differences from ``torchvision.transforms.v2.AutoAugment``: policies as
    published, given by name (``"cifar10"``, ``"svhn"``, ``"imagenet"``) or as a
    list of sub-policies; nearest interpolation and fill 0 only; RGB only (a
    1-channel or 4-channel tensor and a PIL image in another mode than ``"RGB"``
    are refused, not converted); a batch gets one draw per image (torchvision:
    one for all); videos, boxes and masks are refused; not scriptable.
    """

    def __init__(self, policy: PolicyLike = "cifar10", translate: str = "relative") -> None:
        super().__init__()
        self._key = _policy_key(policy)
        check_choice("translate", translate, TRANSLATE_CONVENTIONS)
        self.policy = policy
        self.translate = translate
        self._table = _policy_table(self._key, torch.device("cpu"))

    def forward(self, *inputs: Any) -> Any:
        """torchvision's ``Transform.forward``, with a short path for the usual single image."""
        if len(inputs) == 1 and (isinstance(inputs[0], (PIL.Image.Image, tv_tensors.Image)) or (
                isinstance(inputs[0], torch.Tensor) and not isinstance(inputs[0], tv_tensors.TVTensor))):
            return transform_one(self, inputs[0])
        return super().forward(*inputs)

    def check_inputs(self, flat_inputs: list[Any]) -> None:
        """Refuse boxes, masks, key points, videos, non-RGB images and mixed image shapes."""
        shapes = set()
        for inpt in flat_inputs:
            if isinstance(inpt, tv_tensors.TVTensor) and not isinstance(inpt, tv_tensors.Image):
                raise TypeError(f"AutoAugment transforms images only, got {type(inpt).__name__}")
        for inpt in v2_image_inputs(flat_inputs):
            if isinstance(inpt, PIL.Image.Image):
                if inpt.mode != "RGB":
                    raise ValueError(
                        f"AutoAugment takes RGB images, got a PIL image in mode {inpt.mode!r}; "
                        "convert it first (image.convert('RGB'))"
                    )
                shapes.add((3, inpt.height, inpt.width))
            else:
                if inpt.ndim < 3 or inpt.shape[-3] != 3 or inpt.dtype != torch.uint8:
                    raise ValueError(
                        f"AutoAugment takes uint8 RGB images (..., 3, H, W), got {inpt.dtype} of shape "
                        f"{tuple(inpt.shape)}"
                    )
                shapes.add(tuple(inpt.shape))
        check_one_shape("AutoAugment", shapes)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        """Draw the choices of every image of the call (as :func:`sample_autoaugment`) from the global RNG."""
        for inpt in v2_image_inputs(flat_inputs):
            if isinstance(inpt, PIL.Image.Image):
                count, height, width = 1, inpt.height, inpt.width
                break
            if isinstance(inpt, torch.Tensor):
                count, height, width = math.prod(inpt.shape[:-3]), inpt.shape[-2], inpt.shape[-1]
                break
        else:
            return {"params": None}
        if count == 1:
            return {"params": self._draw_one(height, width)}
        cpu = torch.device("cpu")
        return {"params": _draw(count, self._table, _magnitude_grid(height, width, self.translate, cpu), None, cpu)}

    def _draw_one(self, height: int, width: int) -> AutoAugmentParams:
        """:func:`sample_autoaugment` for one image, on the host from torch's global RNG in one call:
        the same law (sub-policy uniform, coin ``u < p``, fair sign), without the per-call tensor overhead."""
        u = torch.rand(5).tolist()
        s = min(int(u[0] * len(self._key)), len(self._key) - 1)
        grid = _magnitude_rows(height, width, self.translate)
        ops, fired, signs, strengths = [], [], [], []
        for k, (op, p, m) in enumerate(self._key[s]):
            index = OP_NAMES.index(op)
            sign = -1 if (u[3 + k] < 0.5 and OPERATIONS[op].signed) else 1
            ops.append(index)
            fired.append(u[1 + k] < p)
            signs.append(sign)
            strengths.append(grid[index][m] * sign)
        return AutoAugmentParams(sub_policy=torch.tensor([s]), op_index=torch.tensor([ops]),
                                 fired=torch.tensor([fired]), sign=torch.tensor([signs]),
                                 strength=torch.tensor([strengths], dtype=torch.float64))

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        """Apply the drawn choices, returning the input's type."""
        drawn = params["params"]
        if isinstance(inpt, PIL.Image.Image):
            return tvf.to_pil_image(_apply(tvf.pil_to_tensor(inpt).unsqueeze(0), drawn)[0])
        out = _apply(inpt.reshape(-1, *inpt.shape[-3:]).as_subclass(torch.Tensor), drawn).reshape(inpt.shape)
        return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.Image) else out
