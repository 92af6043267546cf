"""Tests for tricks_lab.autoaugment and tricks_lab.autoaugment_ops (issue 9)."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Callable

import numpy as np
import PIL.Image
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as tvf

from tricks_lab import autoaugment as aa
from tricks_lab import autoaugment_ops as ops
from tricks_lab.hooks import BatchTransform, Hook

TV_POLICIES = {
    "cifar10": v2.AutoAugmentPolicy.CIFAR10,
    "svhn": v2.AutoAugmentPolicy.SVHN,
    "imagenet": v2.AutoAugmentPolicy.IMAGENET,
}
SEED = 20190601


def make_images(n: int, height: int = 32, width: int = 32, seed: int = SEED) -> torch.Tensor:
    """Noise, smooth gradients with a narrow range, and one flat image: every op has work to do."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.randint(0, 256, (n, 3, height, width), generator=g, dtype=torch.uint8)
    ramp = torch.linspace(0, 1, width).expand(height, width) + torch.linspace(0, 1, height).unsqueeze(1)
    base = torch.rand(n, 3, 1, 1, generator=g) * 120 + 40
    smooth = (base + 30 * ramp + torch.rand(n, 3, height, width, generator=g) * 6).to(torch.uint8)
    images = torch.where(torch.arange(n).view(-1, 1, 1, 1) % 2 == 0, noise, smooth)
    images[-1] = 77
    return images


# ----------------------------------------------------------------- policy tables


def tv_table(name: str) -> list:
    return v2.AutoAugment(TV_POLICIES[name])._get_policies(TV_POLICIES[name])


@pytest.mark.parametrize("name", sorted(TV_POLICIES))
def test_policy_equals_torchvision_with_magnitude_free_indices_dropped(name: str) -> None:
    ours = [
        tuple((op, p, None if ops.OPERATIONS[op].kind == "free" else m) for op, p, m in sub_policy)
        for sub_policy in aa.POLICIES[name]
    ]
    assert ours == tv_table(name)


@pytest.mark.parametrize("name", sorted(TV_POLICIES))
def test_policy_keeps_the_papers_indices_where_torchvision_has_none(name: str) -> None:
    for ours, theirs in zip(aa.POLICIES[name], tv_table(name)):
        for (op, _, m), (_, _, tv_m) in zip(ours, theirs):
            assert (tv_m is None) == (ops.OPERATIONS[op].kind == "free")
            assert isinstance(m, int) and 0 <= m <= 9


def test_paper_rows_and_published_duplicates() -> None:
    assert aa.POLICIES["cifar10"][4] == (("AutoContrast", 0.5, 8), ("Equalize", 0.9, 2))
    assert aa.POLICIES["svhn"][3] == (("Invert", 0.9, 3), ("Equalize", 0.6, 3))
    assert aa.POLICIES["imagenet"][2] == (("Equalize", 0.8, 8), ("Equalize", 0.6, 3))
    duplicated = Counter(aa.POLICIES["imagenet"])
    assert duplicated[(("Equalize", 0.4, 7), ("Solarize", 0.2, 4))] == 2
    assert sum(count - 1 for count in duplicated.values()) == 5
    assert all(len(policy) == 25 for policy in aa.POLICIES.values())


@pytest.mark.parametrize("size", [(32, 32), (24, 40)])
@pytest.mark.parametrize("op", ops.OP_NAMES)
def test_magnitude_scales_equal_torchvision(op: str, size: tuple[int, int]) -> None:
    height, width = size
    space, signed = v2.AutoAugment._AUGMENTATION_SPACE[op]
    reference = space(10, height, width)
    ours = aa.magnitude_values(op, height, width)
    assert signed == ops.OPERATIONS[op].signed
    if reference is None:
        assert ops.OPERATIONS[op].kind == "free" and torch.equal(ours, torch.zeros(10, dtype=torch.float64))
        return
    reference = reference.double()
    if op.startswith("Translate"):
        reference = reference.trunc()  # torchvision passes int(magnitude) pixels
    if op == "Solarize":
        reference = reference * 255.0  # torchvision: threshold = 255 * magnitude
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-12)


def test_absolute_translate_is_the_tensorflow_cifar_pixels() -> None:
    expected = torch.arange(10, dtype=torch.float64)
    assert torch.equal(aa.magnitude_values("TranslateX", 32, 32, "absolute"), expected)
    assert torch.equal(aa.magnitude_values("TranslateY", 300, 300, "absolute"), expected)
    assert aa.magnitude_values("TranslateX", 32, 32, "relative")[-1] == 14.0


# ----------------------------------------------------------------- operations vs torchvision


def tv_reference(op: str, image: torch.Tensor, value: float) -> torch.Tensor:
    """torchvision.transforms.v2.functional on one image; ``value`` is our op's parameter."""
    zero = [0.0, 0.0]
    calls: dict[str, Callable[[], torch.Tensor]] = {
        "ShearX": lambda: tvf.affine(image, 0.0, [0, 0], 1.0, [math.degrees(math.atan(value)), 0.0], center=[0, 0]),
        "ShearY": lambda: tvf.affine(image, 0.0, [0, 0], 1.0, [0.0, math.degrees(math.atan(value))], center=[0, 0]),
        "TranslateX": lambda: tvf.affine(image, 0.0, [int(value), 0], 1.0, zero),
        "TranslateY": lambda: tvf.affine(image, 0.0, [0, int(value)], 1.0, zero),
        "Rotate": lambda: tvf.rotate(image, value),
        "AutoContrast": lambda: tvf.autocontrast(image),
        "Invert": lambda: tvf.invert(image),
        "Equalize": lambda: tvf.equalize(image),
        "Solarize": lambda: tvf.solarize(image, value),
        "Posterize": lambda: tvf.posterize(image, int(value)),
        "Contrast": lambda: tvf.adjust_contrast(image, value),
        "Color": lambda: tvf.adjust_saturation(image, value),
        "Brightness": lambda: tvf.adjust_brightness(image, value),
        "Sharpness": lambda: tvf.adjust_sharpness(image, value),
    }
    return calls[op]()


PUBLIC_OPS = {
    "ShearX": ops.shear_x,
    "ShearY": ops.shear_y,
    "TranslateX": ops.translate_x,
    "TranslateY": ops.translate_y,
    "Rotate": ops.rotate,
    "AutoContrast": ops.auto_contrast,
    "Invert": ops.invert,
    "Equalize": ops.equalize,
    "Solarize": ops.solarize,
    "Posterize": ops.posterize,
    "Contrast": ops.contrast,
    "Color": ops.color,
    "Brightness": ops.brightness,
    "Sharpness": ops.sharpness,
}
GEOMETRIC = {"ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate"}


def parameters(op: str, magnitude_index: torch.Tensor, sign: torch.Tensor, height: int, width: int) -> torch.Tensor:
    strength = aa.magnitude_values(op, height, width)[magnitude_index] * sign
    return 1.0 + strength if ops.OPERATIONS[op].kind == "factor" else strength


@pytest.mark.parametrize("size", [(32, 32), (20, 27)])
@pytest.mark.parametrize("op", ops.OP_NAMES)
def test_each_operation_equals_torchvision_per_image(op: str, size: tuple[int, int]) -> None:
    """One call, a different magnitude (0, 3, 6, 9, both signs) for every image."""
    images = make_images(16, *size)
    magnitude_index = torch.tensor([0, 3, 6, 9] * 4)
    sign = torch.tensor([1, -1]).repeat_interleave(2).repeat(4).double()
    if not ops.OPERATIONS[op].signed:
        sign = torch.ones_like(sign)
    values = parameters(op, magnitude_index, sign, *size)
    if ops.OPERATIONS[op].kind == "free":
        ours = PUBLIC_OPS[op](images)
    else:
        ours = PUBLIC_OPS[op](images, values)
    reference = torch.stack([tv_reference(op, image, float(v)) for image, v in zip(images, values)])
    assert ours.dtype == torch.uint8 and ours.shape == images.shape
    if op in GEOMETRIC:
        assert (ours.int() - reference.int()).abs().max() <= 1
    else:
        assert torch.equal(ours, reference)


@settings(max_examples=25, deadline=None)
@given(
    factor=st.floats(0.0, 2.0),
    threshold=st.integers(0, 256),
    bits=st.integers(0, 8),
    seed=st.integers(0, 2**31 - 1),
)
def test_pixel_operations_equal_torchvision_at_any_parameter(
    factor: float, threshold: int, bits: int, seed: int
) -> None:
    image = make_images(2, 9, 11, seed=seed)[:1]
    f = torch.tensor([factor], dtype=torch.float64)
    assert torch.equal(ops.contrast(image, f)[0], tvf.adjust_contrast(image[0], factor))
    assert torch.equal(ops.color(image, f)[0], tvf.adjust_saturation(image[0], factor))
    assert torch.equal(ops.brightness(image, f)[0], tvf.adjust_brightness(image[0], factor))
    assert torch.equal(ops.sharpness(image, f)[0], tvf.adjust_sharpness(image[0], factor))
    assert torch.equal(ops.posterize(image, torch.tensor([bits]))[0], tvf.posterize(image[0], bits))
    expected = image[0] if threshold == 256 else tvf.solarize(image[0], float(threshold))
    assert torch.equal(ops.solarize(image, torch.tensor([float(threshold)]))[0], expected)


# ----------------------------------------------------------------- operation properties


IDENTITY_PARAMETER = {
    "ShearX": 0.0,
    "ShearY": 0.0,
    "TranslateX": 0.0,
    "TranslateY": 0.0,
    "Rotate": 0.0,
    "Solarize": 256.0,
    "Posterize": 8.0,
    "Contrast": 1.0,
    "Color": 1.0,
    "Brightness": 1.0,
    "Sharpness": 1.0,
}


@settings(max_examples=20, deadline=None)
@given(
    op=st.sampled_from(sorted(IDENTITY_PARAMETER)),
    n=st.integers(1, 4),
    height=st.integers(1, 12),
    width=st.integers(1, 12),
    seed=st.integers(0, 2**31 - 1),
)
def test_neutral_parameter_leaves_images_unchanged(op: str, n: int, height: int, width: int, seed: int) -> None:
    images = make_images(n, height, width, seed=seed)
    out = PUBLIC_OPS[op](images, torch.full((n,), IDENTITY_PARAMETER[op], dtype=torch.float64))
    assert torch.equal(out, images)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 4), seed=st.integers(0, 2**31 - 1))
def test_invert_is_an_involution_and_full_shift_empties(n: int, seed: int) -> None:
    images = make_images(n, 7, 10, seed=seed)
    assert torch.equal(ops.invert(ops.invert(images)), images)
    assert ops.translate_x(images, torch.full((n,), 10.0)).eq(0).all()
    assert ops.translate_y(images, torch.full((n,), -7.0)).eq(0).all()


def test_flat_image_survives_auto_contrast_and_equalize() -> None:
    flat = torch.full((1, 3, 8, 8), 77, dtype=torch.uint8)
    assert torch.equal(ops.auto_contrast(flat), flat)
    assert torch.equal(ops.equalize(flat), flat)


def test_operations_do_not_modify_their_input() -> None:
    images = make_images(4)
    before = images.clone()
    for op, fn in PUBLIC_OPS.items():
        if ops.OPERATIONS[op].kind == "free":
            fn(images)
        else:
            fn(images, torch.full((4,), 1.5 if op != "Posterize" else 3.0, dtype=torch.float64))
    assert torch.equal(images, before)


# ----------------------------------------------------------------- sampler: frequencies


def test_sub_policies_are_drawn_uniformly_per_image() -> None:
    params = aa.sample_autoaugment(10_000, 32, 32, "cifar10", generator=torch.Generator().manual_seed(SEED))
    counts = torch.bincount(params.sub_policy, minlength=25).numpy()
    assert counts.min() > 0 and counts.size == 25
    assert stats.chisquare(counts).pvalue > 1e-3


@pytest.mark.parametrize("name", sorted(aa.POLICIES))
def test_each_operation_fires_with_its_probability(name: str) -> None:
    params = aa.sample_autoaugment(20_000, 32, 32, name, generator=torch.Generator().manual_seed(SEED))
    for s, sub_policy in enumerate(aa.POLICIES[name]):
        chosen = params.sub_policy == s
        for k, (_, p, _) in enumerate(sub_policy):
            fired = int(params.fired[chosen, k].sum())
            trials = int(chosen.sum())
            if p in (0.0, 1.0):
                assert fired == round(p * trials)
            else:
                assert stats.binomtest(fired, trials, p).pvalue > 1e-4, (s, k, fired, trials, p)


def test_signs_are_fair_for_signed_operations_only() -> None:
    params = aa.sample_autoaugment(20_000, 32, 32, "svhn", generator=torch.Generator().manual_seed(SEED))
    table = aa._policy_table(aa._policy_key("svhn"), torch.device("cpu"))  # (S, 2) tensors
    signed = table.signed[params.sub_policy]
    assert params.sign[~signed].eq(1).all()
    negatives = int(params.sign[signed].eq(-1).sum())
    assert stats.binomtest(negatives, int(signed.sum()), 0.5).pvalue > 1e-3


def test_sampler_is_reproducible_and_follows_the_generator_device() -> None:
    first = aa.sample_autoaugment(64, 32, 32, generator=torch.Generator().manual_seed(1))
    second = aa.sample_autoaugment(64, 32, 32, generator=torch.Generator().manual_seed(1))
    other = aa.sample_autoaugment(64, 32, 32, generator=torch.Generator().manual_seed(2))
    assert all(torch.equal(getattr(first, f.name), getattr(second, f.name)) for f in dataclasses.fields(first))
    assert not torch.equal(first.sub_policy, other.sub_policy)
    assert first.sub_policy.dtype == torch.int64 and first.fired.dtype == torch.bool
    assert first.sub_policy.device.type == "cpu"


# ----------------------------------------------------------------- batched application


def test_a_batch_draws_per_image_where_torchvision_draws_once() -> None:
    """torchvision's AutoAugment given a batch applies one sub-policy to all of it."""
    images = make_images(2)[:1].expand(32, -1, -1, -1).contiguous()
    torch.manual_seed(SEED)
    theirs = [v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10)(images) for _ in range(10)]
    assert all(len({out[i].numpy().tobytes() for i in range(32)}) == 1 for out in theirs)
    assert len({out[0].numpy().tobytes() for out in theirs}) > 1
    ours = aa.autoaugment(images, generator=torch.Generator().manual_seed(SEED))
    assert len({ours[i].numpy().tobytes() for i in range(32)}) > 10


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 12), seed=st.integers(0, 2**31 - 1), policy=st.sampled_from(sorted(aa.POLICIES)))
def test_batched_application_equals_image_by_image(n: int, seed: int, policy: str) -> None:
    images = make_images(n, 12, 12, seed=seed)
    params = aa.sample_autoaugment(n, 12, 12, policy, generator=torch.Generator().manual_seed(seed))
    batched = aa.apply_autoaugment(images, params)
    assert torch.equal(batched, aa._apply_grouped(images, params))
    assert torch.equal(batched, aa._apply_masked(images, params))  # the accelerator path
    for i in range(n):
        single = aa.AutoAugmentParams(*(getattr(params, f.name)[i : i + 1] for f in dataclasses.fields(params)))
        assert torch.equal(batched[i : i + 1], aa.apply_autoaugment(images[i : i + 1], single))


def test_application_composes_the_two_fired_operations_in_order() -> None:
    images = make_images(6)
    policy = [(("Rotate", 1.0, 9), ("Posterize", 1.0, 9)), (("Invert", 0.5, 0), ("Color", 0.5, 4))]
    sub_policy = torch.tensor([0, 0, 1, 1, 1, 1])
    sign = torch.tensor([[-1, 1], [1, 1], [1, -1], [1, 1], [1, 1], [1, 1]])
    index = torch.tensor([[ops.OP_NAMES.index(op) for op, _, _ in sp] for sp in policy])[sub_policy]
    magnitudes = torch.tensor([[float(aa.magnitude_values(op)[m]) for op, _, m in sp] for sp in policy],
                              dtype=torch.float64)[sub_policy]
    params = aa.AutoAugmentParams(
        sub_policy=sub_policy,
        op_index=index,
        fired=torch.tensor([[True, True], [True, False], [True, True], [False, True], [True, False], [False, False]]),
        sign=sign,
        strength=magnitudes * sign,
    )
    out = aa.apply_autoaugment(images, params)
    op = aa.apply_operation
    expected = [
        op(op(images[0:1], "Rotate", 9, negative=True), "Posterize", 9),
        op(images[1:2], "Rotate", 9),
        op(op(images[2:3], "Invert", 0), "Color", 4, negative=True),
        op(images[3:4], "Color", 4),
        op(images[4:5], "Invert", 0),
        images[5:6],
    ]
    assert torch.equal(out, torch.cat(expected))


def test_apply_operation_matches_torchvision_for_a_gallery() -> None:
    images = make_images(3)
    rotated = aa.apply_operation(images, "Rotate", 9, negative=True)
    assert torch.equal(rotated, torch.stack([tvf.rotate(image, -30.0) for image in images]))
    shifted = aa.apply_operation(images, "TranslateX", 9, translate="absolute")
    assert torch.equal(shifted, torch.stack([tvf.affine(image, 0.0, [9, 0], 1.0, [0.0, 0.0]) for image in images]))


def test_autoaugment_is_seeded_and_leaves_its_input_alone() -> None:
    images = make_images(32)
    before = images.clone()
    first = aa.autoaugment(images, "imagenet", generator=torch.Generator().manual_seed(3))
    second = aa.autoaugment(images, "imagenet", generator=torch.Generator().manual_seed(3))
    assert torch.equal(first, second) and torch.equal(images, before)
    assert not torch.equal(first, images)


def test_autoaugment_as_a_loader_hook() -> None:
    hook = aa.AutoAugmentHook("svhn", translate="absolute")
    images, targets = make_images(8), torch.arange(8)
    out, out_targets = hook(images, targets, torch.Generator().manual_seed(0))
    assert isinstance(hook, BatchTransform) and isinstance(hook, Hook) and hook.stage == "uint8"
    assert out.shape == images.shape and out.dtype == torch.uint8 and out_targets is targets
    assert torch.equal(out, aa.autoaugment(images, "svhn", translate="absolute",
                                           generator=torch.Generator().manual_seed(0)))


def test_registry_builds_every_augment_hook() -> None:
    assert sorted(aa.AUGMENTS) == ["autoaugment", "randaugment", "trivialaugment"]
    for name, factory in aa.AUGMENTS.items():
        hook = factory()
        assert isinstance(hook, Hook) and hook.stage == "uint8", name


@pytest.mark.parametrize("policy", sorted(aa.POLICIES))
def test_autoaugment_hook_never_synchronises(policy: str) -> None:
    """Meta tensors have no values: off the CPU the hook runs every operation on the whole batch and
    selects, so nothing is read on the host."""
    images = torch.empty(8, 3, 32, 32, dtype=torch.uint8, device="meta")
    targets = torch.empty(8, dtype=torch.int64, device="meta")
    out, out_targets = aa.AutoAugmentHook(policy)(images, targets, None)
    assert out.device.type == "meta" and out.shape == images.shape and out.dtype == torch.uint8
    assert out_targets is targets


# ----------------------------------------------------------------- per-image vs batched: distributions


def outcome_counts(outputs: list[torch.Tensor]) -> Counter:
    return Counter(out.numpy().tobytes() for out in outputs)


def same_distribution_pvalue(*samples: Counter) -> float:
    """Chi-square test of homogeneity; outcomes expected fewer than 5 times are pooled."""
    totals = sum(samples, Counter())
    common = [key for key, count in totals.items() if count >= 5 * len(samples)]
    table = [[sample[key] for key in common] for sample in samples]
    for row, sample in zip(table, samples):
        row.append(sum(sample.values()) - sum(row))
    return float(stats.chi2_contingency(np.array(table)).pvalue)


def test_per_image_batched_and_torchvision_agree_in_distribution() -> None:
    image = make_images(2, 8, 8)[:1]
    draws = 1200
    batched = aa.autoaugment(image.expand(draws, -1, -1, -1), generator=torch.Generator().manual_seed(SEED))
    torch.manual_seed(SEED)
    ours = aa.AutoAugment("cifar10")
    theirs = v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10)
    per_image = [ours(image[0]) for _ in range(draws)]
    reference = [theirs(image[0]) for _ in range(draws)]
    counts = [outcome_counts(list(batched)), outcome_counts(per_image), outcome_counts(reference)]
    assert len(counts[0]) > 20
    assert same_distribution_pvalue(*counts) > 1e-3


# ----------------------------------------------------------------- the v2 transform and the hooks


def test_transform_handles_tensors_tv_images_pil_and_labels() -> None:
    image = make_images(2)[0]
    torch.manual_seed(0)
    transform = aa.AutoAugment("cifar10", translate="absolute")
    out = transform(image)
    assert isinstance(out, torch.Tensor) and out.shape == image.shape and out.dtype == torch.uint8
    wrapped, label = transform(tv_tensors.Image(image), 3)
    assert isinstance(wrapped, tv_tensors.Image) and label == 3
    pil = transform(PIL.Image.fromarray(image.permute(1, 2, 0).numpy()))
    assert isinstance(pil, PIL.Image.Image) and pil.size == (32, 32)
    torch.manual_seed(5)
    first = [transform(image) for _ in range(10)]
    torch.manual_seed(5)
    assert all(torch.equal(a, transform(image)) for a in first)


def test_transform_refuses_boxes_non_rgb_and_mixed_shapes() -> None:
    image = tv_tensors.Image(make_images(2)[0])
    boxes = tv_tensors.BoundingBoxes(torch.tensor([[0, 0, 4, 4]]), format="XYXY", canvas_size=(32, 32))
    with pytest.raises(TypeError, match="images only.*BoundingBoxes"):
        aa.AutoAugment()(image, boxes)
    with pytest.raises(ValueError, match=r"uint8 RGB images \(..., 3, H, W\)"):
        aa.AutoAugment()(make_images(2)[:, :1])
    for mode in ("L", "RGBA"):
        with pytest.raises(ValueError, match=f"RGB images, got a PIL image in mode '{mode}'"):
            aa.AutoAugment()(PIL.Image.new(mode, (8, 8)))
    with pytest.raises(ValueError, match="all image inputs must have the same shape"):
        aa.AutoAugment()(tv_tensors.Image(make_images(2)), tv_tensors.Image(make_images(1)[0]))


def test_transform_draws_once_per_image_of_a_batch() -> None:
    images = make_images(2)[:1].expand(32, -1, -1, -1).contiguous()
    torch.manual_seed(0)
    out = aa.AutoAugment()(images)
    assert out.shape == images.shape and len({out[i].numpy().tobytes() for i in range(32)}) > 5


def test_per_image_hook_is_deterministic_under_the_loader_generator() -> None:
    hook = aa.PerImageHook(v2.RandAugment())
    images, targets = make_images(8), torch.arange(8)
    state = torch.get_rng_state()
    first, out_targets = hook(images, targets, torch.Generator().manual_seed(11))
    second, _ = hook(images, targets, torch.Generator().manual_seed(11))
    third, _ = hook(images, targets, torch.Generator().manual_seed(12))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(first, second) and not torch.equal(first, third)
    assert out_targets is targets and hook.stage == "uint8" and isinstance(hook, BatchTransform)
    unseeded, _ = aa.PerImageHook(v2.TrivialAugmentWide())(images, targets, None)
    assert unseeded.shape == images.shape


def test_per_image_hook_errors() -> None:
    with pytest.raises(TypeError, match="transform must be callable"):
        aa.PerImageHook("RandAugment")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="keep each image's shape"):
        aa.PerImageHook(v2.CenterCrop(8))(make_images(2), torch.arange(2), None)
    with pytest.raises(TypeError, match="uint8"):
        aa.PerImageHook(v2.RandAugment())(make_images(2).float(), torch.arange(2), None)


# ----------------------------------------------------------------- bad input


def test_unknown_policy_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="policy must be one of 'cifar10', 'svhn', 'imagenet'; got 'cifar100'"):
        aa.autoaugment(make_images(2), "cifar100")
    with pytest.raises(ValueError, match="policy must be one of"):
        aa.AutoAugment(policy="CIFAR10")


def test_images_must_be_uint8_rgb_batches() -> None:
    with pytest.raises(TypeError, match="images must be a uint8 tensor.*float32"):
        aa.autoaugment(make_images(2).float())
    with pytest.raises(ValueError, match=r"images must have 3 \(RGB\) channels, got shape \(2, 1, 32, 32\)"):
        aa.autoaugment(make_images(2)[:, :1])
    with pytest.raises(ValueError, match="4-D"):
        aa.autoaugment(make_images(2)[0])
    with pytest.raises(ValueError, match="3 \\(RGB\\) channels"):
        ops.color(make_images(2)[:, :1], torch.ones(2))
    with pytest.raises(TypeError, match="uint8"):
        ops.invert(make_images(2).half())


@pytest.mark.parametrize(
    ("policy", "error", "message"),
    [
        (
            [(("Rotate", 0.5, 10), ("Invert", 0.1, 0))],
            ValueError,
            r"policy\[0\]\[0\] magnitude index must be in \[0, 9\], got 10",
        ),
        ([(("Rotate", 0.5, 2.0), ("Invert", 0.1, 0))], TypeError, "magnitude index must be an int in 0-9"),
        ([(("Rotate", 0.5, 2), ("Cutout", 0.1, 0))], ValueError, r"policy\[0\]\[1\] operation must be one of .*Cutout"),
        ([(("Rotate", 1.5, 2), ("Invert", 0.1, 0))], ValueError, r"probability must be in \[0.0, 1.0\], got 1.5"),
        ([(("Rotate", 0.5, 2),)], ValueError, r"policy\[0\] must be a pair of operations"),
        ([(("Rotate", 0.5), ("Invert", 0.1, 0))], ValueError, r"must be \(operation name, probability, magnitude"),
        ([], ValueError, "non-empty list of sub-policies"),
    ],
)
def test_bad_custom_policies(policy: list, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        aa.sample_autoaugment(4, 32, 32, policy)


def test_bad_arguments_of_the_policy_functions() -> None:
    images = make_images(4)
    with pytest.raises(ValueError, match="translate must be one of 'relative', 'absolute'; got 'pixels'"):
        aa.autoaugment(images, translate="pixels")
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        aa.sample_autoaugment(0, 32, 32)
    with pytest.raises(ValueError, match=r"magnitude_index must be in \[0, 9\], got -1"):
        aa.apply_operation(images, "Rotate", -1)
    with pytest.raises(TypeError, match="negative must be a bool"):
        aa.apply_operation(images, "Rotate", 1, negative=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="op must be one of"):
        aa.magnitude_values("Blur")
    params = aa.sample_autoaugment(4, 32, 32, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=r"params.sub_policy must be a tensor of shape \(3,\)"):
        aa.apply_autoaugment(images[:3], params)
    with pytest.raises(ValueError, match=r"params.op_index must lie in \[0, 13\]"):
        aa.apply_autoaugment(images, dataclasses.replace(params, op_index=torch.full((4, 2), 14)))
    with pytest.raises(ValueError, match="params.sign must be \\+1 or -1"):
        aa.apply_autoaugment(images, dataclasses.replace(params, sign=torch.zeros(4, 2, dtype=torch.int64)))
    with pytest.raises(TypeError, match="params.fired must have dtype torch.bool"):
        aa.apply_autoaugment(images, dataclasses.replace(params, fired=params.fired.long()))
    with pytest.raises(ValueError, match="params.strength must be finite"):
        aa.apply_autoaugment(images, dataclasses.replace(params, strength=torch.full((4, 2), math.inf,
                                                                                      dtype=torch.float64)))
    with pytest.raises(TypeError, match="params must be AutoAugmentParams"):
        aa.apply_autoaugment(images, (params.sub_policy, params.fired))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fn", "values", "error", "message"),
    [
        (ops.posterize, torch.tensor([9, 1, 1, 1]), ValueError, r"bits must lie in \[0, 8\]"),
        (ops.posterize, torch.tensor([2.5, 1, 1, 1]), ValueError, "bits must hold whole numbers"),
        (ops.solarize, torch.tensor([300.0, 1, 1, 1]), ValueError, r"threshold must lie in \[0, 256\]"),
        (ops.brightness, torch.tensor([-0.5, 1, 1, 1]), ValueError, r"factor must lie in \[0, None\]"),
        (ops.rotate, torch.tensor([math.nan, 1, 1, 1]), ValueError, "degrees must be finite"),
        (ops.shear_x, torch.zeros(3), ValueError, r"shear must have shape \(4,\), one value per image"),
        (ops.translate_x, [0, 0, 0, 0], TypeError, "pixels must be a torch.Tensor"),
        (ops.sharpness, torch.ones(4, dtype=torch.bool), TypeError, "factor must hold real numbers"),
    ],
)
def test_bad_operation_parameters(fn: Callable, values: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        fn(make_images(4), values)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_batch_equals_cpu_for_the_same_choices() -> None:
    images = make_images(64)
    params = aa.sample_autoaugment(64, 32, 32, "cifar10", generator=torch.Generator().manual_seed(0))
    on_gpu = aa.AutoAugmentParams(*(getattr(params, f.name).cuda() for f in dataclasses.fields(params)))
    gpu = aa.apply_autoaugment(images.cuda(), on_gpu)
    difference = (gpu.cpu().int() - aa.apply_autoaugment(images, params).int()).abs()
    # Nearest-pixel sampling may round a coordinate that sits on a half pixel either way.
    assert difference.gt(1).float().mean() < 1e-3
    generator = torch.Generator(device="cuda").manual_seed(0)
    assert aa.autoaugment(images.cuda(), generator=generator).device.type == "cuda"


def test_operation_table_is_the_one_source() -> None:
    """One row per operation: kernel, magnitude range, signed, kind (torchvision's augmentation space)."""
    assert ops.OP_NAMES == tuple(ops.OPERATIONS) and len(ops.OP_NAMES) == 14
    for name, spec in ops.OPERATIONS.items():
        assert spec.name == name and callable(spec.kernel) and spec.kind in ops.OP_KINDS
        _, signed = v2.AutoAugment._AUGMENTATION_SPACE[name]
        assert spec.signed == signed
        assert spec.magnitudes(32, 32, "relative").shape == (ops.NUM_MAGNITUDES,)
