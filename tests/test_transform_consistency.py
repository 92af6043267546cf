"""Our per-image ``torchvision.transforms.v2`` classes behave as drop-ins, in the spirit of
torchvision's own ``check_transform`` helper: every input kind (plain tensor, batch,
``tv_tensors.Image``, PIL where supported, mixed with labels and boxes), type and shape
kept, seeded by torch's global RNG, argument errors as ``TypeError``/``ValueError``.
"""

from __future__ import annotations

import PIL.Image
import pytest
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from tricks_lab.autoaugment import AutoAugment
from tricks_lab.occlusion import Cutout, RandomErasing

FLOAT = ("float", lambda: torch.rand(3, 16, 16))
UINT8 = ("uint8", lambda: torch.randint(0, 256, (3, 16, 16), dtype=torch.uint8))

TRANSFORMS = {
    "cutout": (lambda: Cutout(6, fill=0.0), FLOAT, False),
    "cutout-random": (lambda: Cutout(6, fill="random"), FLOAT, False),
    "erasing": (lambda: RandomErasing(p=1.0, value=0.0), FLOAT, False),
    "erasing-random": (lambda: RandomErasing(p=1.0), FLOAT, False),
    "erasing-uint8": (lambda: RandomErasing(p=1.0, value=(1, 2, 3)), UINT8, False),
    "autoaugment": (lambda: AutoAugment("imagenet"), UINT8, True),
}


def check_transform(transform: v2.Transform, image: torch.Tensor, supports_pil: bool) -> None:
    """Every input kind keeps its type, shape and dtype; labels and other inputs pass through."""
    out = transform(image)
    assert type(out) is torch.Tensor and out.shape == image.shape and out.dtype == image.dtype
    batch = torch.stack([image] * 4)
    out = transform(batch)
    assert out.shape == batch.shape and out.dtype == batch.dtype
    wrapped = transform(tv_tensors.Image(image))
    assert isinstance(wrapped, tv_tensors.Image) and wrapped.shape == image.shape
    sample = {"image": tv_tensors.Image(image), "label": 3, "name": "x"}
    out = transform(sample)
    assert isinstance(out["image"], tv_tensors.Image) and out["label"] == 3 and out["name"] == "x"
    image_out, label = transform(image, torch.tensor(7))
    assert image_out.shape == image.shape and int(label) == 7
    pil = PIL.Image.fromarray(image.permute(1, 2, 0).mul(255 if image.is_floating_point() else 1).byte().numpy())
    if supports_pil:
        out = transform(pil)
        assert isinstance(out, PIL.Image.Image) and out.size == pil.size and out.mode == "RGB"
    else:
        with pytest.raises(TypeError, match="PIL"):
            transform(pil)
    # one draw per call: the same seed gives the same output
    torch.manual_seed(0)
    first = transform(batch)
    torch.manual_seed(0)
    assert torch.equal(first, transform(batch))
    # a second plain tensor is not an image (torchvision's rule): it passes through untouched
    out, passed = transform(image, batch)
    assert out.shape == image.shape and passed is batch
    # images of different shapes in one call are refused clearly, not crashed on
    with pytest.raises(ValueError, match="same shape"):
        transform(tv_tensors.Image(image), tv_tensors.Image(batch))
    assert "Compose" in repr(v2.Compose([transform]))


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_transforms_pass_the_consistency_check(name: str) -> None:
    make, (_, image), supports_pil = TRANSFORMS[name]
    torch.manual_seed(1)
    check_transform(make(), image(), supports_pil)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: RandomErasing(scale=123), TypeError, "scale must be a sequence of two numbers"),
        (lambda: RandomErasing(ratio=123), TypeError, "ratio must be a sequence of two numbers"),
        (lambda: RandomErasing(p="0.5"), TypeError, "p must be a real number"),
        (lambda: RandomErasing(value=object()), TypeError, "value must be a number"),
        (lambda: Cutout("8"), TypeError, "length must be an int"),
        (lambda: Cutout(8, inside="yes"), TypeError, "inside must be a bool"),
        (lambda: AutoAugment(translate=3), ValueError, "translate must be one of"),
    ],
)
def test_wrong_argument_types_raise_type_errors(make, error, match) -> None:
    with pytest.raises(error, match=match):
        make()


def test_fractional_fill_on_uint8_is_refused_not_truncated() -> None:
    image = torch.zeros(3, 8, 8, dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"integers in \[0, 255\] for uint8 images"):
        RandomErasing(p=1.0, value=0.5)(image)


def test_docstrings_state_the_differences_from_torchvision() -> None:
    erasing = RandomErasing.__doc__
    assert "(0.02, 0.33)" in erasing and '``value="random"``' in erasing and "truncates" in erasing
    assert "scriptable" in erasing and "scriptable" in Cutout.__doc__
    assert "nearest interpolation and fill 0 only" in " ".join(AutoAugment.__doc__.split())
    assert "scriptable" in AutoAugment.__doc__


def test_random_erasing_erases_like_torchvision_with_the_same_options() -> None:
    """With torchvision's defaults spelled out, the erased fraction agrees in law."""
    ours = RandomErasing(p=1.0, scale=(0.02, 0.33), value=0.0)
    theirs = v2.RandomErasing(p=1.0, scale=(0.02, 0.33), value=0.0)
    image = torch.ones(3, 16, 16)
    torch.manual_seed(2)
    mine = torch.stack([(ours(image) == 0).float().mean() for _ in range(400)])
    reference = torch.stack([(theirs(image) == 0).float().mean() for _ in range(400)])
    assert abs(float(mine.mean() - reference.mean())) < 0.02
