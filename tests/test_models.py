"""tricks_lab.models: published parameter counts, shapes, zero-gamma, errors."""

from __future__ import annotations

import pytest
import torch

from tricks_lab.models import BasicBlock, MODEL_NAMES, build_model, count_parameters, fastnet


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
        from tricks_lab.models import resnet_cifar

        resnet_cifar(21)
