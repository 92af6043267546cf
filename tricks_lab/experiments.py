"""Run recipes under a profile, cache the runs, and compare recipes over seeds.

:func:`run` trains one recipe for one seed and returns a :class:`Result`.
Runs are cached on disk under a content address: the recipe, the profile, the
seed, the data copy and the source code of ``tricks_lab`` itself. The same
experiment is computed once per machine and reused by every notebook (the
baseline is shared by all chapters); any change to the package's code makes a
new address, so a cached run never outlives the code that produced it. A
comparison that is interrupted resumes from the runs already cached.

:func:`compare` runs several recipes over several seeds and reports, for
each, the mean and spread of test accuracy and the difference to the first
recipe (the baseline) with Welch's 95% interval (:mod:`tricks_lab.stats`).
"""

from __future__ import annotations

import functools
import hashlib
import html
import io
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import distributed
from ._validation import check_positive_int
from .build import make_hooks, make_loss, make_model, make_optimizer, make_scheduler, scaled_batch_size, scaled_epochs
from .cache import atomic_write_bytes, atomic_write_json, cache_root
from .data import CIFAR10, balanced_subset, load_cifar10
from .loader import GpuLoader
from .profiles import Profile, resolve_profile
from .recipe import Recipe
from .stats import Difference, Summary, summarize, welch_interval
from .train import History, default_progress, fit, resolve_precision

TEACHER_SEED = 0
"""A recipe's teacher is trained once, with this seed, and shared by all the student's seeds."""


@functools.lru_cache(maxsize=4)
def profile_data(profile: Profile) -> CIFAR10:
    """CIFAR-10 cut to the profile's class-balanced subsets (fixed subset seed 0)."""
    data = load_cifar10()
    train = (data.train_images, data.train_labels)
    test = (data.test_images, data.test_labels)
    if profile.train_per_class is not None:
        train = balanced_subset(*train, per_class=profile.train_per_class, seed=0)
    if profile.test_per_class is not None:
        test = balanced_subset(*test, per_class=profile.test_per_class, seed=0)
    return CIFAR10(*train, *test, data.classes, data.source)


def make_loaders(recipe: Recipe, profile: Profile, seed: int) -> tuple[GpuLoader, GpuLoader]:
    """The training loader (with the recipe's hooks) and the test loader of a run."""
    data = profile_data(profile)
    batch_size = scaled_batch_size(recipe, profile)
    if batch_size > len(data.train_images):
        raise ValueError(
            f"batch_size={batch_size} (under profile {profile.name!r}) is larger than the "
            f"{len(data.train_images)} training images"
        )
    train = GpuLoader(data.train_images, data.train_labels, batch_size, train=True,
                      device=profile.device, seed=seed, hooks=make_hooks(recipe, len(data.classes)))
    test = GpuLoader(data.test_images, data.test_labels, 1024, train=False, device=profile.device)
    return train, test


@dataclass(repr=False)
class Result:
    """One finished run: its recipe, profile, seed, history and final test accuracy."""

    recipe: Recipe
    profile: str
    seed: int
    test_acc: float
    history: History
    train_seconds: float
    wall_seconds: float
    data_source: str
    device: str
    precision: str
    cached: bool = False
    model: nn.Module | None = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        return (f"Result(profile={self.profile!r}, seed={self.seed}, test_acc={self.test_acc:.4f}, "
                f"epochs={len(self.history.epoch)}, train_seconds={self.train_seconds:.1f}, cached={self.cached})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe.to_dict(), "profile": self.profile, "seed": self.seed,
            "test_acc": self.test_acc, "history": self.history.to_dict(),
            "train_seconds": self.train_seconds, "wall_seconds": self.wall_seconds,
            "data_source": self.data_source, "device": self.device, "precision": self.precision,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], cached: bool = False) -> "Result":
        return cls(
            recipe=Recipe.from_dict(data["recipe"]), profile=data["profile"], seed=data["seed"],
            test_acc=data["test_acc"], history=History.from_dict(data["history"]),
            train_seconds=data["train_seconds"], wall_seconds=data["wall_seconds"],
            data_source=data["data_source"], device=data["device"], precision=data["precision"],
            cached=cached,
        )


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of the ``tricks_lab`` package's source files (part of every cache address)."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def run_key(recipe: Recipe, profile: Profile, seed: int) -> str:
    """The content address of a run."""
    payload = {
        "recipe": recipe.to_dict(), "profile": profile.to_dict(), "seed": seed,
        "data": profile_data(profile).source, "code": code_version(),
    }
    if distributed.world_size() > 1:  # a data-parallel run is its own run (single-process keys unchanged)
        payload["world_size"] = distributed.world_size()
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def run(
    recipe: Recipe,
    profile: str | Profile = "auto",
    seed: int = 0,
    *,
    cache: bool = True,
    progress: bool | None = None,
    keep_model: bool = True,
) -> Result:
    """Train ``recipe`` under ``profile`` with ``seed`` (model init, data order, augmentation).

    With ``cache``, a run already computed with the same recipe, profile,
    seed, data and code is loaded instead (``Result.cached`` says so); the
    trained model comes back in ``Result.model`` when ``keep_model``.
    Under ``torchrun`` every rank calls this; the ranks train one data-parallel
    run (:mod:`tricks_lab.distributed`) and only rank 0 writes the cache.
    """
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a Recipe, got {type(recipe).__name__}")
    check_positive_int("seed", seed, allow_zero=True)
    profile = resolve_profile(profile)
    folder = cache_root() / "runs" / run_key(recipe, profile, seed)
    if cache and distributed.agree((folder / "result.json").is_file()):  # rank 0 decides for all
        return _load_run(folder, recipe, profile, keep_model)
    started = time.perf_counter()
    teacher = None
    if recipe.teacher is not None:
        teacher = run(recipe.teacher, profile, TEACHER_SEED, cache=cache, progress=progress).model
    train_loader, test_loader = make_loaders(recipe, profile, seed)
    torch.manual_seed(seed)
    model = make_model(recipe, profile)
    optimizer = make_optimizer(recipe, profile, model)
    scheduler = make_scheduler(recipe, profile, optimizer, len(train_loader))
    precision = resolve_precision("auto", train_loader.device)
    history = fit(
        model, train_loader, epochs=scaled_epochs(recipe, profile), optimizer=optimizer,
        scheduler=scheduler, loss_fn=make_loss(recipe), test_loader=test_loader, teacher=teacher,
        precision=precision, tta=recipe.tta, eval_every=max(1, scaled_epochs(recipe, profile) // 4),
        progress=default_progress() if progress is None else progress,
        description=f"seed {seed}",
    )
    result = Result(
        recipe=recipe, profile=profile.name, seed=seed, test_acc=history.test_acc[-1],
        history=history, train_seconds=history.seconds[-1],
        wall_seconds=time.perf_counter() - started, data_source=profile_data(profile).source,
        device=_device_name(train_loader.device, distributed.world_size()), precision=precision, model=model,
    )
    if cache and distributed.is_main_process():  # only rank 0 writes
        buffer = io.BytesIO()
        torch.save(model.state_dict(), buffer)
        atomic_write_bytes(folder / "model.pt", buffer.getvalue())
        atomic_write_json(folder / "result.json", result.to_dict())
    distributed.barrier()  # the cache entry exists before any rank asks for it again
    if not keep_model:
        result.model = None
    return result


def _load_run(folder: Path, recipe: Recipe, profile: Profile, keep_model: bool) -> Result:
    result = Result.from_dict(json.loads((folder / "result.json").read_text()), cached=True)
    if keep_model:
        model = make_model(recipe, profile)
        state = torch.load(folder / "model.pt", map_location=profile.device, weights_only=True)
        model.load_state_dict(state)
        result.model = model.to(profile.device)
    return result


def _device_name(device: torch.device, world: int = 1) -> str:
    if world > 1:
        return f"{world} x {_device_name(device)}"
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform

    return f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"


@dataclass(frozen=True)
class Row:
    """One recipe's line in a comparison."""

    name: str
    accuracy: Summary
    difference: Difference | None
    train_seconds: float


@dataclass(repr=False)
class Comparison:
    """Results of several recipes over the same seeds; the first recipe is the baseline."""

    profile: str
    seeds: tuple[int, ...]
    results: dict[str, list[Result]]

    @property
    def recipes(self) -> dict[str, Recipe]:
        return {name: runs[0].recipe for name, runs in self.results.items()}

    def rows(self) -> list[Row]:
        """Mean and std of test accuracy per recipe; Welch interval of the difference to the first."""
        names = list(self.results)
        base = [r.test_acc for r in self.results[names[0]]]
        rows = []
        for name in names:
            accs = [r.test_acc for r in self.results[name]]
            diff = None if name == names[0] else welch_interval(accs, base)
            seconds = summarize([r.train_seconds for r in self.results[name]]).mean
            rows.append(Row(name, summarize(accs), diff, seconds))
        return rows

    def table(self) -> list[dict[str, str]]:
        """The rows formatted as percentages, for printing or display."""
        return [_format_row(row) for row in self.rows()]

    def __str__(self) -> str:
        lines = self.table()
        headers = list(lines[0])
        widths = [max(len(h), *(len(line[h]) for line in lines)) for h in headers]
        out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
        out += ["  ".join(line[h].ljust(w) for h, w in zip(headers, widths)) for line in lines]
        out.append(f"profile {self.profile}, seeds {list(self.seeds)}; "
                   "diff = recipe - baseline with Welch's 95% interval")
        return "\n".join(out)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        lines = self.table()
        head = "".join(f"<th>{html.escape(h)}</th>" for h in lines[0])
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in line.values()) + "</tr>" for line in lines
        )
        caption = (f"Test accuracy, profile <code>{html.escape(self.profile)}</code>, seeds "
                   f"{list(self.seeds)}; diff = recipe &minus; baseline with Welch's 95% interval")
        return f"<table><caption>{caption}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _format_row(row: Row) -> dict[str, str]:
    def pct(x: float) -> str:
        return f"{100 * x:.2f}"

    std = "n/a" if np.isnan(row.accuracy.std) else pct(row.accuracy.std)
    if row.difference is None:
        diff, interval, verdict = "baseline", "", ""
    else:
        d = row.difference
        diff = f"{100 * d.estimate:+.2f}"
        interval = "n/a (1 seed)" if np.isnan(d.low) else f"[{100 * d.low:+.2f}, {100 * d.high:+.2f}]"
        verdict = "" if np.isnan(d.low) else ("beyond seed noise" if d.significant else "within seed noise")
    return {
        "recipe": row.name, "seeds": str(row.accuracy.n), "acc %": pct(row.accuracy.mean),
        "std %": std, "diff %": diff, "95% interval": interval, "verdict": verdict,
        "train s": f"{row.train_seconds:.1f}",
    }


def compare(
    recipes: Mapping[str, Recipe],
    seeds: Sequence[int] = (0, 1, 2),
    profile: str | Profile = "auto",
    *,
    cache: bool = True,
    progress: bool | None = None,
    keep_models: bool = False,
) -> Comparison:
    """Run every recipe with every seed (cached runs reused) and return a :class:`Comparison`."""
    if not recipes:
        raise ValueError("recipes must name at least one recipe (the first is the baseline)")
    if len(seeds) == 0 or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and non-empty, got {list(seeds)}")
    profile = resolve_profile(profile)
    results = {
        name: [run(recipe, profile, seed, cache=cache, progress=progress, keep_model=keep_models)
               for seed in seeds]
        for name, recipe in recipes.items()
    }
    return Comparison(profile.name, tuple(seeds), results)
