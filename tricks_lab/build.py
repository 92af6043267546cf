"""From a :class:`~tricks_lab.recipe.Recipe` and a profile to the objects ``fit`` takes.

One function per component, each a thin mapping of recipe fields onto the
reference implementations in the trick modules, so that what the book runs
is exactly what the package exports.
"""

from __future__ import annotations

import torch
from torch import nn

from .losses import DistillationLoss, LabelSmoothingCrossEntropy
from .models import build_model
from .profiles import Profile
from .recipe import Recipe
from .transforms import BatchTransform, ImageHook


def scaled_batch_size(recipe: Recipe, profile: Profile) -> int:
    """The batch size under ``profile`` (its ``batch_scale``, at least 1)."""
    return max(1, round(recipe.batch_size * profile.batch_scale))


def scaled_lr(recipe: Recipe, profile: Profile) -> float:
    """The recipe's effective lr, scaled with the batch size by the linear rule."""
    return recipe.effective_lr * scaled_batch_size(recipe, profile) / recipe.batch_size


def scaled_final_lr(recipe: Recipe, profile: Profile) -> float:
    """AdaBound's ``final_lr`` scaled like the lr: ``final_lr * scaled_lr / lr``."""
    return recipe.final_lr * scaled_lr(recipe, profile) / recipe.lr


def scaled_epochs(recipe: Recipe, profile: Profile) -> int:
    """The recipe's epochs under ``profile`` (its ``epoch_scale``, at least 1)."""
    return max(1, round(recipe.epochs * profile.epoch_scale))


def make_model(recipe: Recipe, profile: Profile, num_classes: int = 10) -> nn.Module:
    """The recipe's model; the profile may swap the fast net (``full``) and scale its width."""
    name = recipe.model
    if name == "fastnet" and profile.model is not None:
        name = profile.model
    width = profile.width if name == "fastnet" else 1.0
    return build_model(name, num_classes=num_classes, width=width,
                       zero_init_residual=recipe.zero_init_residual)


def make_optimizer(recipe: Recipe, profile: Profile, model: nn.Module) -> torch.optim.Optimizer:
    """SGD (Nesterov), Adam, AdaBound or AMSBound at the scaled lr.

    AdaBound's ``final_lr`` is a learning rate too: it is scaled by the same
    factor as ``lr`` (the profile's batch scale and ``lr_reference_batch``), so
    ``final_lr / lr`` is the recipe's under every profile.
    """
    lr = scaled_lr(recipe, profile)
    if recipe.no_bias_decay:
        from .optim import no_bias_decay

        params: list[dict] | object = no_bias_decay(model, recipe.weight_decay)
    else:
        params = [{"params": [p for p in model.parameters() if p.requires_grad],
                   "weight_decay": recipe.weight_decay}]
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=recipe.momentum,
                               nesterov=recipe.nesterov and recipe.momentum > 0)
    if recipe.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr)
    from .optim import AdaBound

    return AdaBound(params, lr=lr, final_lr=scaled_final_lr(recipe, profile), gamma=recipe.bound_gamma,
                    amsbound=recipe.optimizer == "amsbound")


def make_scheduler(
    recipe: Recipe, profile: Profile, optimizer: torch.optim.Optimizer, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """The recipe's schedule, in iterations: optional warmup, then step/cosine/linear/constant."""
    from .schedules import make_schedule

    epochs = scaled_epochs(recipe, profile)
    total = epochs * steps_per_epoch
    warmup = round(recipe.warmup_epochs * profile.epoch_scale * steps_per_epoch)
    milestones = tuple(sorted({round(m * total) for m in recipe.milestones if round(m * total) > warmup}))
    base = scaled_lr(recipe, profile)
    return make_schedule(
        optimizer,
        recipe.schedule,
        total,
        warmup_steps=warmup,
        warmup_mode=recipe.warmup_mode,
        start_factor=recipe.warmup_start_factor,
        min_lr=recipe.min_lr_factor * base,
        milestones=milestones,
        gamma=recipe.step_gamma,
    )


def make_loss(recipe: Recipe) -> nn.Module:
    """Cross entropy with the recipe's label smoothing; the distillation loss with a teacher."""
    if recipe.teacher is not None:
        return DistillationLoss(temperature=recipe.distill_temperature, alpha=recipe.distill_alpha,
                                smoothing=recipe.label_smoothing)
    return LabelSmoothingCrossEntropy(smoothing=recipe.label_smoothing)


def make_hooks(recipe: Recipe, num_classes: int = 10) -> list[BatchTransform]:
    """The loader hooks: policy augmentation (uint8), then occlusion, then mixing (float)."""
    hooks: list[BatchTransform] = []
    if recipe.augment != "none":
        hooks.append(_augment_hook(recipe.augment))
    if recipe.occlusion == "cutout":
        from .occlusion import cutout_batch

        hooks.append(ImageHook(cutout_batch, stage="float", length=recipe.cutout_length,
                               n_holes=recipe.cutout_holes))
    elif recipe.occlusion == "random_erasing":
        from .occlusion import random_erasing_batch

        hooks.append(ImageHook(random_erasing_batch, stage="float", p=recipe.erasing_p))
    if recipe.mixing != "none":
        from . import mixing

        cls = {"mixup": mixing.Mixup, "cutmix": mixing.CutMix, "ricap": mixing.RICAP}[recipe.mixing]
        hooks.append(cls(recipe.mixing_alpha, num_classes, p=recipe.mixing_p))
    return hooks


def _augment_hook(name: str) -> BatchTransform:
    from . import autoaugment

    if name == "autoaugment":
        return ImageHook(autoaugment.autoaugment_batch, stage="uint8", policy="cifar10")
    from torchvision.transforms import v2

    transform = v2.RandAugment() if name == "randaugment" else v2.TrivialAugmentWide()
    return autoaugment.PerImageHook(transform)
