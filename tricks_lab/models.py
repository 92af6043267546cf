"""CIFAR models: a fast small net and the CIFAR ResNets.

- :func:`fastnet`: our small, fast network in the spirit of the CIFAR-10
  speed-run nets (Page, 2018; Jordan, 2024, airbench): a conv stem and three
  stages of conv -> max-pool -> BN -> GELU -> conv -> BN -> GELU, halving the
  resolution each time (32 -> 16 -> 8 -> 4), then a global max-pool and a
  linear classifier. About 2.0M parameters at ``width=1``.
- :func:`resnet_cifar`: He et al. (2016), "Deep Residual Learning for Image
  Recognition", sec. 4.2: depth ``6n + 2`` with three stages of ``n`` basic
  blocks at 16, 32, 64 channels and parameter-free shortcuts (option A:
  subsample and zero-pad channels). ResNet-20/56/110 have 0.27M/0.85M/1.7M
  parameters, as published.
- :func:`resnet18_cifar`: the ImageNet ResNet-18's stages (64-512 channels,
  two basic blocks each, 1x1-conv projection shortcuts) on a 3x3 stem without
  max-pool, the common CIFAR adaptation; 11.2M parameters.

``zero_init_residual`` sets the scale gamma of each residual block's last
BatchNorm to 0, so every block starts as the identity (Goyal et al., 2017,
"Accurate, Large Minibatch SGD", sec. 5.1; He et al., 2019, "Bag of Tricks for
Image Classification", sec. 3.1).
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from ._validation import check_choice, check_positive, check_positive_int

RESNET_CIFAR_DEPTHS = (20, 32, 44, 56, 110)


def _scaled(channels: int, width: float) -> int:
    return max(8, int(round(channels * width)))


class _ConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
        )


class _FastStage(nn.Module):
    """conv -> max-pool(2) -> BN -> GELU -> conv -> BN -> GELU."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.pool = nn.MaxPool2d(2)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.bn1(self.pool(self.conv1(x))))
        return F.gelu(self.bn2(self.conv2(x)))


class FastNet(nn.Module):
    """The fast CIFAR net (see the module docstring)."""

    def __init__(self, num_classes: int = 10, width: float = 1.0) -> None:
        super().__init__()
        check_positive_int("num_classes", num_classes)
        check_positive("width", width)
        stem, c1, c2, c3 = (_scaled(c, width) for c in (32, 64, 256, 256))
        self.stem = nn.Sequential(nn.Conv2d(3, stem, 3, padding=1, bias=False), nn.BatchNorm2d(stem), nn.GELU())
        self.stages = nn.Sequential(_FastStage(stem, c1), _FastStage(c1, c2), _FastStage(c2, c3))
        self.head = nn.Linear(c3, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))
        return self.head(torch.amax(x, dim=(2, 3)))


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with a shortcut: ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``."""

    def __init__(self, c_in: int, c_out: int, stride: int, shortcut: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            if shortcut == "A":
                self.shortcut = _PadShortcut(c_out - c_in, stride)
            else:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
                )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class _PadShortcut(nn.Module):
    """He et al.'s option A: subsample by ``stride`` and zero-pad the new channels."""

    def __init__(self, extra_channels: int, stride: int) -> None:
        super().__init__()
        self.extra = extra_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        half = self.extra // 2
        return F.pad(x, (0, 0, 0, 0, half, self.extra - half))


class ResNet(nn.Module):
    """A CIFAR ResNet: 3x3 stem, stages of :class:`BasicBlock`, global average pool, linear."""

    def __init__(
        self, blocks: tuple[int, ...], channels: tuple[int, ...], shortcut: str, num_classes: int
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(_ConvBN(3, channels[0]), nn.ReLU())
        layers: list[nn.Module] = []
        c_in = channels[0]
        for stage, (count, c_out) in enumerate(zip(blocks, channels)):
            for i in range(count):
                stride = 2 if stage > 0 and i == 0 else 1
                layers.append(BasicBlock(c_in, c_out, stride, shortcut))
                c_in = c_out
        self.blocks = nn.Sequential(*layers)
        self.head = nn.Linear(c_in, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x))
        return self.head(x.mean(dim=(2, 3)))


def fastnet(num_classes: int = 10, width: float = 1.0) -> FastNet:
    """The fast CIFAR net; ``width`` scales every layer's channels."""
    return FastNet(num_classes, width)


def resnet_cifar(
    depth: int, num_classes: int = 10, width: float = 1.0, zero_init_residual: bool = False
) -> ResNet:
    """He et al. (2016)'s CIFAR ResNet of ``depth = 6n + 2`` layers (20, 32, 44, 56, 110)."""
    check_choice("depth", depth, RESNET_CIFAR_DEPTHS)
    check_positive_int("num_classes", num_classes)
    check_positive("width", width)
    n = (depth - 2) // 6
    channels = tuple(_scaled(c, width) for c in (16, 32, 64))
    model = ResNet((n, n, n), channels, "A", num_classes)
    return _maybe_zero_init(model, zero_init_residual)


def resnet18_cifar(num_classes: int = 10, width: float = 1.0, zero_init_residual: bool = False) -> ResNet:
    """ResNet-18 for 32x32 inputs: stages of 2 basic blocks at 64, 128, 256, 512 channels."""
    check_positive_int("num_classes", num_classes)
    check_positive("width", width)
    channels = tuple(_scaled(c, width) for c in (64, 128, 256, 512))
    model = ResNet((2, 2, 2, 2), channels, "B", num_classes)
    return _maybe_zero_init(model, zero_init_residual)


def _maybe_zero_init(model: ResNet, zero_init_residual: bool) -> ResNet:
    if zero_init_residual:
        for module in model.modules():
            if isinstance(module, BasicBlock):
                nn.init.zeros_(module.bn2.weight)
    return model


MODEL_NAMES: tuple[str, ...] = ("fastnet", *(f"resnet{d}" for d in RESNET_CIFAR_DEPTHS), "resnet18")


def build_model(
    name: str, num_classes: int = 10, width: float = 1.0, zero_init_residual: bool = False
) -> nn.Module:
    """A model by name: ``"fastnet"``, ``"resnet20"``, ``"resnet32"``, ``"resnet44"``,
    ``"resnet56"``, ``"resnet110"`` or ``"resnet18"``.

    ``zero_init_residual`` applies to the ResNets; the fast net has no
    residual blocks and rejects it.
    """
    check_choice("model", name, MODEL_NAMES)
    if name == "fastnet":
        if zero_init_residual:
            raise ValueError("zero_init_residual needs a model with residual blocks (a resnet), got 'fastnet'")
        return fastnet(num_classes, width)
    if name == "resnet18":
        return resnet18_cifar(num_classes, width, zero_init_residual)
    return resnet_cifar(int(name.removeprefix("resnet")), num_classes, width, zero_init_residual)


def count_parameters(model: nn.Module) -> int:
    """The number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
