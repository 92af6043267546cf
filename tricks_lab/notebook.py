"""What the first cell of every chapter calls: report the machine, the profile and the data.

On Colab the chapter's first cell clones the repository and installs
``tricks_lab`` (once: the install survives a runtime restart) before it
imports this module; everywhere, :func:`setup` then prepares the environment
(on Colab: the working folder and the download permission, on every run),
picks the device and prints lines a reader can quote, with the estimated
time of the chapter's live cells on this device (:mod:`tricks_lab.estimates`)::

    device:  cpu (2 threads)
    profile: smoke (CPU: 2,500 train / 1,000 test images, fast net at 1/8 width, half the epochs)
    data:    cifar10-jpeg.zip (JPEG q75 copy)
    live:    4 live runs under smoke, 1.4 TFLOP: about 1.2 min on cpu (estimate; see tricks_lab.estimates)
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from .estimates import ChapterEstimate, chapter_estimate
from .experiments import profile_data
from .hardware import device_name
from .profiles import Profile, resolve_profile
from .registry import EXPERIMENTS

__all__ = ["COLAB_CLONE", "Environment", "prepare_colab", "setup"]

COLAB_CLONE = "/content/tricks-lab"
"""Where the chapters' first cell clones the repository on Colab."""


@dataclass(frozen=True)
class Environment:
    """Where a notebook runs."""

    device: torch.device
    profile: Profile
    data_source: str
    on_colab: bool
    live: ChapterEstimate | None = None

    def __str__(self) -> str:
        device = device_name(self.device)
        lines = (f"device:  {device}\nprofile: {self.profile.name} ({self.profile.description})\n"
                 f"data:    {self.data_source}")
        return lines if self.live is None else f"{lines}\nlive:    {self.live}"


def prepare_colab(clone: str | os.PathLike[str] = COLAB_CLONE) -> Path:
    """Change into the clone's ``book/`` folder and allow the CIFAR-10 download.

    The chapters' first cell runs this on Colab every time (through
    :func:`setup`), including after a runtime restart, when the install is
    skipped but the working folder and the environment are fresh again: the
    stored results (``book/results``) are then found relative to the chapter,
    as in the repository. ``TRICKS_LAB_DOWNLOAD`` is set only if unset.
    Returns the book folder.

    Raises:
        FileNotFoundError: ``clone`` holds no ``book/`` folder (the clone was
            deleted after the install).
    """
    book = Path(clone) / "book"
    if not book.is_dir():
        raise FileNotFoundError(
            f"{book} does not exist, so the chapter cannot find its stored results. "
            f"Delete the runtime (Runtime > Disconnect and delete runtime) and run the first cell again: "
            f"it clones the repository into {clone} and installs tricks_lab."
        )
    os.chdir(book)
    os.environ.setdefault("TRICKS_LAB_DOWNLOAD", "1")
    return book


def setup(profile: str = "auto", colab_clone: str | os.PathLike[str] = COLAB_CLONE,
          chapter: str | None = None) -> Environment:
    """Prepare the environment, resolve the profile, load the data once, set plot defaults, print it all.

    Args:
        profile: ``"auto"`` (``short`` with CUDA, ``smoke`` otherwise), or a
            profile name; ``TRICKS_LAB_PROFILE`` overrides ``"auto"``.
        colab_clone: on Colab, the folder the first cell cloned the
            repository into (see :func:`prepare_colab`); unused elsewhere.
        chapter: the notebook's name (e.g. ``"04_ricap"``); for a chapter
            with an experiment, the time its live cells will take here is
            estimated and printed.

    Returns:
        The :class:`Environment`: device, profile, data copy, whether this is
        Colab, and the live cells' estimate.
    """
    on_colab = "google.colab" in sys.modules
    if on_colab:
        prepare_colab(colab_clone)
    resolved = resolve_profile(profile)
    env = Environment(
        device=torch.device(resolved.device),
        profile=resolved,
        data_source=profile_data(resolved).source,
        on_colab=on_colab,
        live=chapter_estimate(chapter, resolved) if chapter in _CHAPTERS else None,
    )
    _plot_defaults()
    print(env)
    return env


_CHAPTERS = {chapter for experiment in EXPERIMENTS for chapter in experiment.chapters}


def _plot_defaults() -> None:
    try:
        import matplotlib as mpl
    except ImportError:  # the figures need the [plots] extra; training does not
        return
    mpl.rcParams.update({
        "figure.dpi": 110, "savefig.dpi": 110, "axes.grid": True, "grid.alpha": 0.3,
        "axes.spines.top": False, "axes.spines.right": False, "figure.autolayout": True,
    })
