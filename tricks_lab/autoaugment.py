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

Randomness is split as in torchvision v2: :func:`sample_autoaugment` draws the
per-image choices (:class:`AutoAugmentParams`) from a ``torch.Generator``;
:func:`apply_autoaugment` applies given choices. :func:`autoaugment_batch` does
both on the batch's device, grouping the images by operation (never looping
over images); torchvision and kornia, given a batch, draw one sub-policy for it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple, Union

import PIL.Image
import torch
from torchvision import tv_tensors
from torchvision.transforms.v2 import Transform
from torchvision.transforms.v2 import functional as tvf

from ._validation import check_choice, check_in_range, check_positive_int, check_probability
from .autoaugment_ops import KERNELS, OP_NAMES, check_uint8_images
from .transforms import Stage

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

TRANSLATE_CONVENTIONS: tuple[str, ...] = ("relative", "absolute")
NUM_MAGNITUDES = 10
MAGNITUDE_FREE_OPS: frozenset[str] = frozenset({"AutoContrast", "Equalize", "Invert"})
SIGNED_OPS: frozenset[str] = frozenset(
    {"ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness", "Color", "Contrast", "Sharpness"}
)
ENHANCE_OPS: frozenset[str] = frozenset({"Brightness", "Color", "Contrast", "Sharpness"})
"""Operations whose parameter is a factor ``1 + sign * v`` (the others take ``sign * v``)."""


# ----------------------------------------------------------------- magnitudes


def _translate_range(side: int, translate: str) -> torch.Tensor:
    if translate == "absolute":
        return torch.arange(NUM_MAGNITUDES, dtype=torch.float32)
    return torch.linspace(0.0, 150.0 / 331.0 * side, NUM_MAGNITUDES).trunc()


_MAGNITUDE_RANGES: dict[str, Callable[[int, int, str], torch.Tensor]] = {
    "ShearX": lambda h, w, t: torch.linspace(0.0, 0.3, NUM_MAGNITUDES),
    "ShearY": lambda h, w, t: torch.linspace(0.0, 0.3, NUM_MAGNITUDES),
    "TranslateX": lambda h, w, t: _translate_range(w, t),
    "TranslateY": lambda h, w, t: _translate_range(h, t),
    "Rotate": lambda h, w, t: torch.linspace(0.0, 30.0, NUM_MAGNITUDES),
    "Solarize": lambda h, w, t: torch.linspace(1.0, 0.0, NUM_MAGNITUDES).double() * 255.0,
    "Posterize": lambda h, w, t: (8.0 - torch.arange(NUM_MAGNITUDES) * (4.0 / 9.0)).round(),
    "Contrast": lambda h, w, t: torch.linspace(0.0, 0.9, NUM_MAGNITUDES),
    "Color": lambda h, w, t: torch.linspace(0.0, 0.9, NUM_MAGNITUDES),
    "Brightness": lambda h, w, t: torch.linspace(0.0, 0.9, NUM_MAGNITUDES),
    "Sharpness": lambda h, w, t: torch.linspace(0.0, 0.9, NUM_MAGNITUDES),
}


@functools.lru_cache(maxsize=64)
def _magnitude_grid(height: int, width: int, translate: str, device: torch.device) -> torch.Tensor:
    """``(len(OP_NAMES), 10)`` float64: row ``o`` is ``v_o(m)``; zeros for magnitude-free ops."""
    rows = [
        _MAGNITUDE_RANGES[op](height, width, translate).double()
        if op in _MAGNITUDE_RANGES
        else torch.zeros(NUM_MAGNITUDES, dtype=torch.float64)
        for op in OP_NAMES
    ]
    return torch.stack(rows).to(device)


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


def _run_operation(op: str, images: torch.Tensor, signed_strength: torch.Tensor) -> torch.Tensor:
    kernel = KERNELS[op]
    if op in MAGNITUDE_FREE_OPS:
        return kernel(images)
    if op in ENHANCE_OPS:
        return kernel(images, 1.0 + signed_strength)
    return kernel(images, signed_strength)


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
    sign = -1.0 if negative and op in SIGNED_OPS else 1.0
    return _run_operation(op, images, (sign * strength).expand(images.shape[0]))


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


class _PolicyTable(NamedTuple):
    op_index: torch.Tensor  # (S, 2) int64, index into OP_NAMES
    probability: torch.Tensor  # (S, 2) float32
    magnitude_index: torch.Tensor  # (S, 2) int64
    signed: torch.Tensor  # (S, 2) bool


@functools.lru_cache(maxsize=64)
def _policy_table(key: tuple[SubPolicy, ...], device: torch.device) -> _PolicyTable:
    def column(value: Callable[[Operation], Any], dtype: torch.dtype) -> torch.Tensor:
        return torch.tensor([[value(op) for op in sub_policy] for sub_policy in key], dtype=dtype, device=device)

    return _PolicyTable(
        op_index=column(lambda op: OP_NAMES.index(op[0]), torch.int64),
        probability=column(lambda op: op[1], torch.float32),
        magnitude_index=column(lambda op: op[2], torch.int64),
        signed=column(lambda op: op[0] in SIGNED_OPS, torch.bool),
    )


class AutoAugmentParams(NamedTuple):
    """Per-image AutoAugment choices, ``N`` images.

    ``sub_policy`` ``(N,)`` int64: index of the drawn sub-policy;
    ``fired`` ``(N, 2)`` bool: whether each of its two operations applies;
    ``sign`` ``(N, 2)`` int64, +1 or -1: the sign of each operation's magnitude
    (always +1 for unsigned operations).
    """

    sub_policy: torch.Tensor
    fired: torch.Tensor
    sign: torch.Tensor


def sample_autoaugment(
    batch_size: int,
    policy: PolicyLike = "cifar10",
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> AutoAugmentParams:
    """Draw each image's sub-policy, coin flips and signs.

    ``s_i ~ Uniform{0..S-1}``; operation ``k`` fires iff ``u_ik < p_{s_i,k}``
    (``u ~ U[0, 1)``, so ``p = 0`` never and ``p = 1`` always fires); its sign is
    -1 with probability 1/2 for signed operations (Cubuk et al. 2019,
    "AutoAugment"). ``device`` defaults to the generator's, else CPU.
    """
    check_positive_int("batch_size", batch_size)
    if device is None:
        device = generator.device if generator is not None else torch.device("cpu")
    device = torch.device(device)
    return _draw(batch_size, _policy_table(_policy_key(policy), device), generator, device)


def _draw(
    batch_size: int, table: _PolicyTable, generator: torch.Generator | None, device: torch.device
) -> AutoAugmentParams:
    sub_policy = torch.randint(table.op_index.shape[0], (batch_size,), generator=generator, device=device)
    fired = torch.rand(batch_size, 2, generator=generator, device=device) < table.probability[sub_policy]
    negative = (torch.rand(batch_size, 2, generator=generator, device=device) < 0.5) & table.signed[sub_policy]
    return AutoAugmentParams(sub_policy=sub_policy, fired=fired, sign=1 - 2 * negative.long())


def _check_params(params: Any, images: torch.Tensor, num_sub_policies: int) -> None:
    if not isinstance(params, AutoAugmentParams):
        raise TypeError(f"params must be AutoAugmentParams, got {type(params).__name__}")
    n = images.shape[0]
    expected = {"sub_policy": (n,), "fired": (n, 2), "sign": (n, 2)}
    for field, shape in expected.items():
        value = getattr(params, field)
        if not isinstance(value, torch.Tensor) or value.shape != shape or value.device != images.device:
            found = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ValueError(f"params.{field} must be a tensor of shape {shape} on {images.device}, got {found}")
    if params.fired.dtype != torch.bool:
        raise TypeError(f"params.fired must be bool, got {params.fired.dtype}")
    if bool(((params.sub_policy < 0) | (params.sub_policy >= num_sub_policies)).any()):
        raise ValueError(f"params.sub_policy must lie in [0, {num_sub_policies - 1}], got {params.sub_policy.tolist()}")
    if not bool((params.sign.abs() == 1).all()):
        raise ValueError(f"params.sign must be +1 or -1, got {params.sign.tolist()}")


def _apply(images: torch.Tensor, params: AutoAugmentParams, table: _PolicyTable, grid: torch.Tensor) -> torch.Tensor:
    """Apply both steps; in each, one kernel call per operation on the images it hits.

    Grouping reads the group sizes on the host: two synchronisations per batch on CUDA.
    """
    out = images.clone()
    not_fired = len(OP_NAMES)
    for step in range(2):
        op_index = table.op_index[params.sub_policy, step]
        strength = grid[op_index, table.magnitude_index[params.sub_policy, step]] * params.sign[:, step]
        op_index = torch.where(params.fired[:, step], op_index, not_fired)
        order = torch.argsort(op_index, stable=True)
        counts = torch.bincount(op_index, minlength=not_fired + 1).tolist()
        for op, members in zip(OP_NAMES, order.split(counts)):
            if members.numel():
                out[members] = _run_operation(op, out[members], strength[members])
    return out


def apply_autoaugment(
    images: torch.Tensor,
    params: AutoAugmentParams,
    policy: PolicyLike = "cifar10",
    *,
    translate: str = "relative",
) -> torch.Tensor:
    """Apply given per-image choices: ``x_i <- op_2(op_1(x_i))`` for the fired operations.

    Operation ``k`` of image ``i`` is ``op_{s_i,k}(x, sign_ik * v(m_{s_i,k}))``;
    deterministic, the input is not modified (Cubuk et al. 2019, "AutoAugment").
    """
    check_uint8_images("images", images, rgb=True)
    check_choice("translate", translate, TRANSLATE_CONVENTIONS)
    table = _policy_table(_policy_key(policy), images.device)
    _check_params(params, images, table.op_index.shape[0])
    height, width = images.shape[-2:]
    return _apply(images, params, table, _magnitude_grid(height, width, translate, images.device))


def autoaugment_batch(
    images: torch.Tensor,
    policy: PolicyLike = "cifar10",
    *,
    translate: str = "relative",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """AutoAugment a uint8 batch on its device, every image with its own draws.

    :func:`sample_autoaugment` then :func:`apply_autoaugment`; as a loader hook:
    ``ImageHook(autoaugment_batch, stage="uint8", policy="cifar10")``
    (Cubuk et al. 2019, "AutoAugment").
    """
    check_uint8_images("images", images, rgb=True)
    check_choice("translate", translate, TRANSLATE_CONVENTIONS)
    table = _policy_table(_policy_key(policy), images.device)
    params = _draw(images.shape[0], table, generator, images.device)
    height, width = images.shape[-2:]
    return _apply(images, params, table, _magnitude_grid(height, width, translate, images.device))


# ----------------------------------------------------------------- per-image paths


class AutoAugment(Transform):
    """Per-image AutoAugment as a ``torchvision.transforms.v2`` transform.

    Same policies and scales as :func:`autoaugment_batch`; one image per call
    (a uint8 ``(3, H, W)`` tensor, ``tv_tensors.Image`` or RGB PIL image), drawn
    from torch's global RNG as torchvision's transforms are (Cubuk et al. 2019,
    "AutoAugment").
    """

    def __init__(self, policy: PolicyLike = "cifar10", translate: str = "relative") -> None:
        super().__init__()
        self._key = _policy_key(policy)
        check_choice("translate", translate, TRANSLATE_CONVENTIONS)
        self.policy = policy
        self.translate = translate

    def check_inputs(self, flat_inputs: list[Any]) -> None:
        """Refuse boxes, masks, key points and videos: only images are defined."""
        for inpt in flat_inputs:
            if isinstance(inpt, tv_tensors.TVTensor) and not isinstance(inpt, tv_tensors.Image):
                raise TypeError(f"AutoAugment transforms images only, got {type(inpt).__name__}")

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        """Draw one image's choices (as :func:`sample_autoaugment`) from the global RNG."""
        cpu = torch.device("cpu")
        return {"choices": _draw(1, _policy_table(self._key, cpu), None, cpu)}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        """Apply the drawn choices to one image, returning the input's type."""
        if isinstance(inpt, PIL.Image.Image):
            return tvf.to_pil_image(self._augment(tvf.pil_to_tensor(inpt.convert("RGB")), params["choices"]))
        if inpt.ndim != 3:
            raise ValueError(f"AutoAugment expects one image (3, H, W), got shape {tuple(inpt.shape)}")
        out = self._augment(inpt.as_subclass(torch.Tensor), params["choices"])
        return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.Image) else out

    def _augment(self, image: torch.Tensor, choices: AutoAugmentParams) -> torch.Tensor:
        """The two operations of the drawn sub-policy, in order, on a batch of one."""
        batch = image.unsqueeze(0)
        check_uint8_images("image", batch, rgb=True)
        grid = _magnitude_grid(image.shape[-2], image.shape[-1], self.translate, image.device)
        sub_policy = self._key[int(choices.sub_policy[0])]
        steps = zip(sub_policy, choices.fired[0].tolist(), choices.sign[0].tolist())
        for (op, _, magnitude_index), fired, sign in steps:
            if fired:
                strength = grid[OP_NAMES.index(op), magnitude_index] * sign
                batch = _run_operation(op, batch, strength.view(1))
        return batch[0]


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


class PerImageHook:
    """Loader hook (stage ``"uint8"``) applying a per-image transform image by image.

    ``images[i] <- transform(images[i])`` for any torchvision per-image transform
    (``RandAugment``, ``TrivialAugmentWide``, ``AutoAugment``) on uint8 ``(C, H, W)``
    tensors: the slow path, a Python loop over the batch, so the chapter can run
    those transforms through the same loader. They draw from torch's global CPU
    RNG; given the loader's generator, the hook seeds a forked global RNG from
    it, so a seeded loader stays deterministic and the caller's global RNG state
    is left as it was. Targets pass through.
    """

    stage: Stage = "uint8"

    def __init__(self, transform: Callable[[torch.Tensor], torch.Tensor]) -> None:
        if not callable(transform):
            raise TypeError(f"transform must be callable, got {type(transform).__name__}")
        self.transform = transform

    def __call__(
        self, images: torch.Tensor, targets: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        check_uint8_images("images", images)
        with _global_rng_seeded_from(generator):
            out = torch.stack([self.transform(image) for image in images])
        if out.shape != images.shape or out.dtype != images.dtype:
            raise ValueError(
                f"transform must keep each image's shape and dtype, got {tuple(out.shape)} {out.dtype} "
                f"from {tuple(images.shape)} {images.dtype}"
            )
        return out, targets

    def __repr__(self) -> str:
        return f"PerImageHook({self.transform!r})"
