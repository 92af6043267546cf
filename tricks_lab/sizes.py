"""How many images a profile trains on and how many iterations an epoch has, without loading data.

The figures and explorers that draw a run's learning-rate curve or count its
steps need the same numbers as the training loader: the training set is
CIFAR-10's 50,000 images, minus the profile's validation split
(:attr:`~tricks_lab.profiles.Profile.holdout_per_class`), or the profile's
class-balanced subset; an epoch is ``floor(images / batch)`` iterations,
since the training loader drops the last, partial batch. A test checks these
against the length of the loader :func:`tricks_lab.experiments.make_loaders`
builds for every profile.
"""

from __future__ import annotations

from ._validation import check_positive_int
from .build import scaled_batch_size, scaled_epochs
from .data import CLASSES, SPLIT_SIZES
from .profiles import Profile
from .recipe import Recipe

__all__ = ["run_steps", "steps_per_epoch", "train_size"]


def train_size(profile: Profile) -> int:
    """The number of training images under ``profile``."""
    if profile.train_per_class is not None:
        return len(CLASSES) * profile.train_per_class
    return SPLIT_SIZES["train"] - len(CLASSES) * (profile.holdout_per_class or 0)


def steps_per_epoch(batch_size: int, images: int) -> int:
    """Iterations an epoch: ``floor(images / batch_size)`` (the partial batch is dropped)."""
    check_positive_int("batch_size", batch_size)
    check_positive_int("images", images)
    if batch_size > images:
        raise ValueError(f"batch_size must be <= the {images} training images, got {batch_size}")
    return images // batch_size


def run_steps(recipe: Recipe, profile: Profile) -> int:
    """Optimizer steps of ``recipe``'s run under ``profile``: its scaled epochs times the steps an epoch."""
    return scaled_epochs(recipe, profile) * steps_per_epoch(scaled_batch_size(recipe, profile), train_size(profile))
