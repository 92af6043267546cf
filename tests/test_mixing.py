"""Tests of tricks_lab.mixing: mixup, CutMix, RICAP and their loader hooks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from tricks_lab.hooks import BatchTransform, Hook, sample_coin
from tricks_lab.mixing import (
    MIXINGS,
    RICAP,
    CutMix,
    CutMixParams,
    Mixing,
    Mixup,
    MixupParams,
    RicapParams,
    apply_cutmix,
    apply_mixup,
    apply_ricap,
    cutmix,
    mixup,
    ricap,
    ricap_patch_boxes,
    sample_cutmix,
    sample_mixup,
    sample_permutation,
    sample_ricap,
    sample_symmetric_beta,
    soft_targets,
)

SETTINGS = settings(max_examples=25, deadline=None)


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def pixel_ids(n: int, c: int = 2, h: int = 8, w: int = 8) -> torch.Tensor:
    """Images whose every pixel value is unique: its flat index (exact in float64)."""
    return torch.arange(n * c * h * w, dtype=torch.float64).view(n, c, h, w)


def decode(ids: torch.Tensor, shape: tuple[int, int, int, int]) -> tuple[torch.Tensor, ...]:
    """Source (image, channel, row, column) of each pixel of an image built from pixel_ids."""
    _, c, h, w = shape
    flat = ids.long()
    return flat // (c * h * w), flat // (h * w) % c, flat // w % h, flat % w


def pixel_share(mixed: torch.Tensor, shape: tuple[int, int, int, int]) -> torch.Tensor:
    """(N, N): fraction of output image i's pixels that come from source image j."""
    source, _, _, _ = decode(mixed, shape)
    return F.one_hot(source.flatten(1), shape[0]).double().mean(1)


def soft_ce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return -(targets * logits.log_softmax(1)).sum(1).mean()


# ----------------------------------------------------------------------------
# Argument validation
# ----------------------------------------------------------------------------

X = torch.zeros(4, 3, 8, 8)
Y = torch.tensor([0, 1, 2, 3])


@pytest.mark.parametrize("op", [mixup, cutmix])
@pytest.mark.parametrize("alpha", [0.0, -1.0])
def test_non_positive_alpha_is_rejected(op, alpha):
    with pytest.raises(ValueError, match=r"alpha must be > 0, got"):
        op(X, Y, alpha, num_classes=10)


@pytest.mark.parametrize("beta", [0.0, -0.3])
def test_non_positive_beta_is_rejected(beta):
    with pytest.raises(ValueError, match=r"beta must be > 0, got"):
        ricap(X, Y, beta, num_classes=10)


def _call(op, images, labels, num_classes=10):
    return {"mixup": lambda: mixup(images, labels, 1.0, num_classes=num_classes),
            "cutmix": lambda: cutmix(images, labels, 1.0, num_classes=num_classes),
            "ricap": lambda: ricap(images, labels, 0.3, num_classes=num_classes)}[op]()


@pytest.mark.parametrize("op", ["mixup", "cutmix", "ricap"])
def test_bad_batches_are_rejected(op):
    with pytest.raises(ValueError, match=r"images must be 4-D \(N, C, H, W\), got shape \(3, 8, 8\)"):
        _call(op, torch.zeros(3, 8, 8), Y)
    with pytest.raises(ValueError, match=r"targets as class indices must have shape \(4,\), got \(5,\)"):
        _call(op, X, torch.zeros(5, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 10\), got values in \[0, 10\]"):
        _call(op, X, torch.tensor([0, 1, 2, 10]))
    with pytest.raises(ValueError, match=r"num_classes is required when targets are class indices"):
        _call(op, X, Y, num_classes=None)
    with pytest.raises(ValueError, match=r"targets as soft targets must have shape \(4, 10\), got \(4, 7\)"):
        _call(op, X, torch.full((4, 7), 1 / 7))
    with pytest.raises(TypeError, match=r"targets must be a torch.Tensor, got list"):
        _call(op, X, [0, 1, 2, 3])


def test_mode_and_dtype_errors():
    with pytest.raises(ValueError, match=r"mode must be one of 'batch', 'elem'; got 'pair'"):
        mixup(X, Y, 1.0, num_classes=10, mode="pair")
    with pytest.raises(ValueError, match=r"mode must be one of 'batch', 'elem'; got 'pair'"):
        cutmix(X, Y, 1.0, num_classes=10, mode="pair")
    with pytest.raises(TypeError, match=r"images must be floating point for mixup, got dtype torch.uint8"):
        mixup(X.to(torch.uint8), Y, 1.0, num_classes=10)


def test_hook_arguments_are_validated():
    with pytest.raises(ValueError, match=r"p must be in \[0.0, 1.0\], got 1.5"):
        Mixup(0.2, 10, p=1.5)
    with pytest.raises(ValueError, match=r"alpha must be > 0, got 0"):
        CutMix(0, 10)
    with pytest.raises(ValueError, match=r"beta must be > 0, got -1"):
        RICAP(-1, 10)
    with pytest.raises(ValueError, match=r"num_classes must be >= 1, got 0"):
        RICAP(0.3, 0)
    with pytest.raises(TypeError, match=r"num_classes must be an int, got float 10.0"):
        Mixup(0.2, 10.0)


def test_sampler_arguments_are_validated():
    with pytest.raises(ValueError, match=r"n must be >= 1, got 0"):
        sample_mixup(0, 1.0)
    with pytest.raises(ValueError, match=r"concentration must be > 0, got 0.0"):
        sample_symmetric_beta(0.0, 3)
    with pytest.raises(ValueError, match=r"height must be >= 1, got 0"):
        sample_cutmix(4, 0, 8, 1.0)
    with pytest.raises(ValueError, match=r"width must be >= 1, got -2"):
        sample_ricap(4, 8, -2, 0.3)
    with pytest.raises(ValueError, match=r"p must be in \[0.0, 1.0\], got -0.1"):
        sample_mixup(4, 1.0, p=-0.1)


def test_inconsistent_params_are_rejected():
    perm, every = torch.arange(4), torch.ones(4, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"params.permutation must have shape \(4,\), got \(3,\)"):
        apply_mixup(X, Y, MixupParams(torch.arange(3), torch.tensor([0.5]), every), num_classes=10)
    with pytest.raises(ValueError, match=r"params.lam must have shape \(1, ...\) .* or \(4, ...\)"):
        apply_mixup(X, Y, MixupParams(perm, torch.full((2,), 0.5), every), num_classes=10)
    with pytest.raises(TypeError, match=r"params.selected must have dtype torch.bool"):
        apply_mixup(X, Y, MixupParams(perm, torch.tensor([0.5]), every.long()), num_classes=10)
    with pytest.raises(TypeError, match=r"params must be MixupParams, got tuple"):
        apply_mixup(X, Y, (perm, torch.tensor([0.5]), every), num_classes=10)
    box = torch.tensor([[2, 2, 9, 4]])
    message = r"params.boxes must satisfy 0 <= x1 <= x2 <= 8 .* got \[2, 2, 9, 4\]"
    with pytest.raises(ValueError, match=message):
        apply_cutmix(X, Y, CutMixParams(perm, box, torch.tensor([0.5]), torch.tensor([0.5]), every), num_classes=10)
    good = sample_ricap(4, 8, 8, 0.3, generator=seeded(0))
    bad_crop = RicapParams(good.boundary, good.patch_boxes, good.crop_boxes + 8, good.permutations,
                           good.weights, good.selected)
    with pytest.raises(ValueError, match=r"params.crop_boxes must satisfy 0 <= x1 <= x2 <= 8"):
        apply_ricap(X, Y, bad_crop, num_classes=10)
    with pytest.raises(ValueError, match=r"params.boundary must lie in \[0, 6\] x \[0, 6\]"):
        bad_boundary = RicapParams(torch.tensor([7, 3]), good.patch_boxes, good.crop_boxes, good.permutations,
                                   good.weights, good.selected)
        apply_ricap(torch.zeros(4, 3, 6, 6), Y, bad_boundary, num_classes=10)


# ----------------------------------------------------------------------------
# Shared pieces
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.2, 1.0, 4.0])
def test_lambda_follows_beta_alpha_alpha(alpha):
    """Kolmogorov-Smirnov against Beta(alpha, alpha); the same test rejects a wrong alpha."""
    draws = sample_symmetric_beta(alpha, 4000, generator=seeded(1)).double().numpy()
    assert stats.kstest(draws, "beta", args=(alpha, alpha)).pvalue > 0.01
    assert stats.kstest(draws, "beta", args=(2 * alpha, 2 * alpha)).pvalue < 1e-6


def test_mixup_and_cutmix_draw_their_lambdas_from_beta():
    mix = sample_mixup(3000, 0.4, mode="elem", generator=seeded(2)).lam.double().numpy()
    cut = sample_cutmix(3000, 32, 32, 0.4, mode="elem", generator=seeded(3)).sampled_lam.double().numpy()
    assert stats.kstest(mix, "beta", args=(0.4, 0.4)).pvalue > 0.01
    assert stats.kstest(cut, "beta", args=(0.4, 0.4)).pvalue > 0.01


def test_tiny_alpha_gives_a_fair_coin_without_nans():
    draws = sample_symmetric_beta(1e-4, 4000, generator=seeded(4))
    assert torch.isfinite(draws).all()
    near_one = int((draws > 0.5).sum())
    assert ((draws < 1e-6) | (draws > 1 - 1e-6)).float().mean() > 0.99
    assert stats.binomtest(near_one, 4000, 0.5).pvalue > 0.01


def test_pairing_is_a_uniform_random_permutation():
    perms = torch.stack([sample_permutation(5, generator=seeded(s)) for s in range(3000)])
    assert (perms.sort(1).values == torch.arange(5)).all()
    counts = F.one_hot(perms[:, 0], 5).sum(0).numpy()
    assert stats.chisquare(counts).pvalue > 0.01


def test_index_labels_become_one_hot_and_soft_targets_pass_through():
    assert torch.equal(soft_targets(torch.tensor([2, 0]), 3, 2), torch.tensor([[0.0, 0, 1], [1, 0, 0]]))
    soft = torch.tensor([[0.2, 0.8], [0.5, 0.5]])
    assert soft_targets(soft, None, 2) is soft


# ----------------------------------------------------------------------------
# mixup
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["batch", "elem"])
def test_mixup_applies_the_convex_combination(mode):
    images, labels = torch.randn(6, 3, 5, 5, generator=seeded(5)), torch.tensor([0, 1, 2, 3, 4, 0])
    params = sample_mixup(6, 0.7, mode=mode, generator=seeded(6))
    assert params.lam.shape == ((1,) if mode == "batch" else (6,))
    mixed, targets = apply_mixup(images, labels, params, num_classes=5)
    lam, perm = params.lam.view(-1, 1, 1, 1), params.permutation
    torch.testing.assert_close(mixed, lam * images + (1 - lam) * images[perm])
    one_hot = F.one_hot(labels, 5).float()
    torch.testing.assert_close(targets, lam.view(-1, 1) * one_hot + (1 - lam.view(-1, 1)) * one_hot[perm])


def test_mixup_mixes_soft_targets():
    images, soft = torch.randn(4, 1, 2, 2), torch.softmax(torch.randn(4, 3, generator=seeded(7)), 1)
    params = MixupParams(torch.tensor([1, 2, 3, 0]), torch.tensor([0.25, 0.5, 0.75, 1.0]), torch.ones(4, dtype=torch.bool))
    _, targets = apply_mixup(images, soft, params)
    lam = params.lam.view(-1, 1)
    torch.testing.assert_close(targets, lam * soft + (1 - lam) * soft[params.permutation])


def test_mixup_with_alpha_to_zero_returns_the_inputs():
    """Beta(alpha, alpha) -> a coin on {0, 1}: each output is an input image with its own label."""
    images, labels = torch.randn(64, 3, 4, 4, generator=seeded(8)), torch.arange(64) % 10
    mixed, targets = mixup(images, labels, 1e-4, num_classes=10, mode="elem", generator=seeded(9))
    distances = (mixed.flatten(1)[:, None] - images.flatten(1)[None]).abs().amax(2)
    source = distances.argmin(1)
    assert (distances.min(1).values == 0).all()
    assert torch.equal(targets, F.one_hot(labels[source], 10).float())
    assert not torch.equal(source, torch.arange(64))  # some outputs are the partner (lambda = 0)


@pytest.mark.parametrize("mode", ["batch", "elem"])
def test_mixup_then_soft_ce_is_the_papers_two_term_loss(mode):
    images, labels = torch.randn(8, 3, 4, 4), torch.randint(0, 10, (8,), generator=seeded(10))
    logits = torch.randn(8, 10, generator=seeded(11))
    params = sample_mixup(8, 0.2, mode=mode, generator=seeded(12))
    _, targets = apply_mixup(images, labels, params, num_classes=10)
    lam, perm = params.lam, params.permutation
    per_sample = (lam * F.cross_entropy(logits, labels, reduction="none")
                  + (1 - lam) * F.cross_entropy(logits, labels[perm], reduction="none"))
    torch.testing.assert_close(soft_ce(logits, targets), per_sample.mean())
    if mode == "batch":  # the seed's form: lambda CE(y_i) + (1 - lambda) CE(y_j)
        paper = lam * F.cross_entropy(logits, labels) + (1 - lam) * F.cross_entropy(logits, labels[perm])
        torch.testing.assert_close(soft_ce(logits, targets), paper[0])


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_mixup_keeps_low_precision_dtypes_and_targets_match_the_pixel_weights(dtype):
    images = torch.randn(4, 3, 4, 4).to(dtype)
    params = MixupParams(torch.tensor([1, 0, 3, 2]), torch.tensor([0.3]), torch.ones(4, dtype=torch.bool))
    mixed, targets = apply_mixup(images, torch.tensor([0, 1, 2, 3]), params, num_classes=4)
    assert mixed.dtype == dtype and targets.dtype == torch.float32
    assert targets[0, 0] == float(torch.tensor(0.3).to(dtype))


# ----------------------------------------------------------------------------
# CutMix
# ----------------------------------------------------------------------------


@SETTINGS
@given(n=st.integers(1, 6), h=st.integers(1, 12), w=st.integers(1, 12),
       alpha=st.floats(0.1, 4.0), mode=st.sampled_from(["batch", "elem"]), seed=st.integers(0, 2**31))
def test_cutmix_target_weights_equal_pixel_shares(n, h, w, alpha, mode, seed):
    shape = (n, 2, h, w)
    labels = torch.arange(n)
    params = sample_cutmix(n, h, w, alpha, mode=mode, generator=seeded(seed))
    mixed, targets = apply_cutmix(pixel_ids(*shape), labels, params, num_classes=n)
    torch.testing.assert_close(targets.double(), pixel_share(mixed, shape))
    box_area = (params.boxes[:, 2] - params.boxes[:, 0]) * (params.boxes[:, 3] - params.boxes[:, 1])
    torch.testing.assert_close(params.lam, 1 - box_area.float() / (h * w))
    assert torch.allclose(targets.sum(1), torch.ones(n))


def test_cutmix_pastes_the_partners_box_at_the_same_place():
    shape = (5, 2, 8, 8)
    params = CutMixParams(torch.tensor([4, 0, 1, 2, 3]), torch.tensor([[1, 2, 5, 7]]),
                          torch.tensor([0.5]), torch.tensor([1 - 20 / 64]), torch.ones(5, dtype=torch.bool))
    mixed, _ = apply_cutmix(pixel_ids(*shape), torch.arange(5), params, num_classes=5)
    expected = pixel_ids(*shape)
    expected[:, :, 2:7, 1:5] = pixel_ids(*shape)[params.permutation, :, 2:7, 1:5]
    assert torch.equal(mixed, expected)


def test_cutmix_boxes_reach_every_edge_and_have_the_papers_size():
    params = sample_cutmix(4000, 16, 20, 1.0, mode="elem", generator=seeded(13))
    x1, y1, x2, y2 = params.boxes.unbind(1)
    assert (x1.min(), y1.min(), x2.max(), y2.max()) == (0, 0, 20, 16)
    assert x1.max() > 10 and x2.min() < 10 and y1.max() > 8 and y2.min() < 8
    side = torch.sqrt(1 - params.sampled_lam)
    unclipped_x = (x1 > 0) & (x2 < 20)
    unclipped_y = (y1 > 0) & (y2 < 16)
    assert torch.equal((x2 - x1)[unclipped_x], torch.floor(20 * side[unclipped_x]).long())
    assert torch.equal((y2 - y1)[unclipped_y], torch.floor(16 * side[unclipped_y]).long())


def test_cutmix_batch_mode_uses_one_box_and_works_on_uint8():
    images = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8, generator=seeded(14))
    params = sample_cutmix(6, 8, 8, 1.0, mode="batch", generator=seeded(15))
    assert params.boxes.shape == (1, 4) and params.lam.shape == (1,)
    mixed, targets = apply_cutmix(images, torch.arange(6) % 3, params, num_classes=3)
    assert mixed.dtype == torch.uint8
    assert torch.allclose(targets.sum(1), torch.ones(6))


# ----------------------------------------------------------------------------
# RICAP
# ----------------------------------------------------------------------------


@SETTINGS
@given(n=st.integers(1, 6), h=st.integers(1, 10), w=st.integers(1, 10),
       beta=st.floats(0.05, 3.0), seed=st.integers(0, 2**31))
def test_ricap_every_pixel_comes_from_one_source_at_the_right_offset(n, h, w, beta, seed):
    shape = (n, 2, h, w)
    params = sample_ricap(n, h, w, beta, generator=seeded(seed))
    mixed, targets = apply_ricap(pixel_ids(*shape), torch.arange(n), params, num_classes=n)
    source, channel, row, col = decode(mixed, shape)
    bw, bh = params.boundary.tolist()
    rows, cols = torch.arange(h).view(1, 1, h, 1), torch.arange(w).view(1, 1, 1, w)
    patch = (rows >= bh).long() * 2 + (cols >= bw).long()
    origin, position = params.crop_boxes[:, :2][patch], params.patch_boxes[:, :2][patch]
    perm_of_patch = params.permutations[patch, torch.arange(n).view(n, 1, 1, 1)]
    assert torch.equal(source, perm_of_patch.expand_as(source))
    assert torch.equal(channel, torch.arange(2).view(1, 2, 1, 1).expand_as(channel))
    assert torch.equal(row, (rows - position[..., 1] + origin[..., 1]).expand_as(row))
    assert torch.equal(col, (cols - position[..., 0] + origin[..., 0]).expand_as(col))
    # crops lie inside their source images; weights are the areas and sum to 1
    sizes = params.patch_boxes[:, 2:] - params.patch_boxes[:, :2]
    assert torch.equal(params.crop_boxes[:, 2:] - params.crop_boxes[:, :2], sizes)
    assert (params.crop_boxes[:, :2] >= 0).all()
    assert (params.crop_boxes[:, 2:] <= torch.tensor([w, h])).all()
    torch.testing.assert_close(params.weights, sizes.prod(1).float() / (h * w))
    torch.testing.assert_close(params.weights.sum(), torch.tensor(1.0))
    torch.testing.assert_close(targets.double(), pixel_share(mixed, shape))


def test_ricap_boundary_is_round_w_times_beta():
    """Chi-square of the boundary against the law of round(W B), B ~ Beta(beta, beta)."""
    size, beta = 16, 0.3
    generator = seeded(16)
    boundaries = torch.stack([sample_ricap(2, size, size, beta, generator=generator).boundary
                              for _ in range(3000)]).flatten().numpy()
    edges = np.clip((np.arange(size + 2) - 0.5) / size, 0, 1)
    expected = np.diff(stats.beta.cdf(edges, beta, beta)) * boundaries.size
    observed = np.bincount(boundaries, minlength=size + 1)
    assert stats.chisquare(observed, expected).pvalue > 0.01


def test_ricap_then_soft_ce_is_the_papers_four_term_loss():
    images, labels = torch.randn(7, 3, 8, 8), torch.randint(0, 10, (7,), generator=seeded(17))
    logits = torch.randn(7, 10, generator=seeded(18))
    params = sample_ricap(7, 8, 8, 0.3, generator=seeded(19))
    _, targets = apply_ricap(images, labels, params, num_classes=10)
    paper = sum(params.weights[k] * F.cross_entropy(logits, labels[params.permutations[k]]) for k in range(4))
    torch.testing.assert_close(soft_ce(logits, targets), paper)


def test_ricap_seed_bug_1_labels_come_from_the_images_the_pixels_came_from():
    """The snippet reads `target` (unbound) instead of `targets`: ours gathers each patch's
    labels with the permutation that gathered its pixels, so the target mass of every class
    is the share of pixels from images of that class."""
    shape = (6, 2, 8, 8)
    labels = torch.tensor([3, 1, 4, 1, 5, 0])
    patches = ricap_patch_boxes(torch.tensor([3, 5]), 8, 8)
    corners = torch.tensor([[5, 3], [0, 0], [2, 0], [3, 5]])
    params = RicapParams(torch.tensor([3, 5]), patches, torch.cat([corners, corners + patches[:, 2:] - patches[:, :2]], 1),
                         torch.stack([torch.roll(torch.arange(6), k) for k in range(4)]),
                         torch.tensor([15, 25, 9, 15]) / 64, torch.ones(6, dtype=torch.bool))
    mixed, targets = apply_ricap(pixel_ids(*shape), labels, params, num_classes=6)
    class_share = pixel_share(mixed, shape) @ F.one_hot(labels, 6).double()
    torch.testing.assert_close(targets.double(), class_share)


def test_ricap_seed_bug_2_all_four_patches_are_cropped_then_patched_once():
    """With the loop body's indentation lost, the snippet patches before all crops exist or
    records the labels and weights of the last crop only. Ours: one output image made of four
    patches from four sources, and four target terms."""
    shape = (4, 1, 8, 8)
    params = sample_ricap(4, 8, 8, 1.0, generator=seeded(20))
    bw, bh = params.boundary.tolist()
    assert 0 < bw < 8 and 0 < bh < 8
    permutations = torch.stack([torch.roll(torch.arange(4), k) for k in range(4)])
    params = RicapParams(params.boundary, params.patch_boxes, params.crop_boxes, permutations, params.weights,
                         params.selected)
    mixed, targets = apply_ricap(pixel_ids(*shape), torch.arange(4), params, num_classes=4)
    assert mixed.shape == shape
    source = decode(mixed, shape)[0]
    corners = source[:, 0, [0, 0, 7, 7], [0, 7, 0, 7]]
    assert torch.equal(corners, permutations.T)
    torch.testing.assert_close(targets, params.weights[permutations.argsort(0)].T)
    assert (targets > 0).sum(1).tolist() == [4, 4, 4, 4]


def test_ricap_seed_bug_3_widths_and_weights_are_different_quantities():
    """`w_ = {}` overwrites the four patch widths with an empty dict that later holds the
    weights. Ours keeps both: widths (w, W - w, w, W - w), weights w_k h_k / (W H)."""
    params = sample_ricap(3, 12, 10, 0.3, generator=seeded(21))
    bw, bh = params.boundary.tolist()
    sizes = params.patch_boxes[:, 2:] - params.patch_boxes[:, :2]
    assert sizes[:, 0].tolist() == [bw, 10 - bw, bw, 10 - bw]
    assert sizes[:, 1].tolist() == [bh, bh, 12 - bh, 12 - bh]
    expected = [bw * bh / 120, (10 - bw) * bh / 120, bw * (12 - bh) / 120, (10 - bw) * (12 - bh) / 120]
    torch.testing.assert_close(params.weights, torch.tensor(expected))


def test_ricap_zero_width_patches_are_legal_and_weigh_nothing():
    boundary = torch.tensor([0, 3])
    patches = ricap_patch_boxes(boundary, 6, 6)
    assert patches.tolist() == [[0, 0, 0, 3], [0, 0, 6, 3], [0, 3, 0, 6], [0, 3, 6, 6]]
    sizes = patches[:, 2:] - patches[:, :2]
    params = RicapParams(boundary, patches, patches.clone(),  # each crop where it is pasted
                         torch.stack([torch.arange(3)] * 4), sizes.prod(1).float() / 36, torch.ones(3, dtype=torch.bool))
    mixed, targets = apply_ricap(pixel_ids(3, 2, 6, 6), torch.arange(3), params, num_classes=3)
    assert params.weights[0] == 0 and params.weights[2] == 0
    torch.testing.assert_close(targets, torch.eye(3))
    assert torch.equal(mixed, pixel_ids(3, 2, 6, 6))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.bfloat16, torch.float16])
def test_ricap_and_cutmix_keep_the_dtype(dtype):
    images = torch.randint(0, 200, (5, 3, 8, 8), generator=seeded(22)).to(dtype)
    for op in (ricap, cutmix):
        mixed, targets = op(images, torch.arange(5), 0.5, num_classes=5, generator=seeded(23))
        assert mixed.dtype == dtype and targets.dtype == torch.float32


# ----------------------------------------------------------------------------
# All ops: invariants, batch size 1, reproducibility
# ----------------------------------------------------------------------------

OPS = {
    "mixup-batch": lambda x, y, k, g: mixup(x, y, 0.4, num_classes=k, mode="batch", generator=g),
    "mixup-elem": lambda x, y, k, g: mixup(x, y, 0.4, num_classes=k, mode="elem", generator=g),
    "cutmix-batch": lambda x, y, k, g: cutmix(x, y, 1.0, num_classes=k, mode="batch", generator=g),
    "cutmix-elem": lambda x, y, k, g: cutmix(x, y, 1.0, num_classes=k, mode="elem", generator=g),
    "ricap": lambda x, y, k, g: ricap(x, y, 0.3, num_classes=k, generator=g),
}


@SETTINGS
@given(op=st.sampled_from(sorted(OPS)), n=st.integers(1, 9), k=st.integers(1, 7),
       soft=st.booleans(), seed=st.integers(0, 2**31))
def test_soft_targets_sum_to_one(op, n, k, soft, seed):
    generator = seeded(seed)
    labels = torch.randint(0, k, (n,), generator=generator)
    if soft:
        labels = torch.softmax(torch.randn(n, k, generator=generator), 1)
    images = torch.randn(n, 3, 6, 6, generator=generator)
    mixed, targets = OPS[op](images, labels, None if soft else k, generator)
    assert mixed.shape == images.shape and targets.shape == (n, k)
    torch.testing.assert_close(targets.sum(1), torch.ones(n))
    assert (targets >= 0).all()


@pytest.mark.parametrize("op", sorted(OPS))
def test_batch_size_one_mixes_the_image_with_itself(op):
    images = pixel_ids(1, 3, 6, 6)
    mixed, targets = OPS[op](images, torch.tensor([2]), 4, seeded(24))
    assert torch.equal(targets, torch.tensor([[0.0, 0, 1, 0]]))
    if op != "ricap":  # RICAP crops its four patches at different offsets
        assert torch.equal(mixed, images)


@pytest.mark.parametrize("op", sorted(OPS))
def test_same_seed_same_batch(op):
    images, labels = torch.randn(9, 3, 8, 8), torch.arange(9) % 4
    first = OPS[op](images, labels, 4, seeded(25))
    again = OPS[op](images, labels, 4, seeded(25))
    other = OPS[op](images, labels, 4, seeded(26))
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[0], other[0])


@pytest.mark.parametrize("op", sorted(OPS))
def test_global_rng_is_used_without_a_generator(op):
    images, labels = torch.randn(5, 3, 8, 8), torch.arange(5)
    torch.manual_seed(27)
    first = OPS[op](images, labels, 5, None)
    torch.manual_seed(27)
    assert torch.equal(first[0], OPS[op](images, labels, 5, None)[0])


# ----------------------------------------------------------------------------
# Loader hooks
# ----------------------------------------------------------------------------

HOOKS = [Mixup(1.0, 10), Mixup(1.0, 10, mode="elem"), CutMix(1.0, 10), CutMix(1.0, 10, mode="elem"),
         RICAP(1.0, 10)]


@pytest.mark.parametrize("hook", HOOKS, ids=repr)
def test_hooks_follow_the_batch_transform_protocol(hook):
    assert isinstance(hook, BatchTransform) and isinstance(hook, Mixing) and isinstance(hook, Hook)
    assert hook.stage == "float"
    images, labels = torch.randn(6, 3, 8, 8), torch.arange(6)
    mixed, targets = hook(images, labels, seeded(28))
    assert mixed.shape == images.shape and targets.shape == (6, 10)
    assert not torch.equal(mixed, images)


@pytest.mark.parametrize("make", [lambda p: Mixup(1.0, 1000, p=p), lambda p: CutMix(1.0, 1000, p=p),
                                  lambda p: RICAP(1.0, 1000, p=p)], ids=["mixup", "cutmix", "ricap"])
def test_hook_probability_is_applied_once_per_sample(make):
    """About p N samples change (not p**2 N); a sample left alone keeps its image and one-hot target."""
    n, p = 1000, 0.3
    images, labels = torch.randn(n, 1, 8, 8, generator=seeded(29)), torch.arange(n)
    mixed, targets = make(p)(images, labels, seeded(30))
    unchanged = (mixed == images).flatten(1).all(1)
    one_hot = (targets == torch.eye(n)).all(1)
    assert torch.equal(unchanged, one_hot)
    assert stats.binomtest(int((~unchanged).sum()), n, p).pvalue > 0.01


def test_hook_with_p_zero_returns_inputs_and_one_hot_targets():
    images = torch.randn(4, 3, 8, 8)
    mixed, targets = RICAP(0.3, 5, p=0.0)(images, torch.tensor([0, 1, 2, 3]), seeded(31))
    assert torch.equal(mixed, images)
    assert torch.equal(targets, F.one_hot(torch.tensor([0, 1, 2, 3]), 5).float())


def test_hook_selection_is_bernoulli_p():
    selected = sample_coin(5000, 0.25, generator=seeded(32))
    assert selected.dtype == torch.bool
    assert stats.binomtest(int(selected.sum()), 5000, 0.25).pvalue > 0.01


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("op", sorted(OPS))
def test_ops_run_on_cuda_with_a_cuda_generator(op):
    images = torch.randn(9, 3, 8, 8, device="cuda", dtype=torch.bfloat16)
    labels = torch.arange(9, device="cuda") % 4
    generator = torch.Generator(device="cuda").manual_seed(33)
    mixed, targets = OPS[op](images, labels, 4, generator)
    assert mixed.device.type == "cuda" and mixed.dtype == torch.bfloat16
    torch.testing.assert_close(targets.sum(1), torch.ones(9, device="cuda"))


# ----------------------------------------------------------------------------
# The one pattern: params carry the selection; registry; no host synchronisation
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MIXINGS))
def test_registry_builds_every_hook_the_same_way(name):
    hook = MIXINGS[name](0.5, 7, p=0.25)
    assert isinstance(hook, Mixing) and hook.concentration == 0.5 and hook.num_classes == 7 and hook.p == 0.25


@pytest.mark.parametrize("op", ["mixup", "cutmix", "ricap"])
def test_params_carry_the_selection_and_unselected_samples_pass_through(op):
    images, labels = torch.randn(300, 2, 6, 6, generator=seeded(40)), torch.arange(300) % 5
    sample = {"mixup": lambda: sample_mixup(300, 1.0, p=0.4, generator=seeded(41)),
              "cutmix": lambda: sample_cutmix(300, 6, 6, 1.0, p=0.4, mode="elem", generator=seeded(41)),
              "ricap": lambda: sample_ricap(300, 6, 6, 1.0, p=0.4, generator=seeded(41))}[op]
    apply = {"mixup": apply_mixup, "cutmix": apply_cutmix, "ricap": apply_ricap}[op]
    params = sample()
    assert params.selected.dtype == torch.bool and params.selected.shape == (300,)
    assert stats.binomtest(int(params.selected.sum()), 300, 0.4).pvalue > 0.01
    mixed, targets = apply(images, labels, params, num_classes=5)
    kept = ~params.selected
    assert torch.equal(mixed[kept], images[kept])
    assert torch.equal(targets[kept], F.one_hot(labels[kept], 5).float())
    # the hook draws the same params from the same generator
    hook = MIXINGS[op](1.0, 5, p=0.4, **({"mode": "elem"} if op == "cutmix" else {}))
    hook_mixed, hook_targets = hook(images, labels, seeded(41))
    assert torch.equal(hook_mixed, mixed) and torch.equal(hook_targets, targets)


def test_p_one_draws_no_coin():
    """At p = 1 the sampler consumes no extra randomness: the pre-refactor stream is kept."""
    with_coin_free = sample_mixup(8, 1.0, generator=seeded(42))
    generator = seeded(42)
    expected_perm = torch.randperm(8, generator=generator)
    assert with_coin_free.selected.all() and torch.equal(with_coin_free.permutation, expected_perm)


@pytest.mark.parametrize("hook", [Mixup(1.0, 10, p=0.5), Mixup(1.0, 10, mode="elem"), CutMix(1.0, 10),
                                  CutMix(1.0, 10, p=0.5, mode="elem"), RICAP(0.3, 10, p=0.5), RICAP(0.3, 10)],
                         ids=repr)
@pytest.mark.parametrize("soft", [False, True])
def test_hooks_never_synchronise(hook, soft):
    """Meta tensors have no values: any .item()/int()/.tolist()/bool() on the hot path would raise."""
    images = torch.empty(8, 3, 8, 8, device="meta")
    targets = torch.empty(8, 10, device="meta") if soft else torch.empty(8, dtype=torch.int64, device="meta")
    mixed, out = hook(images, targets, None)
    assert mixed.device.type == "meta" and mixed.shape == images.shape and out.shape == (8, 10)
