"""Evaluation: logits of a whole evaluation set, top-1 accuracy, flip test-time augmentation.

Flip TTA averages the logits of an image and of its mirror,
``z(x) = (f(x) + f(flip(x))) / 2``: the classifier's output made invariant to
the horizontal flip that training augmentation already uses (Krizhevsky et
al., 2012, sec. 4.1 average ten crops; the CIFAR speed runs keep the flip).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from .precision import autocast, resolve_precision

__all__ = ["evaluate", "predict"]


@torch.no_grad()
def predict(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    tta: bool = False,
    precision: str = "auto",
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Float32 logits ``(N, K)`` and labels ``(N,)`` of every batch of ``loader``, in order.

    ``loader`` yields ``(images, labels)``; a loader with a ``train`` attribute
    (a :class:`~tricks_lab.loader.GpuLoader`) must be an evaluation loader,
    since augmented, shuffled batches would give a meaningless accuracy. With
    ``tta`` the logits are the mean of the image's and its mirror's. Batches
    are moved to ``device`` (default: the loader's ``device`` attribute, else
    the model's).
    """
    if getattr(loader, "train", False):
        raise ValueError("predict needs an evaluation loader (train=False), got a training loader")
    device = torch.device(device or getattr(loader, "device", None) or _model_device(model))
    precision = resolve_precision(precision, device)
    was_training = model.training
    model.eval()
    all_logits, all_labels = [], []
    try:
        with autocast(precision, device):
            for images, labels in loader:
                images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
                logits = model(images).float()
                if tta:
                    logits = 0.5 * (logits + model(images.flip(3)).float())
                all_logits.append(logits)
                all_labels.append(labels)
    finally:
        model.train(was_training)
    if not all_logits:
        raise ValueError("loader yielded no batches")
    return torch.cat(all_logits), torch.cat(all_labels)


def evaluate(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    tta: bool = False,
    precision: str = "auto",
    device: torch.device | str | None = None,
) -> float:
    """Top-1 accuracy of ``model`` on ``loader``: the fraction of images whose argmax logit is the label."""
    logits, labels = predict(model, loader, tta=tta, precision=precision, device=device)
    return (logits.argmax(dim=1) == labels).float().mean().item()


def _model_device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")
