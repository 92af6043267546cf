"""From a :class:`~tricks_lab.recipe.Recipe` and a profile to the objects ``fit`` takes.

One function per component, each a thin mapping of recipe fields onto the
reference implementations in the trick modules, so that what the book runs
is exactly what the package exports.
"""

from __future__ import annotations

import torch
from torch import nn

from .losses import DistillationLoss, LabelSmoothingCrossEntropy
from .models import SCALABLE_MODELS, build_model
from .optim import OPTIMIZERS, OptimizerSettings, no_bias_decay
from .profiles import Profile
from .recipe import Recipe
from .hooks import BatchTransform

__all__ = [
    "make_hooks", "make_loss", "make_lr_scheduler", "make_model", "make_optimizer", "scaled_batch_size",
    "scaled_epochs", "scaled_final_lr", "scaled_lr",
]


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
    width = profile.width * recipe.width_multiplier if name in SCALABLE_MODELS else 1.0
    return build_model(name, num_classes=num_classes, width=width,
                       zero_init_residual=recipe.zero_init_residual, shortcut=recipe.shortcut)


def make_optimizer(recipe: Recipe, profile: Profile, model: nn.Module) -> torch.optim.Optimizer:
    """The recipe's optimizer (:data:`tricks_lab.optim.OPTIMIZERS`) at the scaled lr.

    AdaBound's ``final_lr`` is a learning rate too: it is scaled by the same
    factor as ``lr`` (the profile's batch scale and ``lr_reference_batch``), so
    ``final_lr / lr`` is the recipe's under every profile. Weight decay is set
    per parameter group: on every parameter, or (``no_bias_decay``) on
    convolution and linear weights only.
    """
    if recipe.no_bias_decay:
        params: list[dict] = no_bias_decay(model, recipe.weight_decay)
    else:
        params = [{"params": [p for p in model.parameters() if p.requires_grad],
                   "weight_decay": recipe.weight_decay}]
    settings = OptimizerSettings(lr=scaled_lr(recipe, profile), momentum=recipe.momentum,
                                 nesterov=recipe.nesterov, final_lr=scaled_final_lr(recipe, profile),
                                 bound_gamma=recipe.bound_gamma)
    return OPTIMIZERS[recipe.optimizer](params, settings)


def make_lr_scheduler(
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


def make_loss(recipe: Recipe, student: nn.Module | None = None, teacher: nn.Module | None = None) -> nn.Module:
    """Cross entropy with the recipe's label smoothing; with a teacher, the distillation loss bound to ``student``."""
    if recipe.teacher is None:
        return LabelSmoothingCrossEntropy(smoothing=recipe.label_smoothing)
    if teacher is None or student is None:
        raise ValueError("a recipe with a teacher needs the trained teacher model and the student to bind to")
    return DistillationLoss(teacher, temperature=recipe.distill_temperature, alpha=recipe.distill_alpha,
                            smoothing=recipe.label_smoothing).bind(student)


def make_hooks(recipe: Recipe, num_classes: int = 10) -> list[BatchTransform]:
    """The loader hooks: policy augmentation (uint8), then colour jitter, PCA lighting, occlusion and
    mixing (float).

    Each comes from its module's registry: :data:`tricks_lab.autoaugment.AUGMENTS`
    (``factory()``), :data:`tricks_lab.occlusion.OCCLUSIONS` (the hook class with the
    recipe's options) and :data:`tricks_lab.mixing.MIXINGS`
    (``factory(concentration, num_classes, p=p)``).
    """
    hooks: list[BatchTransform] = []
    if recipe.augment != "none":
        hooks.append(_augment_hook(recipe.augment))
    if recipe.color_jitter > 0:  # the Bag of Tricks pipeline: jitter, then lighting (He et al., 2019, sec. 2.1)
        from .color import ColorJitter

        hooks.append(ColorJitter(recipe.color_jitter, recipe.color_jitter, recipe.color_jitter))
    if recipe.pca_lighting > 0:
        from .color import PCALighting, cifar10_lighting_eigen

        hooks.append(PCALighting(recipe.pca_lighting, *cifar10_lighting_eigen()))
    if recipe.occlusion != "none":
        from .occlusion import OCCLUSIONS

        options = {"cutout": {"length": recipe.cutout_length, "n_holes": recipe.cutout_holes},
                   "random_erasing": {"p": recipe.erasing_p}}[recipe.occlusion]
        hooks.append(OCCLUSIONS[recipe.occlusion](**options, stage="float"))
    if recipe.mixing != "none":
        from .mixing import MIXINGS

        # the Beta(a, a) concentration: mixup's and CutMix's alpha, RICAP's beta
        hooks.append(MIXINGS[recipe.mixing](recipe.mixing_concentration, num_classes, p=recipe.mixing_p))
    return hooks


def _augment_hook(name: str) -> BatchTransform:
    from .autoaugment import AUGMENTS

    return AUGMENTS[name]()
