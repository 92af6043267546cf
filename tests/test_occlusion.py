"""Tests for tricks_lab.occlusion: Cutout and Random Erasing, per-sample and batched.

Statistical tests use fixed seeds and reject at ALPHA; the parameters are tested
through the samplers, the pixels through the applier and the batched ops.
"""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as hs
from scipy import stats
from torchvision import tv_tensors
from torchvision.transforms import v2

from tricks_lab.hooks import BatchTransform, Hook
from tricks_lab.occlusion import (
    OCCLUSIONS,
    Cutout,
    CutoutHook,
    OcclusionParams,
    RandomErasing,
    RandomErasingHook,
    cutout,
    occlude,
    random_erasing,
    sample_cutout,
    sample_random_erasing,
)

ALPHA = 1e-3
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
PAPER_RATIO = (0.3, 1 / 0.3)
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def seeded(seed: int, device: str = "cpu") -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def counts(values: torch.Tensor, size: int) -> np.ndarray:
    return np.bincount(values.flatten().numpy(), minlength=size)


def assert_uniform(values: torch.Tensor, size: int) -> None:
    """Chi-square goodness of fit of integers in [0, size) to the uniform law; every value reached."""
    observed = counts(values, size)
    assert (observed > 0).all(), f"values never drawn: {np.flatnonzero(observed == 0)}"
    assert stats.chisquare(observed).pvalue > ALPHA


def pixel_box(changed: torch.Tensor) -> tuple[int, int, int, int]:
    """(y0, x0, h, w) of the single rectangle marked True in a (H, W) mask; zeros if none."""
    rows, cols = changed.any(dim=1), changed.any(dim=0)
    if not rows.any():
        return 0, 0, 0, 0
    y0, x0 = int(rows.nonzero()[0]), int(cols.nonzero()[0])
    h, w = int(rows.sum()), int(cols.sum())
    assert changed[y0 : y0 + h, x0 : x0 + w].all() and int(changed.sum()) == h * w
    return y0, x0, h, w


def clipped_length(centre: int, length: int, size: int) -> int:
    """Reference: rows of [centre - length // 2, centre - length // 2 + length) inside [0, size)."""
    start = centre - length // 2
    return min(start + length, size) - max(start, 0)


# --------------------------------------------------------------------------- Cutout geometry


@pytest.mark.parametrize("length", [4, 5])
def test_cutout_clipped_sizes_follow_uniform_centres(length: int) -> None:
    """Heights and widths of clipped holes have the law implied by centres uniform over all pixels."""
    height, width = 9, 12
    boxes = sample_cutout(4000, height, width, length, generator=seeded(0))
    for got, size in ((boxes.heights, height), (boxes.widths, width)):
        pmf = np.bincount([clipped_length(c, length, size) for c in range(size)], minlength=length + 1)
        observed = counts(got, length + 1)
        support = pmf > 0
        assert (observed[~support] == 0).all()
        expected = pmf[support] / pmf.sum() * observed.sum()
        assert stats.chisquare(observed[support], expected).pvalue > ALPHA


@pytest.mark.parametrize("length", [3, 4, 5])
def test_cutout_interior_holes_are_exactly_length(length: int) -> None:
    """An unclipped hole is length x length, odd lengths too (the seed's code cuts (L-1)^2 for odd L)."""
    boxes = sample_cutout(2000, 16, 16, length, generator=seeded(1))
    x0, y0, x1, y1 = boxes.boxes.unbind(-1)
    interior = (y0 > 0) & (x0 > 0) & (y1 < 16) & (x1 < 16)
    assert interior.sum() > 500
    assert (boxes.areas[interior] == length * length).all()
    assert int(boxes.areas.max()) == length * length


def test_cutout_centres_reach_every_pixel_uniformly() -> None:
    """With length 1 the hole is its centre: uniform over all H x W pixels, corners included."""
    boxes = sample_cutout(6000, 4, 5, 1, generator=seeded(2))
    assert (boxes.areas == 1).all()
    x0, y0 = boxes.boxes[..., 0], boxes.boxes[..., 1]
    assert_uniform(y0 * 5 + x0, 20)


def test_cutout_clipped_holes_shrink_at_every_border() -> None:
    """Centres on the edge rows/columns clip the hole to L - L//2 (top/left), L//2 + 1 (bottom/right)."""
    boxes = sample_cutout(3000, 10, 10, 4, generator=seeded(3))
    x0, y0, x1, y1 = boxes.boxes.unbind(-1)
    assert ((y0 == 0) & (boxes.heights == 2)).any() and ((y1 == 10) & (boxes.heights == 3)).any()
    assert ((x0 == 0) & (boxes.widths == 2)).any() and ((x1 == 10) & (boxes.widths == 3)).any()
    assert (boxes.heights >= 2).all() and (boxes.heights <= 4).all()


@pytest.mark.parametrize("length", [3, 4])
def test_cutout_inside_holes_have_exact_size_and_uniform_corner(length: int) -> None:
    boxes = sample_cutout(4000, 7, 9, length, inside=True, generator=seeded(4))
    assert (boxes.heights == length).all() and (boxes.widths == length).all()
    assert_uniform(boxes.boxes[..., 1], 7 - length + 1)
    assert_uniform(boxes.boxes[..., 0], 9 - length + 1)


def test_cutout_inside_is_a_different_distribution_from_clipped() -> None:
    """Corner pixel (0, 0), H=W=8, L=4: covered w.p. (1/5)^2 inside, (3/8)^2 clipped (centres 0..2)."""
    n = 6000
    inside = sample_cutout(n, 8, 8, 4, inside=True, generator=seeded(5)).mask()[:, 0, 0, 0]
    clipped = sample_cutout(n, 8, 8, 4, generator=seeded(5)).mask()[:, 0, 0, 0]
    assert stats.binomtest(int(inside.sum()), n, 1 / 25).pvalue > ALPHA
    assert stats.binomtest(int(clipped.sum()), n, 9 / 64).pvalue > ALPHA


def test_cutout_holes_union_and_per_image_coin() -> None:
    images = torch.ones(3000, 1, 6, 6)
    out = cutout(images, 2, n_holes=3, p=0.4, generator=seeded(6))
    boxes = sample_cutout(3000, 6, 6, 2, n_holes=3, p=0.4, channels=1, generator=seeded(6))
    assert torch.equal(out == 0, boxes.mask().expand_as(out))
    assert stats.binomtest(int(boxes.selected.sum()), 3000, 0.4).pvalue > ALPHA
    assert boxes.boxes.shape == (3000, 3, 4)


# --------------------------------------------------------------------------- Random Erasing sampling


def torchvision_boxes(
    n: int, height: int, width: int, **kwargs: object
) -> tuple[np.ndarray, np.ndarray]:
    """(i, j, h, w) of torchvision v2 RandomErasing's draws and whether it erased."""
    torch.manual_seed(7)
    erasing = v2.RandomErasing(p=1.0, value=0.0, **kwargs)
    image = torch.zeros(1, height, width)
    params = [erasing.make_params([image]) for _ in range(n)]
    found = np.array([p["v"] is not None for p in params])
    boxes = np.array([(p["i"], p["j"], p["h"], p["w"]) for p in params])
    return boxes[found], found


def our_boxes(n: int, height: int, width: int, **kwargs: object) -> tuple[np.ndarray, np.ndarray]:
    """(i, j, h, w) of our sampler's draws, as :func:`torchvision_boxes`."""
    boxes = sample_random_erasing(n, height, width, p=1.0, generator=seeded(8), **kwargs)
    corners, sizes = boxes.boxes[:, 0, [1, 0]], torch.cat([boxes.heights, boxes.widths], dim=1)
    return torch.cat([corners, sizes], dim=1)[boxes.selected].numpy(), boxes.selected.numpy()


@pytest.mark.parametrize(
    ("height", "width", "scale", "ratio"),
    [(24, 32, (0.02, 0.4), PAPER_RATIO), (8, 8, (0.3, 0.9), (0.5, 3.0))],
)
def test_erasing_matches_torchvision_in_distribution(height, width, scale, ratio) -> None:
    """Log-uniform ratio: corner, height, width, area and failure rate agree with torchvision v2."""
    n = 3000
    theirs, their_found = torchvision_boxes(n, height, width, scale=scale, ratio=ratio)
    ours, our_found = our_boxes(n, height, width, scale=scale, ratio=ratio)
    for column in range(4):
        assert stats.ks_2samp(ours[:, column], theirs[:, column]).pvalue > ALPHA
    assert stats.ks_2samp(ours[:, 2] * ours[:, 3], theirs[:, 2] * theirs[:, 3]).pvalue > ALPHA
    table = [[our_found.sum(), n - our_found.sum()], [their_found.sum(), n - their_found.sum()]]
    assert stats.fisher_exact(table).pvalue > ALPHA


def test_erasing_uniform_ratio_is_detectably_different_from_torchvision() -> None:
    """The comparison above has power: the paper's uniform ratio fails it on the aspect ratio."""
    theirs, _ = torchvision_boxes(3000, 24, 32, scale=(0.02, 0.4), ratio=PAPER_RATIO)
    ours, _ = our_boxes(3000, 24, 32, scale=(0.02, 0.4), ratio=PAPER_RATIO, log_ratio=False)
    assert stats.ks_2samp(ours[:, 2] / ours[:, 3], theirs[:, 2] / theirs[:, 3]).pvalue < ALPHA


def test_uniform_ratio_of_reference_code_favours_tall_boxes() -> None:
    """Uniform r in (0.3, 1/0.3) (the seed's code): ~77% of boxes taller than wide; log-uniform: 50%."""
    def tall_and_wide(log_ratio: bool) -> tuple[int, int]:
        boxes = sample_random_erasing(4000, 256, 256, p=1.0, scale=(0.02, 0.1), log_ratio=log_ratio,
                                     generator=seeded(9))
        assert boxes.selected.all()
        return int((boxes.heights > boxes.widths).sum()), int((boxes.heights < boxes.widths).sum())

    tall, wide = tall_and_wide(log_ratio=True)
    assert stats.binomtest(tall, tall + wide, 0.5).pvalue > ALPHA
    tall, wide = tall_and_wide(log_ratio=False)
    uniform_tall = (1 / 0.3 - 1) / (1 / 0.3 - 0.3)
    assert stats.binomtest(tall, tall + wide, uniform_tall).pvalue > ALPHA
    assert stats.binomtest(tall, tall + wide, 0.5).pvalue < ALPHA


def test_erasing_position_is_uniform_and_reaches_every_edge() -> None:
    """A fixed 3x3 box (scale 0.09 of 10x10, ratio 1): top-left uniform over [0, 7]^2."""
    boxes = sample_random_erasing(
        4000, 10, 10, p=1.0, scale=(0.09, 0.09), ratio=(1.0, 1.0), generator=seeded(10)
    )
    assert (boxes.heights == 3).all() and (boxes.widths == 3).all()
    assert_uniform(boxes.boxes[:, 0, 0], 8)
    assert_uniform(boxes.boxes[:, 0, 1], 8)
    assert (boxes.boxes[:, 0, 2] == 10).any() and (boxes.boxes[:, 0, 3] == 10).any()


def test_erasing_boxes_stay_strictly_smaller_than_the_image() -> None:
    boxes = sample_random_erasing(3000, 8, 12, p=1.0, scale=(0.2, 1.0), generator=seeded(11))
    applied = boxes.selected
    assert (boxes.heights[applied] < 8).all() and (boxes.widths[applied] < 12).all()
    assert (boxes.boxes[applied][..., 3] <= 8).all() and (boxes.boxes[applied][..., 2] <= 12).all()


def test_erasing_gives_up_after_max_attempts_and_leaves_the_image() -> None:
    """No box fits (h = sqrt(0.9 * 64 * 3) > 8): nothing erased, box (0, 0, 0, 0)."""
    images = torch.randn(50, 3, 8, 8)
    boxes = sample_random_erasing(
        50, 8, 8, p=1.0, scale=(0.9, 1.0), ratio=(3.0, 3.3), generator=seeded(12)
    )
    assert not boxes.selected.any() and (boxes.boxes == 0).all()
    out = random_erasing(images, p=1.0, scale=(0.9, 1.0), ratio=(3.0, 3.3), generator=seeded(12))
    assert torch.equal(out, images)


def test_erasing_more_attempts_find_more_boxes() -> None:
    """P(found) = 1 - (1 - q)^T: more attempts, fewer images left unchanged."""
    def found_rate(attempts: int) -> float:
        boxes = sample_random_erasing(4000, 8, 8, p=1.0, scale=(0.3, 0.9), ratio=(0.5, 3.0),
                                     max_attempts=attempts, generator=seeded(13))
        return float(boxes.selected.float().mean())

    one, ten = found_rate(1), found_rate(10)
    assert 0.2 < one < 0.9
    assert abs(ten - (1 - (1 - one) ** 10)) < 0.02


def test_erasing_coin_fraction_is_p_per_sample_and_batched() -> None:
    """Fraction of erased images is p for the batched op and for the v2 transform image by image."""
    n, p, kwargs = 2000, 0.3, {"scale": (0.05, 0.2), "ratio": (0.5, 2.0), "value": 1.0}
    batched = random_erasing(torch.zeros(n, 1, 16, 16), p=p, generator=seeded(14), **kwargs)
    torch.manual_seed(14)
    transform = RandomErasing(p=p, **kwargs)
    single = torch.stack([transform(torch.zeros(1, 16, 16)) for _ in range(n)])
    for out in (batched, single):
        assert stats.binomtest(int(out.flatten(1).any(1).sum()), n, p).pvalue > ALPHA


@pytest.mark.parametrize(
    ("transform", "batched_op"),
    [
        (RandomErasing(p=1.0, value=1.0), lambda x, g: random_erasing(x, p=1.0, value=1.0, generator=g)),
        (Cutout(5, fill=1.0), lambda x, g: cutout(x, 5, fill=1.0, generator=g)),
    ],
    ids=["erasing", "cutout"],
)
def test_per_sample_and_batched_draw_the_same_boxes_in_distribution(transform, batched_op) -> None:
    """Boxes read off the pixels: the v2 transform image by image vs one batched call."""
    n = 1200
    batched = batched_op(torch.zeros(n, 1, 12, 20), seeded(15))
    torch.manual_seed(15)
    single = torch.stack([transform(torch.zeros(1, 12, 20)) for _ in range(n)])
    ours = np.array([pixel_box(image[0] == 1) for image in batched])
    theirs = np.array([pixel_box(image[0] == 1) for image in single])
    for column in range(4):
        assert stats.ks_2samp(ours[:, column], theirs[:, column]).pvalue > ALPHA


def test_every_image_gets_its_own_box() -> None:
    """Batched ops and the v2 transforms on a batch draw a box per image (torchvision: one for all)."""
    torch.manual_seed(16)
    images = torch.zeros(64, 1, 16, 16)
    outputs = [
        random_erasing(images, p=1.0, value=1.0, generator=seeded(16)),
        cutout(images, 4, fill=1.0, generator=seeded(16)),
        RandomErasing(p=1.0, value=1.0)(images),
        Cutout(4, fill=1.0)(images),
    ]
    for out in outputs:
        assert len({pixel_box(image[0] == 1) for image in out}) > 10
    torch.manual_seed(16)
    theirs = v2.RandomErasing(p=1.0, value=1.0)(images)
    assert len({pixel_box(image[0] == 1) for image in theirs}) == 1


# --------------------------------------------------------------------------- fills


def test_fill_zero_after_normalisation_is_the_dataset_mean() -> None:
    """As a float-stage hook, fill 0 unnormalises to the mean; the raw mean (seed's fill) does not."""
    mean = torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR_STD).view(1, 3, 1, 1)
    raw = torch.rand(32, 3, 16, 16, generator=seeded(17))
    normalised = (raw - mean) / std
    targets = torch.arange(32)
    for hook in (CutoutHook(8), RandomErasingHook(p=1.0, value=0.0)):
        out, out_targets = hook(normalised, targets, seeded(18))
        holes = out != normalised
        restored = out * std + mean
        assert holes.any() and torch.equal(out_targets, targets)
        assert torch.allclose(restored[holes], mean.expand_as(out)[holes], atol=1e-6)
    seed_fill = random_erasing(normalised, p=1.0, value=CIFAR_MEAN, generator=seeded(18))
    holes = seed_fill != normalised
    restored = (seed_fill * std + mean)[holes]
    assert torch.allclose(restored, (mean + std * mean).expand_as(seed_fill)[holes], atol=1e-6)
    assert (restored - mean.expand_as(seed_fill)[holes]).abs().min() > 0.1


def test_random_fill_is_standard_normal_on_float_and_uniform_on_uint8() -> None:
    values = sample_random_erasing(8, 16, 16, p=1.0, generator=seeded(19)).noise
    assert stats.kstest(values.flatten().numpy(), "norm").pvalue > ALPHA
    pixels = sample_random_erasing(64, 32, 32, p=1.0, dtype=torch.uint8, generator=seeded(19)).noise
    assert pixels.dtype == torch.uint8
    assert_uniform(pixels.long(), 256)


@pytest.mark.parametrize("p", [1.0, 0.3])
def test_random_fill_draws_noise_for_the_erased_pixels_only(p: float) -> None:
    """On the CPU exactly C * (erased area) values; elsewhere a bound, never the whole batch."""
    params = sample_random_erasing(500, 32, 32, p=p, generator=seeded(19))
    erased = int((params.areas[:, 0] * params.selected).sum())
    assert params.noise.numel() == 3 * erased < 0.45 * p * 500 * 3 * 32 * 32 + 3 * 32 * 32
    holes = sample_cutout(200, 32, 32, 8, n_holes=2, fill="random", generator=seeded(19))
    assert holes.noise.numel() == 3 * int(holes.areas.sum())


def test_random_fill_is_drawn_per_pixel_in_the_box() -> None:
    images = torch.zeros(4, 3, 16, 16)
    out = random_erasing(images, p=1.0, scale=(0.3, 0.4), generator=seeded(20))
    for image in out:
        assert image[image != 0].unique().numel() == int((image != 0).sum())


def test_mean_fill_is_each_images_own_channel_mean() -> None:
    images = torch.rand(5, 3, 8, 8, generator=seeded(21))
    params = sample_cutout(5, 8, 8, 4, fill="mean", generator=seeded(21))
    mask = params.mask().expand_as(images)
    out = occlude(images, params)
    assert torch.allclose(out[mask], images.mean(dim=(2, 3), keepdim=True).expand_as(images)[mask])
    uint8 = (images * 255).round().to(torch.uint8)
    rounded = uint8.float().mean(dim=(2, 3), keepdim=True).round().to(torch.uint8)
    assert torch.equal(occlude(uint8, params)[mask], rounded.expand_as(uint8)[mask])


@pytest.mark.parametrize("channels", [1, 2, 4])
def test_per_channel_fill_erases_every_channel(channels: int) -> None:
    """The seed's code writes only channel 0 unless C == 3; every channel gets its own value here."""
    value = tuple(float(c + 1) for c in range(channels))
    images = torch.zeros(20, channels, 16, 16)
    out = random_erasing(images, p=1.0, value=value, generator=seeded(22))
    mask = out[:, :1] != 0
    for c in range(channels):
        assert torch.equal(out[:, c : c + 1] != 0, mask)
        assert (out[:, c][mask[:, 0]] == c + 1).all()


def test_ops_return_a_new_tensor_and_leave_the_input() -> None:
    """The Random Erasing reference code writes into its input; ours never does."""
    images = torch.randn(8, 3, 12, 12, generator=seeded(23))
    before = images.clone()
    random_erasing(images, p=1.0, value=0.0, generator=seeded(24))
    cutout(images, 6, generator=seeded(24))
    RandomErasing(p=1.0)(images[0])
    RandomErasingHook(p=1.0)(images, torch.arange(8), seeded(24))
    assert torch.equal(images, before)


def test_batched_op_is_sampler_then_applier() -> None:
    images = torch.randn(16, 3, 10, 10, generator=seeded(25))
    out = random_erasing(images, p=0.7, value="random", generator=seeded(26))
    params = sample_random_erasing(16, 10, 10, p=0.7, generator=seeded(26))
    assert torch.equal(out, occlude(images, params))
    hooked, _ = RandomErasingHook(p=0.7)(images, torch.arange(16), seeded(26))
    assert torch.equal(out, hooked)


def test_same_seed_same_output_different_seed_different_output() -> None:
    images = torch.randn(16, 3, 10, 10)
    first = cutout(images, 4, generator=seeded(27))
    assert torch.equal(first, cutout(images, 4, generator=seeded(27)))
    assert not torch.equal(first, cutout(images, 4, generator=seeded(28)))


# --------------------------------------------------------------------------- dtypes and devices


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.uint8])
def test_batched_ops_keep_dtype_and_touch_only_the_holes(dtype: torch.dtype) -> None:
    """bf16/fp16 stay so (the seed's float32 mask multiplication would promote them to float32)."""
    images = torch.full((12, 3, 10, 10), 7, dtype=dtype)
    for out, fill in (
        (cutout(images, 5, fill=3.0, generator=seeded(29)), 3),
        (random_erasing(images, p=1.0, value=(1, 2, 3), generator=seeded(29)), None),
        (random_erasing(images, p=1.0, value="random", generator=seeded(29)), None),
    ):
        assert out.dtype == dtype and out.shape == images.shape
        holes = out != images
        assert holes.any()
        assert (out[~holes] == 7).all()
        if fill is not None:
            assert (out[holes] == fill).all()


@CUDA
def test_batched_ops_run_on_cuda_with_a_cuda_generator() -> None:
    images = torch.randn(256, 3, 32, 32, device="cuda", dtype=torch.bfloat16)
    generator = seeded(30, "cuda")
    out = cutout(images, 8, generator=generator)
    erased = random_erasing(images, p=0.5, generator=generator)
    boxes = sample_random_erasing(256, 32, 32, p=0.5, generator=generator, device="cuda")
    assert out.device.type == erased.device.type == boxes.boxes.device.type == "cuda"
    assert out.dtype == erased.dtype == torch.bfloat16
    assert ((out == 0).flatten(1).any(1)).all()
    erased_images = int((erased != images).flatten(1).any(1).sum().cpu())
    assert stats.binomtest(erased_images, 256, 0.5).pvalue > ALPHA


# --------------------------------------------------------------------------- v2 transforms


@pytest.mark.parametrize("transform", [Cutout(4, fill=9.0), RandomErasing(p=1.0, value=9.0)])
def test_transforms_follow_the_v2_conventions(transform: v2.Transform) -> None:
    torch.manual_seed(31)
    image = torch.zeros(3, 16, 16)
    out = transform(image)
    assert out.shape == image.shape and (out == 9).any()
    wrapped = transform(tv_tensors.Image(image))
    assert isinstance(wrapped, tv_tensors.Image) and (wrapped == 9).any()
    out, label = transform(image, 3)
    assert label == 3 and (out == 9).any()
    video = transform(torch.zeros(2, 4, 3, 16, 16))
    assert video.shape == (2, 4, 3, 16, 16) and (video.flatten(2) == 9).any(dim=2).all()
    pipeline = v2.Compose([v2.ToDtype(torch.float32, scale=True), transform])
    assert (pipeline(torch.zeros(3, 8, 8, dtype=torch.uint8)) == 9).any()
    with pytest.raises(TypeError, match="PIL"):
        transform(PIL.Image.new("RGB", (8, 8)))


def test_transform_defaults_are_the_papers() -> None:
    erasing, cutout = RandomErasing(), Cutout(16)
    assert (erasing.p, erasing.scale, erasing.ratio) == (0.5, (0.02, 0.4), (0.3, 1 / 0.3))
    assert (erasing.value, erasing.log_ratio, erasing.max_attempts) == ("random", True, 10)
    assert (cutout.length, cutout.n_holes, cutout.fill) == (16, 1, 0.0)
    assert (cutout.p, cutout.inside) == (1.0, False)
    assert "length=16" in repr(cutout)


# --------------------------------------------------------------------------- properties


@settings(max_examples=40, deadline=None)
@given(
    n=hs.integers(1, 6), c=hs.integers(1, 4), h=hs.integers(1, 12), w=hs.integers(1, 12),
    length=hs.integers(1, 14), n_holes=hs.integers(1, 3), inside=hs.booleans(),
    p=hs.sampled_from([0.0, 0.5, 1.0]), seed=hs.integers(0, 2**16),
)
def test_cutout_property(n, c, h, w, length, n_holes, inside, p, seed) -> None:
    if inside and length > min(h, w):
        with pytest.raises(ValueError, match="length must be <= min"):
            sample_cutout(n, h, w, length, inside=True)
        return
    boxes = sample_cutout(n, h, w, length, n_holes=n_holes, p=p, inside=inside, fill=5.0, channels=c,
                          generator=seeded(seed))
    x0, y0, x1, y1 = boxes.boxes.unbind(-1)
    assert ((0 <= y0) & (y0 < y1) & (y1 <= h) & (0 <= x0) & (x0 < x1) & (x1 <= w)).all()
    assert (boxes.heights <= length).all() and (boxes.widths <= length).all()
    if inside:
        assert (boxes.heights == length).all() and (boxes.widths == length).all()
    images = torch.randn(n, c, h, w, generator=seeded(seed))
    out = occlude(images, boxes)
    expected = images.clone()
    for i in range(n):
        for k in range(n_holes):
            if boxes.selected[i]:
                expected[i, :, y0[i, k] : y1[i, k], x0[i, k] : x1[i, k]] = 5.0
    assert torch.equal(out, expected)


@settings(max_examples=40, deadline=None)
@given(
    n=hs.integers(1, 6), h=hs.integers(1, 16), w=hs.integers(1, 16),
    low=hs.floats(0.0, 1.0), spread=hs.floats(0.0, 1.0), r_low=hs.floats(0.1, 3.0),
    r_factor=hs.floats(1.0, 4.0), log_ratio=hs.booleans(), attempts=hs.integers(1, 12),
    seed=hs.integers(0, 2**16),
)
def test_erasing_property(n, h, w, low, spread, r_low, r_factor, log_ratio, attempts, seed) -> None:
    scale, ratio = (low, low + (1 - low) * spread), (r_low, r_low * r_factor)
    boxes = sample_random_erasing(n, h, w, p=1.0, scale=scale, ratio=ratio, log_ratio=log_ratio,
                                  max_attempts=attempts, value=5.0, channels=2, generator=seeded(seed))
    x0, y0, x1, y1 = boxes.boxes[:, 0].unbind(-1)
    assert ((0 <= y0) & (y0 <= y1) & (y1 <= h) & (0 <= x0) & (x0 <= x1) & (x1 <= w)).all()
    assert (boxes.heights[boxes.selected] < h).all() and (boxes.widths[boxes.selected] < w).all()
    assert (boxes.areas[~boxes.selected] == 0).all()
    images = torch.randn(n, 2, h, w, generator=seeded(seed))
    out = occlude(images, boxes)
    inside = boxes.mask().expand_as(images)
    assert torch.equal(out[~inside], images[~inside]) and (out[inside] == 5.0).all()


# --------------------------------------------------------------------------- errors


IMAGES = torch.zeros(2, 3, 8, 8)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: Cutout(0), ValueError, "length must be >= 1, got 0"),
        (lambda: Cutout(-3), ValueError, "length must be >= 1"),
        (lambda: Cutout(2.5), TypeError, "length must be an int"),
        (lambda: Cutout(4, n_holes=0), ValueError, "n_holes must be >= 1"),
        (lambda: Cutout(4, p=1.5), ValueError, r"p must be in \[0.0, 1.0\], got 1.5"),
        (lambda: Cutout(4, inside=1), TypeError, "inside must be a bool"),
        (lambda: Cutout(4, fill="noise"), ValueError, "fill must be a number, a per-channel sequence"),
        (lambda: Cutout(4, fill=float("nan")), ValueError, "fill must be finite"),
        (lambda: RandomErasing(p=-0.1), ValueError, "p must be in"),
        (lambda: RandomErasing(scale=(0.4, 0.02)), ValueError, "scale must satisfy 0.0 <= min <= max"),
        (lambda: RandomErasing(scale=(0.1, 1.5)), ValueError, "scale must satisfy"),
        (lambda: RandomErasing(scale=0.3), TypeError, r"scale must be a sequence of two numbers"),
        (lambda: RandomErasing(scale=123), TypeError, r"scale must be a sequence of two numbers"),
        (lambda: RandomErasing(ratio=123), TypeError, r"ratio must be a sequence of two numbers"),
        (lambda: RandomErasing(scale=(0.1, "a")), TypeError, r"scale must hold two real numbers"),
        (lambda: RandomErasing(ratio=(3.0, 0.3)), ValueError, "ratio must satisfy"),
        (lambda: RandomErasing(ratio=(0.0, 1.0)), ValueError, r"ratio\[0\] must be > 0"),
        (lambda: RandomErasing(ratio=(1.0, float("inf"))), ValueError, "ratio must be finite"),
        (lambda: RandomErasing(value=[]), ValueError, "value as a sequence must hold one number"),
        (lambda: RandomErasing(value=(0.0, "a", 1.0)), TypeError, "value must be a number, a per-channel"),
        (lambda: RandomErasing(log_ratio="yes"), TypeError, "log_ratio must be a bool"),
        (lambda: RandomErasing(max_attempts=0), ValueError, "max_attempts must be >= 1"),
        (lambda: cutout(IMAGES, 0), ValueError, "length must be >= 1"),
        (lambda: cutout(IMAGES[0], 4), ValueError, r"images must be 4-D \(N, C, H, W\)"),
        (lambda: cutout(IMAGES[:0], 4), ValueError, "images must hold at least one image"),
        (lambda: cutout(IMAGES.numpy(), 4), TypeError, "images must be a torch.Tensor"),
        (lambda: cutout(IMAGES, 9, inside=True), ValueError, r"length must be <= min\(.*\) = 8"),
        (lambda: cutout(IMAGES.long(), 4), TypeError, "images must be floating point or uint8"),
        (lambda: cutout(IMAGES.byte(), 4, fill=0.5), ValueError, r"fill must be integers in \[0, 255"),
        (lambda: cutout(IMAGES.byte(), 4, fill=300), ValueError, "fill must be integers"),
        (lambda: random_erasing(IMAGES, value=(0.0, 1.0)), ValueError, "value must hold 3 numbers"),
        (lambda: random_erasing(IMAGES, p=2.0), ValueError, "p must be in"),
        (lambda: random_erasing(IMAGES, scale=(0.5, 0.1)), ValueError, "scale must satisfy"),
        (lambda: random_erasing(IMAGES.byte(), value=(1.5, 0, 0)), ValueError, "value must be integ"),
        (lambda: RandomErasing(value=(0.0, 1.0))(IMAGES[0]), ValueError, "value must hold 3 numbers"),
        (lambda: Cutout(4)(torch.zeros(8)), ValueError, r"image must have shape \(..., C, H, W\)"),
        (lambda: sample_cutout(0, 8, 8, 4), ValueError, "n must be >= 1"),
        (lambda: sample_random_erasing(4, 8, 0), ValueError, "width must be >= 1"),
        (lambda: occlude(IMAGES, sample_cutout(3, 8, 8, 4)), ValueError, "params were drawn for 3 images of 8x8"),
        (lambda: occlude(IMAGES, sample_cutout(2, 8, 8, 4, fill="random", channels=1)), ValueError,
         "params.noise holds .* values, the boxes need"),
        (lambda: occlude(IMAGES, (1, 2)), TypeError, "params must be OcclusionParams"),
        (lambda: CutoutHook(4, stage="uint8", fill=0.5), ValueError, r"fill must be integers in \[0, 255"),
        (lambda: CutoutHook(4, stage="half"), ValueError, "stage must be one of"),
        (lambda: RandomErasingHook(scale=(0.5, 0.1)), ValueError, "scale must satisfy"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, error, match) -> None:
    with pytest.raises(error, match=match):
        call()


def test_boxes_report_areas_and_aspect_ratios_for_plotting() -> None:
    coordinates = torch.tensor([[[2, 1, 8, 4]], [[0, 0, 1, 2]]])  # (x1, y1, x2, y2)
    boxes = OcclusionParams(coordinates, torch.tensor([True, False]), 10, 10)
    assert boxes.areas.tolist() == [[18], [2]]
    assert torch.allclose(boxes.area_fractions, torch.tensor([[0.18], [0.02]]))
    assert torch.allclose(boxes.aspect_ratios, torch.tensor([[0.5], [2.0]]))
    mask = boxes.mask()
    assert mask.shape == (2, 1, 10, 10) and int(mask.sum()) == 18 and mask[0, 0, 1:4, 2:8].all()


# --------------------------------------------------------------------------- hooks: registry, no sync


def test_registry_names_the_hooks() -> None:
    assert OCCLUSIONS == {"cutout": CutoutHook, "random_erasing": RandomErasingHook}
    for hook in (CutoutHook(8), RandomErasingHook()):
        assert isinstance(hook, Hook) and isinstance(hook, BatchTransform) and hook.stage == "float"
    assert repr(CutoutHook(8)).startswith("CutoutHook(length=8")


@pytest.mark.parametrize(
    "hook",
    [CutoutHook(4), CutoutHook(4, n_holes=2, p=0.5, fill="random"), CutoutHook(4, fill="mean"),
     CutoutHook(4, inside=True, fill=(1.0, 2.0, 3.0)), RandomErasingHook(), RandomErasingHook(p=1.0, value=0.0),
     RandomErasingHook(value="mean"), RandomErasingHook(stage="uint8", value=7)],
    ids=repr,
)
def test_hooks_never_synchronise(hook) -> None:
    """Meta tensors have no values: any .item()/int()/.tolist()/bool() on the hot path would raise."""
    dtype = torch.uint8 if hook.stage == "uint8" else torch.float32
    images = torch.empty(8, 3, 16, 16, device="meta", dtype=dtype)
    targets = torch.empty(8, dtype=torch.int64, device="meta")
    out, out_targets = hook(images, targets, None)
    assert out.device.type == "meta" and out.shape == images.shape and out.dtype == dtype
    assert out_targets is targets


def test_bounded_noise_path_matches_the_exact_one_in_law() -> None:
    """Off the CPU the noise buffer has a fixed bound per box; the erased pixels still get N(0, 1)."""
    from tricks_lab import occlusion

    params = sample_random_erasing(64, 16, 16, p=1.0, generator=seeded(40))
    bound = 64 * 3 * 16 * 16
    padded = OcclusionParams(params.boxes, params.selected, 16, 16, "random",
                             torch.randn(bound, generator=seeded(41)))
    images = torch.zeros(64, 3, 16, 16)
    out = occlusion._occlude(images, padded)
    mask = params.mask().expand_as(images)
    assert torch.equal(out[~mask], images[~mask])
    assert stats.kstest(out[mask].numpy(), "norm").pvalue > ALPHA


@pytest.mark.parametrize("fill", ["random", "mean", 2.0, (1.0, 2.0, 3.0)])
@pytest.mark.parametrize("n_holes", [1, 3])
def test_the_three_application_paths_agree(fill, n_holes: int) -> None:
    """Slicing (a few boxes on the host), scatter (one box per image on the CPU) and the masked
    gather (accelerators) give the same pixels for the same params."""
    from tricks_lab import occlusion

    images = torch.randn(3, 3, 12, 12, generator=seeded(50))
    params = sample_cutout(3, 12, 12, 5, n_holes=n_holes, p=0.7, fill=fill, generator=seeded(51))
    masked = occlusion._occlude(images, params) if n_holes > 1 else None
    by_slices = occlusion._occlude_by_slicing(images, params)
    if fill == "random":
        gathered = occlusion._occlude_with_noise(images, params.boxes, params.selected, params.noise)
        assert torch.equal(by_slices, gathered)
    if masked is not None:
        assert torch.equal(by_slices, masked)
    many = sample_random_erasing(64, 12, 12, p=0.7, value=fill, generator=seeded(52))
    batch = torch.randn(64, 3, 12, 12, generator=seeded(53))
    assert torch.equal(occlusion._occlude(batch, many), occlusion._occlude_by_slicing(batch, many))
