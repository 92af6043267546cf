"""tricks_lab.loader: crop is a window of the reflect-padded image, flip a mirror, per sample, seeded."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from tricks_lab.data import CIFAR10_MEAN, CIFAR10_STD
from tricks_lab.loader import (
    CropFlipParams,
    GpuLoader,
    apply_crop_flip,
    normalize,
    sample_crop_flip,
    stream_generator,
    stream_seed,
)
from tricks_lab.hooks import ImageHook


def images_nhwc(n: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


@settings(max_examples=30, deadline=None)
@given(dy=st.integers(0, 8), dx=st.integers(0, 8), flip=st.booleans(), size=st.sampled_from([5, 12, 32]))
def test_crop_is_a_window_of_the_reflect_padded_image(dy: int, dx: int, flip: bool, size: int) -> None:
    padding = min(4, size - 1)
    dy, dx = min(dy, 2 * padding), min(dx, 2 * padding)
    image = torch.randint(0, 256, (1, 3, size, size), dtype=torch.uint8)
    params = CropFlipParams(torch.tensor([[dy, dx]]), torch.tensor([flip]), padding)
    out = apply_crop_flip(image, params)
    padded = F.pad(image.float(), (padding,) * 4, mode="reflect")
    window = padded[:, :, dy : dy + size, dx : dx + size]
    if flip:
        window = window.flip(3)
    torch.testing.assert_close(out.float(), window, rtol=0, atol=0)


def test_parameters_are_per_sample_and_cover_their_range() -> None:
    g = torch.Generator().manual_seed(0)
    params = sample_crop_flip(20_000, padding=4, flip=True, generator=g, device="cpu")
    assert params.offsets.min() == 0 and params.offsets.max() == 8
    counts = torch.bincount(params.offsets[:, 0], minlength=9).float()
    assert counts.min() > 0.9 * 20_000 / 9 and counts.max() < 1.1 * 20_000 / 9
    assert abs(params.flips.float().mean().item() - 0.5) < 0.02
    assert params.padding == 4 and params.offsets.shape == (20_000, 2) and params.flips.shape == (20_000,)
    assert not sample_crop_flip(1000, padding=4, flip=False, generator=g).flips.any()


def test_loader_is_deterministic_by_seed_and_seeds_differ() -> None:
    xs, ys = images_nhwc(), np.arange(64) % 10

    def batches(seed: int) -> list[torch.Tensor]:
        loader = GpuLoader(xs, ys, 16, train=True, seed=seed)
        return [b for epoch in range(2) for b, _ in loader]

    first, again, other = batches(1), batches(1), batches(2)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))
    assert not torch.equal(first[0], first[4])  # epochs differ


def test_training_batches_are_augmented_copies_of_their_own_images() -> None:
    xs, ys = images_nhwc(32), np.arange(32) % 10
    loader = GpuLoader(xs, ys, 32, train=True, seed=0, channels_last=False)
    images, labels = next(iter(loader))
    assert images.shape == (32, 3, 32, 32) and images.dtype == torch.float32
    # undo the normalisation and find each output's source image by its label-independent pixels
    raw = (images * torch.tensor(CIFAR10_STD).view(1, 3, 1, 1) + torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)) * 255
    source = torch.as_tensor(xs).permute(0, 3, 1, 2).float()
    padded = F.pad(source, (4,) * 4, mode="reflect")
    matched = 0
    for out in raw:
        for dy in range(9):
            for dx in range(9):
                window = padded[:, :, dy : dy + 32, dx : dx + 32]
                hits = ((window - out).abs().amax(dim=(1, 2, 3)) < 1e-3) | (
                    (window.flip(3) - out).abs().amax(dim=(1, 2, 3)) < 1e-3)
                if hits.any():
                    matched += 1
                    break
            else:
                continue
            break
    assert matched == 32


def test_evaluation_batches_are_in_order_unaugmented_and_complete() -> None:
    xs, ys = images_nhwc(50), np.arange(50) % 10
    loader = GpuLoader(xs, ys, 16, train=False)
    assert len(loader) == 4
    images = torch.cat([b for b, _ in loader])
    labels = torch.cat([y for _, y in loader])
    expected = normalize(torch.as_tensor(xs).permute(0, 3, 1, 2), CIFAR10_MEAN, CIFAR10_STD, torch.float32)
    torch.testing.assert_close(images, expected)
    assert labels.tolist() == ys.tolist()


def test_normalize_is_the_formula() -> None:
    x = torch.tensor([[[[0]], [[128]], [[255]]]], dtype=torch.uint8)
    out = normalize(x, (0.5, 0.5, 0.5), (0.25, 0.5, 1.0), torch.float32).flatten()
    expected = torch.tensor([(0 / 255 - 0.5) / 0.25, (128 / 255 - 0.5) / 0.5, (255 / 255 - 0.5) / 1.0])
    torch.testing.assert_close(out, expected)


def test_hooks_run_by_stage_in_order_with_the_loader_generator() -> None:
    calls: list[tuple[str, torch.dtype]] = []

    def record(name: str):
        def fn(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
            assert isinstance(generator, torch.Generator)
            calls.append((name, images.dtype))
            return images
        fn.__name__ = name
        return fn

    hooks = [ImageHook(record("float1"), "float"), ImageHook(record("uint8"), "uint8"),
             ImageHook(record("float2"), "float")]
    loader = GpuLoader(images_nhwc(8), np.arange(8), 8, train=True, hooks=hooks)
    next(iter(loader))
    assert calls == [("uint8", torch.uint8), ("float1", torch.float32), ("float2", torch.float32)]


def test_soft_targets_from_a_hook_pass_through() -> None:
    class ToSoft:
        stage = "float"

        def __call__(self, images, targets, generator):
            return images, F.one_hot(targets, 10).float()

    loader = GpuLoader(images_nhwc(8), np.arange(8), 4, train=True, hooks=[ToSoft()])
    _, targets = next(iter(loader))
    assert targets.shape == (4, 10) and targets.sum(1).eq(1).all()


def test_bad_arguments_are_clear_errors() -> None:
    xs, ys = images_nhwc(8), np.arange(8)
    with pytest.raises(ValueError, match="batch_size=9 is larger than the data"):
        GpuLoader(xs, ys, 9, train=True)
    with pytest.raises(ValueError, match="images must be uint8"):
        GpuLoader(xs.astype(np.float32), ys, 4, train=True)
    with pytest.raises(ValueError, match="labels must have shape"):
        GpuLoader(xs, ys[:5], 4, train=True)
    with pytest.raises(ValueError, match="hook.stage"):
        GpuLoader(xs, ys, 4, train=True, hooks=[object()])
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        GpuLoader(xs, ys, 0, train=False)
    assert len(GpuLoader(xs, ys, 9, train=False)) == 1


# -- paired random streams ----------------------------------------------------------------------


class _Recorder:
    """A hook that records what it is given, draws from its own stream, and passes the batch on."""

    def __init__(self, stage: str, inner=None, draws: int = 0) -> None:
        self.stage = stage
        self.inner = inner
        self.draws = draws
        self.seen: list[torch.Tensor] = []

    def __call__(self, images, targets, generator):
        self.seen.append(images.clone())
        torch.rand(self.draws, generator=generator, device=images.device)  # consume the hook's stream
        return self.inner(images, targets, generator) if self.inner is not None else (images, targets)


def _epochs(loader: GpuLoader, n: int = 2) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(x.clone(), y.clone()) for _ in range(n) for x, y in loader]


def test_stream_seeds_are_stable_distinct_and_seeded() -> None:
    assert stream_seed(0, "order") == stream_seed(0, "order")
    names = ["order", "crop_flip", "init", "hook/0", "hook/1"]
    assert len({stream_seed(s, n) for s in (0, 1) for n in names}) == 10
    assert all(0 <= stream_seed(3, n) < 2**63 for n in names)
    a, b = stream_generator(5, "hook/0"), stream_generator(5, "hook/0")
    assert torch.equal(torch.rand(4, generator=a), torch.rand(4, generator=b))
    with pytest.raises(ValueError, match="seed must be >= 0"):
        stream_seed(-1, "order")


def test_hooks_that_draw_do_not_shift_the_order_or_the_crops() -> None:
    xs, ys = images_nhwc(64), np.arange(64) % 10
    plain = _epochs(GpuLoader(xs, ys, 16, train=True, seed=7))
    with_hooks = _epochs(GpuLoader(xs, ys, 16, train=True, seed=7,
                                   hooks=[_Recorder("uint8", draws=1000), _Recorder("float", draws=37)]))
    assert len(plain) == len(with_hooks) == 8
    for (x, y), (u, v) in zip(plain, with_hooks):
        assert torch.equal(x, u) and torch.equal(y, v)


def test_the_loader_is_order_then_crop_and_flip_from_their_own_streams() -> None:
    xs, ys = images_nhwc(48), np.arange(48) % 10
    recorder = _Recorder("uint8")
    loader = GpuLoader(xs, ys, 16, train=True, seed=3, hooks=[recorder])
    list(loader)
    images = torch.as_tensor(xs).permute(0, 3, 1, 2)
    order = torch.randperm(48, generator=stream_generator(3, "order"))
    crops = stream_generator(3, "crop_flip")
    for step, seen in enumerate(recorder.seen):
        index = order[16 * step : 16 * (step + 1)]
        params = sample_crop_flip(16, padding=4, generator=crops)
        assert torch.equal(seen, apply_crop_flip(images[index], params))


def test_a_cutout_hook_sees_the_baselines_images_in_the_baselines_order() -> None:
    from tricks_lab.build import make_hooks
    from tricks_lab.recipe import BASELINE

    xs, ys = images_nhwc(64), np.arange(64) % 10
    baseline = _epochs(GpuLoader(xs, ys, 16, train=True, seed=11))
    (cutout,) = make_hooks(BASELINE.replace(occlusion="cutout", cutout_length=8))
    recorder = _Recorder(cutout.stage, inner=cutout)
    trick = _epochs(GpuLoader(xs, ys, 16, train=True, seed=11, hooks=[recorder]))
    assert len(recorder.seen) == len(baseline) == 8
    for (x, y), seen, (u, v) in zip(baseline, recorder.seen, trick):
        assert torch.equal(seen, x)  # what the hook receives is the baseline's batch
        assert torch.equal(y, v)
        assert not torch.equal(x, u)  # and the hook did act on it
    # the hook's draws come from its own stream: a second loader gives the same holes
    again = _epochs(GpuLoader(xs, ys, 16, train=True, seed=11, hooks=make_hooks(
        BASELINE.replace(occlusion="cutout", cutout_length=8))))
    assert all(torch.equal(x, u) for (x, _), (u, _) in zip(trick, again))
