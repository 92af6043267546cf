"""Experiment profiles: one recipe, three sizes.

A profile scales the data, the model and the epochs of an experiment, never a
trick's hyperparameters:

=========  ======  ===========================  ==============================
profile    device  data                         model, epochs
=========  ======  ===========================  ==============================
``smoke``  CPU     250 train / 100 test images  fast net at 1/8 width, half the
                   per class, batch x 1/4       recipe's epochs (about a minute
                                                a notebook on 2 cores)
``short``  GPU     full CIFAR-10                fast net, the recipe's epochs
``full``   GPU     full CIFAR-10                ResNet-18 in place of the fast
                                                net, 10x the recipe's epochs
=========  ======  ===========================  ==============================

The smoke profile divides the batch size by 4 (so that its small training
set still gives tens of steps an epoch) and, with it, every learning rate by
4: Goyal et al. (2017)'s linear scaling rule, which keeps the update per
image the same. ``auto`` picks ``short`` when CUDA is present and ``smoke``
otherwise; ``$TRICKS_LAB_PROFILE`` overrides ``auto``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import torch

from ._validation import check_choice

PROFILE_ENV = "TRICKS_LAB_PROFILE"


@dataclass(frozen=True)
class Profile:
    """How an experiment is scaled (see the module docstring)."""

    name: str
    device: str
    train_per_class: int | None
    test_per_class: int | None
    width: float
    epoch_scale: float
    batch_scale: float
    model: str | None
    description: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", "cpu", 250, 100, 0.125, 0.5, 0.25, None,
                     "CPU: 2,500 train / 1,000 test images, fast net at 1/8 width, half the epochs"),
    "short": Profile("short", "cuda", None, None, 1.0, 1.0, 1.0, None,
                     "GPU: full CIFAR-10, fast net, the recipe's epochs"),
    "full": Profile("full", "cuda", None, None, 1.0, 10.0, 1.0, "resnet18",
                    "GPU: full CIFAR-10, ResNet-18, 10x the recipe's epochs"),
}
PROFILE_NAMES = (*PROFILES, "auto")


def resolve_profile(name: str | Profile = "auto") -> Profile:
    """The :class:`Profile` called ``name``; ``"auto"`` honours ``$TRICKS_LAB_PROFILE``, then CUDA."""
    if isinstance(name, Profile):
        return name
    check_choice("profile", name, PROFILE_NAMES)
    if name == "auto":
        name = os.environ.get(PROFILE_ENV) or ("short" if torch.cuda.is_available() else "smoke")
        check_choice(f"${PROFILE_ENV}", name, tuple(PROFILES))
    profile = PROFILES[name]
    if profile.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"profile {name!r} needs a CUDA GPU and none is available; use 'smoke'")
    return profile
