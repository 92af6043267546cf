"""Run recipes under a profile, cache the runs, and compare recipes over seeds.

:func:`run` trains one recipe for one seed and returns a
:class:`~tricks_lab.results.Result`. Runs are cached on disk under a content
address: the recipe, the profile, the seed, the data copy and the version of
the run's *training path*, the modules whose code decides what it computes
(:func:`training_modules`: data, loader, models, the trainer, recipe, build,
and the trick modules the recipe uses). Editing a figure, a widget, the
statistics, the records or an unused trick leaves a cached run valid;
editing its training path makes a new address, so a cached run never
outlives the code that produced it. A comparison that is interrupted resumes from the runs cached.

Seeds pair runs: with the same seed, two recipes start from the same initial
weights (the ``"init"`` stream) and see the same batches
(:mod:`tricks_lab.loader`), so :func:`compare` reports the paired difference
to the baseline.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import io
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import distributed
from ._validation import check_positive_int
from .build import (
    make_hooks,
    make_loss,
    make_lr_scheduler,
    make_model,
    make_optimizer,
    scaled_batch_size,
    scaled_epochs,
)
from .cache import atomic_write_bytes, atomic_write_json, cache_root
from .data import balanced_indices, load_cifar10
from .hardware import device_name
from .loader import GpuLoader, stream_seed
from .precision import resolve_precision
from .profiles import Profile, resolve_profile
from .recipe import Recipe
from .results import Comparison, Result
from .train import default_progress, fit

__all__ = [
    "CORE_TRAINING_PATH", "EVAL_BATCH_SIZE", "HOLDOUT_SEED", "TRICK_MODULES", "cached_result", "code_fingerprint", "ProfileData", "TEACHER_SEED", "TRAINING_PATH", "compare",
    "make_loaders", "profile_data", "run", "run_key", "training_code_version", "training_modules",
]

TEACHER_SEED = 0
"""A recipe's teacher is trained once, with this seed, and shared by all the student's seeds."""

HOLDOUT_SEED = 1
"""The validation split is the same class-balanced choice of training images in every run."""

EVAL_BATCH_SIZE = 1024

CORE_TRAINING_PATH: tuple[str, ...] = (
    "_validation", "build", "data", "distributed", "evaluation", "experiments", "hooks", "loader", "losses",
    "models", "optim", "precision", "profiles", "recipe", "schedules", "strategy", "train",
)
"""The modules every run executes."""

TRICK_MODULES: dict[str, Callable[[Recipe], bool]] = {
    "mixing": lambda recipe: recipe.mixing != "none",
    "occlusion": lambda recipe: recipe.occlusion != "none",
    "autoaugment": lambda recipe: recipe.augment != "none",
    "autoaugment_ops": lambda recipe: recipe.augment != "none",
    "color": lambda recipe: any(getattr(recipe, name, 0) for name in ("pca_lighting", "color_jitter")),
}
"""The modules a run executes only when its recipe uses their trick."""

TRAINING_PATH: tuple[str, ...] = CORE_TRAINING_PATH + tuple(TRICK_MODULES)
"""Every module of ``tricks_lab`` that some run executes (the rest never decides a run's numbers)."""


def training_modules(recipe: Recipe) -> tuple[str, ...]:
    """The modules on ``recipe``'s training path: the core, the trick modules it uses, its teacher's."""
    used = set(CORE_TRAINING_PATH)
    while recipe is not None:
        used.update(name for name, uses in TRICK_MODULES.items() if uses(recipe))
        recipe = recipe.teacher
    return tuple(sorted(used))


def training_code_version(modules: Sequence[str] = TRAINING_PATH) -> str:
    """A hash of the code of ``modules`` (default: the whole training path), 16 hex digits.

    What is hashed is each module's syntax tree without its docstrings
    (:func:`code_fingerprint`), so comments, docstrings and formatting can be
    edited without invalidating runs, while any change to what the code does
    makes a new version. A run's cache address uses the version of its own
    training path (:func:`training_modules`), so adding or editing a trick
    leaves the runs that do not use it valid.
    """
    return _version(tuple(sorted(modules)))


@functools.lru_cache(maxsize=64)
def _version(modules: tuple[str, ...]) -> str:
    package = Path(__file__).parent
    digest = hashlib.sha256()
    for name in modules:
        path = package / f"{name}.py"
        digest.update(name.encode())
        digest.update(_fingerprint_file(path).encode() if path.is_file() else b"<absent>")
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=64)
def _fingerprint_file(path: Path) -> str:
    return code_fingerprint(path.read_text())


def code_fingerprint(source: str) -> str:
    """The syntax tree of ``source`` without its string statements (docstrings), dumped as text.

    Comments never reach the tree; formatting does not change it.
    """
    tree = _StripStrings().visit(ast.parse(source))
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


class _StripStrings(ast.NodeTransformer):
    """Drops every statement that is a bare string (module, class, function and attribute docstrings)."""

    def visit_Expr(self, node: ast.Expr) -> ast.AST | None:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return None
        return node

    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        for name in ("body", "orelse", "finalbody"):
            if getattr(node, name, None) == [] and name == "body":
                setattr(node, name, [ast.Pass()])
        return node


@dataclass(frozen=True)
class ProfileData:
    """The images a profile trains, validates and tests on (uint8 ``(N, 32, 32, 3)``, int64 labels).

    ``val_*`` is the validation split held out of the training set (None when
    the profile holds none out).
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    val_images: np.ndarray | None
    val_labels: np.ndarray | None
    test_images: np.ndarray
    test_labels: np.ndarray
    classes: tuple[str, ...]
    source: str


@functools.lru_cache(maxsize=4)
def profile_data(profile: Profile) -> ProfileData:
    """CIFAR-10 cut to the profile: the validation split first, then class-balanced subsets.

    The validation split (``holdout_per_class`` images a class, seed
    :data:`HOLDOUT_SEED`) is taken from the whole training set; the training
    subset (``train_per_class``, seed 0) from what remains, so no validation
    image is ever trained on.
    """
    data = load_cifar10()
    train_images, train_labels = data.train_images, data.train_labels
    val_images = val_labels = None
    if profile.holdout_per_class is not None:
        held = balanced_indices(train_labels, profile.holdout_per_class, HOLDOUT_SEED)
        keep = np.setdiff1d(np.arange(len(train_labels)), held)
        val_images, val_labels = train_images[held], train_labels[held]
        train_images, train_labels = train_images[keep], train_labels[keep]
    if profile.train_per_class is not None:
        index = balanced_indices(train_labels, profile.train_per_class, 0)
        train_images, train_labels = train_images[index], train_labels[index]
    test_images, test_labels = data.test_images, data.test_labels
    if profile.test_per_class is not None:
        index = balanced_indices(test_labels, profile.test_per_class, 0)
        test_images, test_labels = test_images[index], test_labels[index]
    return ProfileData(train_images, train_labels, val_images, val_labels, test_images, test_labels,
                       data.classes, data.source)


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
    test = GpuLoader(data.test_images, data.test_labels, EVAL_BATCH_SIZE, train=False, device=profile.device)
    return train, test


def _validation_loader(profile: Profile) -> GpuLoader | None:
    data = profile_data(profile)
    if data.val_images is None:
        return None
    return GpuLoader(data.val_images, data.val_labels, EVAL_BATCH_SIZE, train=False, device=profile.device)


def run_key(recipe: Recipe, profile: Profile, seed: int) -> str:
    """The content address of a run: recipe, profile, seed, data copy, training-path version."""
    payload = {
        "recipe": recipe.to_dict(), "profile": profile.to_dict(), "seed": seed,
        "data": profile_data(profile).source, "code": training_code_version(training_modules(recipe)),
    }
    if distributed.world_size() > 1:  # a data-parallel run is its own run
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
    """Train ``recipe`` under ``profile`` with ``seed`` (initial weights, data order, augmentation).

    With ``cache``, a run already computed with the same recipe, profile,
    seed, data and training code is loaded instead (``Result.cached`` says
    so); the trained model comes back in ``Result.model`` when ``keep_model``.
    Under ``torchrun`` every rank calls this; the ranks train one data-parallel
    run (:mod:`tricks_lab.distributed`) and only rank 0 writes the cache.
    A run whose loss turns non-finite stops and is returned (and cached) as
    diverged, with NaN accuracies.
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
    torch.manual_seed(stream_seed(seed, "init"))
    model = make_model(recipe, profile)
    optimizer = make_optimizer(recipe, profile, model)
    scheduler = make_lr_scheduler(recipe, profile, optimizer, len(train_loader))
    precision = resolve_precision("auto", train_loader.device)
    strategy = distributed.default_strategy()
    epochs = scaled_epochs(recipe, profile)
    history = fit(
        model, train_loader, epochs=epochs, optimizer=optimizer, scheduler=scheduler,
        loss_fn=make_loss(recipe, model, teacher), test_loader=test_loader, strategy=strategy,
        precision=precision, tta=recipe.tta, eval_every=max(1, epochs // profile.evaluations),
        progress=default_progress() if progress is None else progress, description=f"seed {seed}",
    )
    val_loader = _validation_loader(profile)
    val_acc = None
    if val_loader is not None:
        val_acc = float("nan") if history.diverged else strategy.evaluate(
            model, val_loader, tta=recipe.tta, precision=precision, device=train_loader.device)
    result = Result(
        recipe=recipe, profile=profile.name, seed=seed, test_acc=history.test_acc[-1],
        history=history, train_seconds=history.seconds[-1],
        wall_seconds=time.perf_counter() - started, data_source=profile_data(profile).source,
        device=device_name(train_loader.device, distributed.world_size()), precision=precision,
        val_acc=val_acc, model=model,
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


def cached_result(recipe: Recipe, profile: str | Profile, seed: int) -> Result | None:
    """The cached run of ``recipe`` under ``profile`` with ``seed`` (without its model), or None."""
    profile = resolve_profile(profile)
    path = cache_root() / "runs" / run_key(recipe, profile, seed) / "result.json"
    if not path.is_file():
        return None
    return Result.from_dict(json.loads(path.read_text()), cached=True)


def _load_run(folder: Path, recipe: Recipe, profile: Profile, keep_model: bool) -> Result:
    result = Result.from_dict(json.loads((folder / "result.json").read_text()), cached=True)
    if keep_model:
        model = make_model(recipe, profile)
        state = torch.load(folder / "model.pt", map_location=profile.device, weights_only=True)
        model.load_state_dict(state)
        result.model = model.to(profile.device)
    return result


def compare(
    recipes: Mapping[str, Recipe],
    seeds: Sequence[int] = (0, 1, 2),
    profile: str | Profile = "auto",
    *,
    cache: bool = True,
    progress: bool | None = None,
    keep_models: bool = False,
) -> Comparison:
    """Run every recipe with every seed (cached runs reused) and return a paired :class:`Comparison`."""
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
