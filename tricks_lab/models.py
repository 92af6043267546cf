"""CIFAR models: a fast small net and the CIFAR ResNets.

- :func:`fastnet`: our small, fast network in the spirit of the CIFAR-10
  speed-run nets (Page, 2018; Jordan, 2024, airbench): a conv stem and three
  stages of conv -> max-pool -> BN -> GELU -> conv -> BN -> GELU, halving the
  resolution each time (32 -> 16 -> 8 -> 4), then a global max-pool and a
  linear classifier. About 2.0M parameters at ``width=1``. With
  ``residual=True`` (:func:`fastnet_residual`) each stage's second conv
  becomes a residual branch around the first's output,
  ``y + GELU(BN(conv(y)))``, as in the residual layers of Page (2018)'s
  ResNet-9: the same layers and FLOPs, plus an identity path, so that
  zero-gamma initialisation has blocks to act on.
- :func:`resnet_cifar`: He et al. (2016), "Deep Residual Learning for Image
  Recognition", sec. 4.2: depth ``6n + 2`` with three stages of ``n`` basic
  blocks at 16, 32, 64 channels and parameter-free shortcuts (option A:
  subsample and zero-pad channels). ResNet-20/56/110 have 0.27M/0.85M/1.7M
  parameters, as published.
- :func:`resnet18_cifar`: the ImageNet ResNet-18's stages (64-512 channels,
  two basic blocks each, 1x1-conv projection shortcuts) on a 3x3 stem without
  max-pool, the common CIFAR adaptation; 11.2M parameters.

The downsampling shortcut (where a block halves the resolution and widens the
channels) is one of :data:`SHORTCUTS`:

- ``"A"``: parameter-free, He et al. (2016), sec. 3.3 and 4.2: keep every
  second pixel (``x[:, :, ::2, ::2]``) and zero-pad the new channels.
- ``"B"``: a projection, He et al. (2016), eq. 2: 1x1 conv with stride 2, then
  BN. The 1x1 kernel with stride 2 reads one pixel in four: three quarters of
  the input never reach the shortcut.
- ``"D"``: the ResNet-D tweak of He et al. (2019), "Bag of Tricks for Image
  Classification", sec. 4.2, fig. 2c: 2x2 average pooling with stride 2, then
  a 1x1 conv with stride 1 and BN, so every input pixel contributes.

Of that paper's three tweaks, only D applies to CIFAR's basic-block ResNets.
ResNet-B moves the stride of a *bottleneck* block from its first 1x1 conv to
its 3x3 conv (the 1x1 with stride 2 skips three quarters of the input); a
basic block already strides in a 3x3 conv, so there is nothing to move.
ResNet-C replaces the 7x7 ImageNet stem by three 3x3 convs; the CIFAR nets
have a single 3x3 stem already. Neither is offered here under another meaning.

On odd feature maps (e.g. 7x7, as ResNet-18 meets on 28x28 inputs) every
option gives the strided conv's size ``ceil(H / 2)``: A's slicing keeps the
last row, and D pools with ``ceil_mode=True`` (the last, partial window averages
the pixels it covers: ``count_include_pad=False``), where a plain
``AvgPool2d(2)`` would give ``floor(H / 2)`` and drop the last row and column.

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
SHORTCUTS: tuple[str, ...] = ("A", "B", "D")
"""The downsampling shortcut options (see the module docstring)."""


def _scaled(channels: int, width: float) -> int:
    return max(8, int(round(channels * width)))


class _ConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
        )


class _FastStage(nn.Module):
    """conv -> max-pool(2) -> BN -> GELU -> conv -> BN -> GELU.

    With ``residual``: ``y = GELU(BN(pool(conv(x))))``, then ``y + GELU(BN(conv(y)))``.
    """

    def __init__(self, c_in: int, c_out: int, residual: bool = False) -> None:
        super().__init__()
        self.residual = residual
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.pool = nn.MaxPool2d(2)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.bn1(self.pool(self.conv1(x))))
        branch = F.gelu(self.bn2(self.conv2(x)))
        return x + branch if self.residual else branch


class FastNet(nn.Module):
    """The fast CIFAR net (see the module docstring)."""

    def __init__(self, num_classes: int = 10, width: float = 1.0, residual: bool = False) -> None:
        super().__init__()
        check_positive_int("num_classes", num_classes)
        check_positive("width", width)
        stem, c1, c2, c3 = (_scaled(c, width) for c in (32, 64, 256, 256))
        self.residual = residual
        self.stem = nn.Sequential(nn.Conv2d(3, stem, 3, padding=1, bias=False), nn.BatchNorm2d(stem), nn.GELU())
        self.stages = nn.Sequential(*(_FastStage(a, b, residual) for a, b in ((stem, c1), (c1, c2), (c2, c3))))
        self.head = nn.Linear(c3, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))
        return self.head(torch.amax(x, dim=(2, 3)))


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with a shortcut: ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``.

    The shortcut is the identity where shape is kept, else option ``shortcut``
    of :data:`SHORTCUTS` (see the module docstring). ``bn2`` is the last BN of
    the residual branch: the one zero-gamma initialisation sets to 0.
    """

    def __init__(self, c_in: int, c_out: int, stride: int, shortcut: str) -> None:
        super().__init__()
        check_choice("shortcut", shortcut, SHORTCUTS)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = make_shortcut(shortcut, c_in, c_out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


def make_shortcut(option: str, c_in: int, c_out: int, stride: int) -> nn.Module:
    """The shortcut of a block that maps ``c_in`` to ``c_out`` channels with ``stride``.

    ``"A"`` (He et al., 2016): ``x[:, :, ::s, ::s]``, zero-padded to ``c_out``
    channels (needs ``c_out >= c_in``); no parameters. ``"B"`` (He et al., 2016,
    eq. 2): ``BN(conv1x1(x, stride=s))``. ``"D"`` (He et al., 2019, sec. 4.2):
    ``BN(conv1x1(avgpool_s(x)))`` with an ``s x s`` average pool of stride ``s``
    (``ceil_mode=True``, so odd sizes keep their last row and column), the
    identity in place of the pool where ``s = 1``. For ``H x W`` inputs all three
    give ``ceil(H / s) x ceil(W / s)``, the size of the block's 3x3 conv with
    padding 1 and stride ``s``.
    """
    check_choice("shortcut", option, SHORTCUTS)
    check_positive_int("c_in", c_in)
    check_positive_int("c_out", c_out)
    check_positive_int("stride", stride)
    if option == "A":
        if c_out < c_in:
            raise ValueError(f"shortcut 'A' zero-pads channels, so c_out must be >= c_in = {c_in}, got {c_out}")
        return _PadShortcut(c_out - c_in, stride)
    if option == "B":
        return nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))
    pool: nn.Module = (nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False)
                       if stride > 1 else nn.Identity())
    return nn.Sequential(pool, nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))


class _PadShortcut(nn.Module):
    """He et al.'s option A: subsample by ``stride`` and zero-pad the new channels.

    Slicing ``::stride`` keeps rows ``0, s, 2s, ...``: ``ceil(H / s)`` of them, the
    last row included on odd sizes.
    """

    def __init__(self, extra_channels: int, stride: int) -> None:
        super().__init__()
        self.extra = extra_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        half = self.extra // 2
        return F.pad(x, (0, 0, 0, 0, half, self.extra - half))

    def extra_repr(self) -> str:
        return f"stride={self.stride}, extra_channels={self.extra}"


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


def fastnet_residual(num_classes: int = 10, width: float = 1.0, zero_init_residual: bool = False) -> FastNet:
    """The fast net with an identity shortcut around each stage's second conv (see the module docstring)."""
    return _maybe_zero_init(FastNet(num_classes, width, residual=True), zero_init_residual)


def resnet_cifar(
    depth: int,
    num_classes: int = 10,
    width: float = 1.0,
    zero_init_residual: bool = False,
    shortcut: str = "A",
) -> ResNet:
    """He et al. (2016)'s CIFAR ResNet of ``depth = 6n + 2`` layers (20, 32, 44, 56, 110).

    ``shortcut`` is the downsampling shortcut of :data:`SHORTCUTS`: ``"A"``
    (the paper's CIFAR choice, parameter-free), ``"B"`` (1x1 conv stride 2 +
    BN) or ``"D"`` (2x2 average pool stride 2, 1x1 conv + BN: ResNet-D of
    He et al., 2019). Only the two downsampling blocks have such a shortcut,
    so B and D add few parameters. ResNet-B and ResNet-C of He et al. (2019)
    change bottleneck blocks and the 7x7 ImageNet stem, which these nets do
    not have (see the module docstring).
    """
    check_choice("depth", depth, RESNET_CIFAR_DEPTHS)
    check_positive_int("num_classes", num_classes)
    check_positive("width", width)
    check_choice("shortcut", shortcut, SHORTCUTS)
    n = (depth - 2) // 6
    channels = tuple(_scaled(c, width) for c in (16, 32, 64))
    model = ResNet((n, n, n), channels, shortcut, num_classes)
    return _maybe_zero_init(model, zero_init_residual)


def resnet18_cifar(
    num_classes: int = 10, width: float = 1.0, zero_init_residual: bool = False, shortcut: str = "B"
) -> ResNet:
    """ResNet-18 for 32x32 inputs: stages of 2 basic blocks at 64, 128, 256, 512 channels.

    ``shortcut``: ``"B"`` (the ImageNet ResNet-18's projection, the default),
    ``"D"`` (ResNet-D's average pool before the projection) or ``"A"``
    (parameter-free), as :func:`resnet_cifar`.
    """
    check_positive_int("num_classes", num_classes)
    check_positive("width", width)
    check_choice("shortcut", shortcut, SHORTCUTS)
    channels = tuple(_scaled(c, width) for c in (64, 128, 256, 512))
    model = ResNet((2, 2, 2, 2), channels, shortcut, num_classes)
    return _maybe_zero_init(model, zero_init_residual)


def residual_blocks(model: nn.Module) -> list[nn.Module]:
    """The residual blocks of ``model`` in forward order: every :class:`BasicBlock` and
    every stage of a residual :class:`FastNet`. Each has a ``bn2``, the last BN of its
    residual branch (the one zero-gamma sets to 0)."""
    return [m for m in model.modules()
            if isinstance(m, BasicBlock) or (isinstance(m, _FastStage) and m.residual)]


def _maybe_zero_init(model: nn.Module, zero_init_residual: bool) -> nn.Module:
    """Set gamma of the last BN of every residual branch to 0 (the branch starts at 0, the block as identity)."""
    if zero_init_residual:
        for module in residual_blocks(model):
            nn.init.zeros_(module.bn2.weight)
    return model


MODEL_NAMES: tuple[str, ...] = ("fastnet", "fastnet_residual", *(f"resnet{d}" for d in RESNET_CIFAR_DEPTHS), "resnet18")
SCALABLE_MODELS: tuple[str, ...] = ("fastnet", "fastnet_residual")
"""The models whose width a profile scales (the ResNets keep their published widths)."""


def build_model(
    name: str,
    num_classes: int = 10,
    width: float = 1.0,
    zero_init_residual: bool = False,
    shortcut: str | None = None,
) -> nn.Module:
    """A model by name: ``"fastnet"``, ``"fastnet_residual"``, ``"resnet20"``, ``"resnet32"``, ``"resnet44"``,
    ``"resnet56"``, ``"resnet110"`` or ``"resnet18"``.

    ``zero_init_residual`` applies to the models with residual blocks (the
    residual fast net and the ResNets); the plain fast net rejects it.
    ``shortcut`` (one of :data:`SHORTCUTS`) sets the ResNets' downsampling
    shortcut; ``None`` keeps the model's default (A for the CIFAR ResNets, B for
    ResNet-18). The fast nets have no downsampling shortcut and accept only ``None``.
    """
    check_choice("model", name, MODEL_NAMES)
    if shortcut is not None:
        check_choice("shortcut", shortcut, SHORTCUTS)
        if name.startswith("fastnet"):
            raise ValueError(f"shortcut applies to the resnets (their downsampling blocks); {name!r} has no "
                             f"downsampling shortcut, so shortcut must be None, got {shortcut!r}")
    if name == "fastnet":
        if zero_init_residual:
            raise ValueError("zero_init_residual needs a model with residual blocks (fastnet_residual or a "
                             "resnet), got 'fastnet'")
        return fastnet(num_classes, width)
    if name == "fastnet_residual":
        return fastnet_residual(num_classes, width, zero_init_residual)
    if name == "resnet18":
        return resnet18_cifar(num_classes, width, zero_init_residual, shortcut or "B")
    return resnet_cifar(int(name.removeprefix("resnet")), num_classes, width, zero_init_residual, shortcut or "A")


def count_parameters(model: nn.Module) -> int:
    """The number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
