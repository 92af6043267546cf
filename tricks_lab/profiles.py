"""Experiment profiles: one recipe, four sizes.

A profile scales the data, the model and the epochs of an experiment, never a
trick's hyperparameters:

=========  ======  ============================  ==============================
profile    device  data                          model, epochs
=========  ======  ============================  ==============================
``smoke``  CPU     250 train / 100 test images   fast net at 1/8 width, half the
                   per class (+50 validation),   recipe's epochs (about a minute
                   batch x 1/4                   a notebook on 2 cores)
``lab``    CPU     45,000 train / 5,000          fast net at 1/8 width, a
                   validation / 10,000 test,     quarter of the recipe's epochs
                   batch x 1/4                   (4): the book's CPU evidence
``short``  GPU     45,000 / 5,000 / 10,000       fast net, the recipe's epochs
``full``   GPU     45,000 / 5,000 / 10,000       ResNet-18 in place of the fast
                                                 net, 10x the recipe's epochs
=========  ======  ============================  ==============================

The CPU profiles divide the batch size by 4 (so that small or short runs
still take hundreds of steps) and, with it, every learning rate by 4: Goyal
et al. (2017)'s linear scaling rule, which keeps the update per image the
same. The evidence profiles hold 500 images a class out of the training set
as a fixed validation split (:attr:`Profile.holdout_per_class`): sweeps choose
on it, never on the test set. ``auto`` picks ``short`` when CUDA is present
and ``smoke`` otherwise; ``$TRICKS_LAB_PROFILE`` overrides ``auto``.

How ``lab`` was chosen (2026-12-02, this project's 2-core AMD EPYC with AVX2
and no AVX-512, so no native bf16). Throughput of the baseline's training
step, batch 128, idle machine, images/s: fast net 1/8 width 1,684 (2 threads)
and 1,103 (1 thread); 1/4 width 927 and 569; residual fast net at 1/4 width
736; channels_last 1.24x contiguous at 1/8 width; bf16 autocast 0.1x fp32
(emulated). Two single-threaded runs side by side train 1.23-1.31x the images
of one two-threaded run, so the campaign runs two jobs of one thread. Test
accuracy on all 10,000 test images (50,000 training images, batch 128, lr
0.1, step decay; one seed unless two are given; single-threaded runs on a
loaded machine, so their seconds are upper bounds):

=================================  ============  ===============
candidate                          test acc. %   train seconds
=================================  ============  ===============
1/8 width, 3 epochs                65.7          301
1/8 width, 4 epochs (``lab``)      68.7, 69.6    198, 307
1/8 width, 4 epochs, batch 64      70.5          267
3/16 width, 3 epochs               71.7          310
1/4 width, 2 epochs                65.3          226
residual fast net, 1/4 width, 2    55.2          249
residual fast net, 1/8 width, 4    63.7          252
=================================  ============  ===============

The 80 % the issue aimed at needs several times this compute on this CPU: at
1/8 width and 4 epochs a run is 180,000 training images, about 107 s of
training at the idle two-threaded rate, and the campaign's ~350 runs (about
560 baseline-length runs' worth) already take about 14 hours on 2 cores. The wider or longer candidates buy 2-3 points for
1.3-1.6x the time. (``bench/train_speed.py``, run later on the idle machine
with 3 rounds of 20 steps, measured ``fit`` at 2,939 images/s with
channels_last and 2 threads, 1.01x a plain PyTorch loop: a ``lab`` run's
training is then about 61 s; the short probes above are lower bounds.) The 10-seed spread of the ``lab`` baseline is in chapter
00's stored record (``book/results/lab/00_baseline.json``).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import torch

from ._validation import check_choice

PROFILE_ENV = "TRICKS_LAB_PROFILE"


@dataclass(frozen=True)
class Profile:
    """How an experiment is scaled (see the module docstring).

    ``holdout_per_class`` images of each class are held out of the training
    set as a fixed validation split (sweeps choose on it, never on the test
    set); ``evaluations`` is how many times the test set is scored during a
    run (the last one after the final epoch).
    """

    name: str
    device: str
    train_per_class: int | None
    test_per_class: int | None
    width: float
    epoch_scale: float
    batch_scale: float
    model: str | None
    description: str
    holdout_per_class: int | None = None
    evaluations: int = 4

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


HOLDOUT_PER_CLASS = 500
"""The validation split of the evidence profiles: 500 training images a class (5,000), never trained on."""

PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", "cpu", 250, 100, 0.125, 0.5, 0.25, None,
                     "CPU: 2,500 train / 1,000 test images, fast net at 1/8 width, half the epochs",
                     holdout_per_class=50),
    "lab": Profile("lab", "cpu", None, None, 0.125, 0.25, 0.25, None,
                   "CPU: 45,000 train / 5,000 validation / 10,000 test images, fast net at 1/8 width, "
                   "batch x 1/4, a quarter of the epochs", holdout_per_class=HOLDOUT_PER_CLASS, evaluations=1),
    "short": Profile("short", "cuda", None, None, 1.0, 1.0, 1.0, None,
                     "GPU: 45,000 train / 5,000 validation / 10,000 test images, fast net, the recipe's epochs",
                     holdout_per_class=HOLDOUT_PER_CLASS),
    "full": Profile("full", "cuda", None, None, 1.0, 10.0, 1.0, "resnet18",
                    "GPU: 45,000 train / 5,000 validation / 10,000 test images, ResNet-18, 10x the recipe's "
                    "epochs", holdout_per_class=HOLDOUT_PER_CLASS),
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
