"""How long a chapter's live cells take: FLOPs counted on the model, divided by a device's sustained rate.

These are estimates, stated as such wherever they are printed. The count is
exact for what it covers: :func:`image_flops` runs one forward and backward
pass of the recipe's model under :class:`torch.utils.flop_counter.FlopCounterMode`
(convolutions and matrix products, a multiply-add counted as two FLOPs), and
:func:`run_flops` multiplies it by the images a run trains on
(:func:`tricks_lab.sizes.run_steps` times the batch), adds a distillation
teacher's forward pass on every training image and the forward passes of each
evaluation. It leaves out element-wise work (batch norm, activations,
augmentation, the optimizer step), which is small beside the convolutions on
a GPU and not small on a CPU.

The time is ``FLOPs / rate + steps * overhead``:

- a GPU's rate is :data:`SUSTAINED_FRACTION` of its dense fp16 tensor-core
  peak from the vendor's data sheet (:data:`GPU_PEAK_FLOPS`; a T4 has 65
  TFLOP/s). The fraction is an assumption, not a measurement: no GPU was
  lent to this project when it was written; a small convolutional net with
  automatic mixed precision keeps a GPU well below its peak, and 20 % puts
  the `short` baseline at about a minute on a T4. :data:`STEP_OVERHEAD_S`
  adds the per-iteration cost of launching kernels, which dominates for this
  small net on the fastest GPUs.
- a CPU's rate is measured: the FLOPs of the committed ``lab`` baseline runs
  divided by their training time (:func:`cpu_rate`), on the book's 2-core
  machine with one thread per run.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .build import make_model, scaled_batch_size
from .data import CLASSES, SPLIT_SIZES
from .profiles import PROFILES, Profile, resolve_profile
from .recipe import Recipe
from .registry import EXPERIMENTS, live_runs
from .sizes import run_steps

__all__ = [
    "GPU_PEAK_FLOPS", "STEP_OVERHEAD_S", "SUSTAINED_FRACTION", "ChapterEstimate", "chapter_estimate",
    "cpu_rate", "estimate_table", "gpu_rate", "image_flops", "run_flops",
]

GPU_PEAK_FLOPS: dict[str, float] = {
    "H200": 989e12, "H100": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12, "V100": 125e12, "T4": 65e12,
}
"""Dense fp16 tensor-core peak, FLOP/s, from NVIDIA's data sheets (matched in this order in the device name)."""

SUSTAINED_FRACTION = 0.2
"""The share of :data:`GPU_PEAK_FLOPS` a small CNN sustains with autocast: an assumption (see the module)."""

STEP_OVERHEAD_S = 0.002
"""Seconds an iteration costs on a GPU beyond its FLOPs (kernel launches, the optimizer): an assumption."""

@functools.lru_cache(maxsize=None)
def image_flops(recipe: Recipe, profile: Profile, backward: bool = True) -> float:
    """FLOPs of one image through ``recipe``'s model under ``profile``: forward, plus backward if asked."""
    from torch.utils.flop_counter import FlopCounterMode

    model = make_model(recipe, profile)
    images = torch.zeros(2, 3, 32, 32)
    with FlopCounterMode(display=False) as counter:
        if backward:
            model(images).sum().backward()
        else:
            with torch.no_grad():
                model.eval()(images)
    return counter.get_total_flops() / len(images)


def run_flops(recipe: Recipe, profile: str | Profile) -> float:
    """FLOPs of a run: training (forward and backward), a teacher's forward passes, the evaluations."""
    profile = _profile(profile)
    trained = run_steps(recipe, profile) * scaled_batch_size(recipe, profile)
    flops = trained * image_flops(recipe, profile)
    if recipe.teacher is not None:
        flops += trained * image_flops(recipe.teacher, profile, backward=False)
    classes = len(CLASSES)
    tested = profile.test_per_class * classes if profile.test_per_class else SPLIT_SIZES["test"]
    scored = tested * profile.evaluations + classes * (profile.holdout_per_class or 0)
    return flops + scored * image_flops(recipe, profile, backward=False) * (2 if recipe.tta else 1)


def _profile(profile: str | Profile) -> Profile:
    """A profile by name, a GPU one included on a machine without a GPU (an estimate trains nothing)."""
    return PROFILES[profile] if isinstance(profile, str) and profile in PROFILES else resolve_profile(profile)


def gpu_rate(device_name: str) -> float | None:
    """The sustained FLOP/s assumed for the GPU called ``device_name``; None for a GPU not in the table."""
    for model, peak in GPU_PEAK_FLOPS.items():
        if model in device_name:
            return SUSTAINED_FRACTION * peak
    return None


def cpu_rate() -> float | None:
    """FLOP/s of the committed ``lab`` baseline runs (one thread each, 2-core machine); None without the record."""
    from .records import MissingRecord, stored_experiment

    record = stored_experiment("00_baseline", "lab")
    if isinstance(record, MissingRecord):
        return None
    runs = [r for part in record.parts.values() for rs in part.comparison.results.values() for r in rs]
    return sum(run_flops(r.recipe, "lab") for r in runs) / sum(r.train_seconds for r in runs)


@dataclass(frozen=True)
class ChapterEstimate:
    """A chapter's live runs under a profile, their FLOPs, and the estimated time on a device (None: unknown)."""

    chapter: str
    profile: str
    runs: int
    flops: float
    steps: int
    device: str
    seconds: float | None

    def __str__(self) -> str:
        what = f"{self.runs} live runs under {self.profile}, {self.flops / 1e12:.1f} TFLOP"
        if self.seconds is None:
            return f"{what}; no time estimate for {self.device}"
        return f"{what}: about {self.seconds / 60:.1f} min on {self.device} (estimate; see tricks_lab.estimates)"


def chapter_estimate(chapter: str, profile: str | Profile = "auto", device: str | None = None) -> ChapterEstimate:
    """Estimate the live cells of ``chapter`` under ``profile`` on ``device`` (a GPU name, or ``"cpu"``).

    ``device`` defaults to the GPU torch sees, else ``"cpu"``.
    """
    profile = _profile(profile)
    if device is None:
        device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    runs = live_runs(chapter)
    flops = sum(run_flops(recipe, profile) for _, recipe, _ in runs)
    steps = sum(run_steps(recipe, profile) for _, recipe, _ in runs)
    if device == "cpu":
        rate, overhead = cpu_rate(), 0.0
    else:
        rate, overhead = gpu_rate(device), STEP_OVERHEAD_S
    seconds = None if rate is None else flops / rate + steps * overhead
    return ChapterEstimate(chapter, profile.name, len(runs), flops, steps, device, seconds)


def estimate_table(devices: Sequence[str] = ("Tesla T4", "NVIDIA L4", "NVIDIA A100", "NVIDIA H100")) -> str:
    """A Markdown table: every chapter's live runs under ``short``, their FLOPs and minutes on ``devices``.

    A last column gives the CI profile (``smoke``) on a CPU at :func:`cpu_rate`.
    Chapters are ``{doc}`` links (render with myst-nb's ``render_markdown_format: myst``).
    """
    short = [d.removeprefix("NVIDIA ").removeprefix("Tesla ") for d in devices]
    lines = ["| chapter | live runs | PFLOP (short) | " + " | ".join(f"{d} (min)" for d in short)
             + " | CPU, smoke (min) |", "|---" * (len(devices) + 4) + "|"]
    for chapter in sorted(c for experiment in EXPERIMENTS for c in experiment.chapters):
        on_gpus = [chapter_estimate(chapter, "short", device) for device in devices]
        cpu = chapter_estimate(chapter, "smoke", "cpu")
        cells = [_minutes(e.seconds) for e in (*on_gpus, cpu)]
        lines.append(f"| {{doc}}`{chapter}` | {on_gpus[0].runs} | {on_gpus[0].flops / 1e15:.1f} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def _minutes(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds / 60:.1f}"
