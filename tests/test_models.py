"""tricks_lab.models: published parameter counts, shapes, zero-gamma, the shortcut options, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tricks_lab.models import (
    MODEL_NAMES,
    SHORTCUTS,
    BasicBlock,
    build_model,
    count_parameters,
    fastnet,
    fastnet_residual,
    make_shortcut,
    residual_blocks,
    resnet18_cifar,
    resnet_cifar,
)


@pytest.mark.parametrize("name, published", [("resnet20", 0.27e6), ("resnet56", 0.85e6),
                                             ("resnet110", 1.7e6), ("resnet18", 11.2e6)])
def test_parameter_counts_match_the_published_ones(name: str, published: float) -> None:
    # He et al. (2016), Table 6: 0.27M, 0.85M, 1.7M; ResNet-18 for CIFAR: 11.2M
    count = count_parameters(build_model(name))
    assert abs(count - published) / published < 0.02, count


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_maps_images_to_logits(name: str) -> None:
    model = build_model(name, num_classes=7, width=0.25 if name == "fastnet" else 1.0)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 7)


def test_fastnet_is_in_the_speedrun_size_range_and_width_scales_it() -> None:
    assert 1.0e6 < count_parameters(fastnet()) < 3.0e6
    assert count_parameters(fastnet(width=0.5)) < count_parameters(fastnet()) / 3


def test_zero_init_residual_makes_every_block_start_as_identity() -> None:
    model = build_model("resnet20", zero_init_residual=True)
    blocks = [m for m in model.modules() if isinstance(m, BasicBlock)]
    assert len(blocks) == 9 and all(torch.all(b.bn2.weight == 0) for b in blocks)
    plain = build_model("resnet20")
    assert all(torch.all(b.bn2.weight == 1) for b in plain.modules() if isinstance(b, BasicBlock))
    block = blocks[0].eval()
    x = torch.relu(torch.randn(1, 16, 8, 8))
    torch.testing.assert_close(block(x), x)


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="model must be one of"):
        build_model("vgg16")
    with pytest.raises(ValueError, match="zero_init_residual needs a model with residual blocks"):
        build_model("fastnet", zero_init_residual=True)
    with pytest.raises(ValueError, match="width must be > 0"):
        build_model("resnet20", width=0)
    with pytest.raises(ValueError, match="depth must be one of"):
        resnet_cifar(21)


# --- shortcut options A / B / D -------------------------------------------------------------

def _shortcut_params(model: nn.Module) -> int:
    return sum(count_parameters(b.shortcut) for b in model.modules() if isinstance(b, BasicBlock))


def test_shortcut_a_is_parameter_free_and_b_d_add_the_same_projection() -> None:
    a, b, d = (resnet_cifar(20, shortcut=s) for s in SHORTCUTS)
    assert _shortcut_params(a) == 0
    # two downsampling blocks: 1x1 conv 16->32 and 32->64 plus their BN (gamma, beta)
    projection = (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)
    assert _shortcut_params(b) == _shortcut_params(d) == projection
    assert count_parameters(b) == count_parameters(d) == count_parameters(a) + projection
    # the published counts are option A's: B and D stay within 2% of them
    assert abs(count_parameters(d) - 0.27e6) / 0.27e6 < 0.02


def test_resnet18_default_is_b_and_d_pools_before_the_projection() -> None:
    default, b, d = resnet18_cifar(), resnet18_cifar(shortcut="B"), resnet18_cifar(shortcut="D")
    assert count_parameters(default) == count_parameters(b) == count_parameters(d)
    assert isinstance(default.blocks[2].shortcut[0], nn.Conv2d) and default.blocks[2].shortcut[0].stride == (2, 2)
    pool, conv = d.blocks[2].shortcut[0], d.blocks[2].shortcut[1]
    assert isinstance(pool, nn.AvgPool2d) and pool.stride == 2 and pool.ceil_mode
    assert conv.stride == (1, 1) and conv.kernel_size == (1, 1)


@pytest.mark.parametrize("shortcut", SHORTCUTS)
@pytest.mark.parametrize("size", [7, 8, 15, 16, 1])
def test_every_shortcut_matches_the_strided_conv_size_on_odd_and_even_maps(shortcut: str, size: int) -> None:
    # A shortcut that drops the last row/column on odd sizes (a plain AvgPool2d(2)) could not be
    # added to the branch: every option must give the 3x3 stride-2 conv's ceil(H / 2).
    conv = nn.Conv2d(4, 8, 3, stride=2, padding=1)
    x = torch.randn(2, 4, size, size)
    assert make_shortcut(shortcut, 4, 8, 2)(x).shape == conv(x).shape == (2, 8, (size + 1) // 2, (size + 1) // 2)


def test_shortcut_a_keeps_the_last_row_and_d_averages_the_partial_window() -> None:
    x = torch.arange(49.0).view(1, 1, 7, 7)
    a = make_shortcut("A", 1, 1, 2)(x)
    torch.testing.assert_close(a[0, 0, -1, -1], x[0, 0, 6, 6])
    pool = make_shortcut("D", 1, 1, 2)[0]
    pooled = pool(x)
    assert pooled.shape == (1, 1, 4, 4)
    torch.testing.assert_close(pooled[0, 0, 0, 0], x[0, 0, :2, :2].mean())
    torch.testing.assert_close(pooled[0, 0, 3, 3], x[0, 0, 6, 6])  # a 1x1 window: its own mean
    torch.testing.assert_close(pooled[0, 0, 3, 0], x[0, 0, 6, :2].mean())


@pytest.mark.parametrize("shortcut", SHORTCUTS)
def test_resnets_run_on_odd_feature_maps(shortcut: str) -> None:
    # 28x28 inputs give ResNet-18 a 7x7 map before its last downsampling block
    model = resnet18_cifar(width=0.125, shortcut=shortcut)
    assert model(torch.randn(2, 3, 28, 28)).shape == (2, 10)
    assert resnet_cifar(20, shortcut=shortcut)(torch.randn(2, 3, 30, 30)).shape == (2, 10)


def test_build_model_passes_the_shortcut_through_and_none_keeps_the_default() -> None:
    assert _shortcut_params(build_model("resnet20")) == 0
    assert _shortcut_params(build_model("resnet20", shortcut="D")) > 0
    assert isinstance(build_model("resnet18", shortcut="D").blocks[2].shortcut[0], nn.AvgPool2d)
    assert isinstance(build_model("resnet18").blocks[2].shortcut[0], nn.Conv2d)
    with pytest.raises(ValueError, match="shortcut must be None, got 'B'"):
        build_model("fastnet_residual", shortcut="B")


@pytest.mark.parametrize("call", [lambda: resnet_cifar(20, shortcut="C"), lambda: resnet18_cifar(shortcut="a"),
                                  lambda: build_model("resnet56", shortcut="resnet-d")])
def test_unknown_shortcuts_are_clear_errors(call) -> None:
    with pytest.raises(ValueError, match="shortcut must be one of 'A', 'B', 'D'"):
        call()


def test_shortcut_a_cannot_drop_channels() -> None:
    with pytest.raises(ValueError, match="c_out must be >= c_in = 8, got 4"):
        make_shortcut("A", 8, 4, 2)


# --- the residual fast net ------------------------------------------------------------------


def test_fastnet_residual_has_the_plain_nets_parameters_and_one_block_per_stage() -> None:
    assert count_parameters(fastnet_residual()) == count_parameters(fastnet())
    assert len(residual_blocks(fastnet_residual())) == 3 and residual_blocks(fastnet()) == []


@pytest.mark.parametrize("train", [True, False])
def test_zero_gamma_makes_every_fastnet_branch_exactly_zero_at_init(train: bool) -> None:
    torch.manual_seed(0)
    model = build_model("fastnet_residual", width=0.25, zero_init_residual=True).train(train)
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        x = model.stem(x)
        for stage in model.stages:
            y = torch.nn.functional.gelu(stage.bn1(stage.pool(stage.conv1(x))))
            branch = torch.nn.functional.gelu(stage.bn2(stage.conv2(y)))
            assert torch.count_nonzero(branch) == 0
            x = stage(x)
            assert torch.equal(x, y)  # the stage returns its first layer's output unchanged
        plain = build_model("fastnet_residual", width=0.25).train(train)
        assert all(torch.all(b.bn2.weight == 1) for b in residual_blocks(plain))


def test_plain_fastnet_still_rejects_zero_init_residual() -> None:
    with pytest.raises(ValueError, match="got 'fastnet'"):
        build_model("fastnet", zero_init_residual=True)
