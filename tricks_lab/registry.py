"""Every chapter's experiment, declared once, as data.

An :class:`Experiment` answers one chapter's question with one or more
:class:`Part` s: a set of named arms (recipes; the first is the reference),
trained at one budget over the book's seeds. The notebooks read this module
(the live cell runs a profile-sized subset, :meth:`Part.live_arms`; the
result cell loads the stored record), ``python -m tricks_lab reproduce``
runs it, and the chapter prints the command from it, so no arm is written
twice.

Kinds of part, in the order the campaign runs them (:data:`KINDS`):

- ``"main"``: the chapter's central comparison at the recipe's budget, at
  :data:`BOOK_SEEDS` seeds;
- ``"longer"``: the same question at :data:`LONGER_BUDGET` times the epochs,
  for the tricks whose claim is about training length;
- ``"grid"``: a map of a hyperparameter (e.g. warmup across learning rates),
  at :data:`GRID_SEEDS` seeds, read as a picture, not a verdict;
- ``"sweep"``: a hyperparameter chosen on the validation split (never the
  test set) from :data:`GRID_SEEDS` seeds; the chosen arm then runs at the
  full :data:`BOOK_SEEDS` and its test accuracy is what the chapter reports.

Seed counts. Chapter 00 measures the seed spread of the baseline and of
paired differences and derives the minimum detectable effect
(:func:`tricks_lab.stats.power_report`); :data:`BOOK_SEEDS` is what the CPU
budget of the ``lab`` campaign affords (about 560 baseline-length runs for
chapters 00-12: about 14 hours on 2 cores, two runs in parallel at the
measured 85-100 s per baseline run), never fewer than 5.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from ._validation import check_choice, check_positive
from .recipe import BASELINE, Recipe

__all__ = [
    "BASELINE_SEEDS", "BOOK_SEEDS", "EXPERIMENTS", "Experiment", "GRID_SEEDS", "KINDS", "LIVE_SEEDS",
    "GPU_PROFILES", "GPU_SEEDS", "LONGER_BUDGET", "Part", "all_parts", "experiment_for", "kinds_for", "live_arms",
    "live_runs", "scaled_budget",
]

BOOK_SEEDS = 5
"""Seeds of every main and longer arm (and of a sweep's chosen arm)."""

BASELINE_SEEDS = 10
"""Seeds of chapter 00's baseline: its spread, and the power analysis, need more than five."""

GRID_SEEDS = 3
"""Seeds of each point of a grid or sweep."""

LIVE_SEEDS = 2
"""Seeds of a notebook's live check (any profile)."""

GPU_SEEDS = 2
"""Seeds of every arm under the GPU profiles, whose campaign runs the main parts only (see :func:`kinds_for`)."""

LONGER_BUDGET = 3.0
"""The longer budget: this many times the recipe's epochs."""

KINDS = ("main", "longer", "grid", "sweep")

GPU_PROFILES = ("short", "full")


def kinds_for(profile: str) -> tuple[str, ...]:
    """The parts a profile's campaign runs: all of them on ``lab`` (CPU hours), the main ones on a GPU.

    ``make results PROFILE=short`` must fit a lent GPU's minutes: estimated
    from FLOPs, the fast net trains about 0.9 GFLOP per image (forward 0.30
    GFLOP, backward twice that), 16 epochs of 45,000 images are 650 TFLOP a
    run, about 6-8 s on one H100 at a realistic 100-120 TFLOP/s in bf16 for
    such small convolutions (airbench94's 3.3 s for 10 epochs of a similar
    net on an A100, scaled, agrees). The main parts at :data:`GPU_SEEDS`
    seeds, without chapter 12's remove-one part (``on_gpu=False``), are 66
    runs worth 74 baseline runs (the teachers train longer or wider;
    ``reproduce all --profile short --dry-run`` counts them): 7.5-10 minutes
    at 6-8 s a unit, so the 9-minute aim holds only at the faster end (an
    unmeasured estimate: no GPU has been lent to this project yet). Grids, sweeps, the longer budget and the remove-one
    rows stay with ``lab``.
    """
    return ("main",) if profile in GPU_PROFILES else KINDS


def scaled_budget(recipe: Recipe, budget: float) -> Recipe:
    """``recipe`` trained ``budget`` times as long (its teacher too); warmup length and milestones
    (fractions of training) are unchanged."""
    check_positive("budget", budget)
    if budget == 1.0:
        return recipe
    teacher = None if recipe.teacher is None else scaled_budget(recipe.teacher, budget)
    return recipe.replace(epochs=max(1, round(recipe.epochs * budget)), teacher=teacher)


@dataclass(frozen=True)
class Part:
    """One comparison: named arms (the first is the reference) at ``budget`` times the recipe's epochs.

    ``live``: the arms a notebook runs live (default: the reference and the
    next arm). ``paired``: whether seeds pair the arms (same data order,
    crops and flips; same initial weights when the models match).
    ``on_gpu``: whether the GPU profiles' campaign runs it (see :func:`kinds_for`).
    """

    name: str
    kind: str
    arms: tuple[tuple[str, Recipe], ...]
    budget: float = 1.0
    live: tuple[str, ...] = ()
    paired: bool = True
    on_gpu: bool = True

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, KINDS)
        check_positive("budget", self.budget)
        names = [name for name, _ in self.arms]
        if len(names) < 1 or len(set(names)) != len(names):
            raise ValueError(f"part {self.name!r}: arm names must be distinct and non-empty, got {names}")
        unknown = sorted(set(self.live) - set(names))
        if unknown:
            raise ValueError(f"part {self.name!r}: live arms {unknown} are not among its arms {names}")

    @property
    def reference(self) -> str:
        return self.arms[0][0]

    @property
    def recipes(self) -> dict[str, Recipe]:
        """Arm name -> the recipe as trained (the budget applied)."""
        return {name: scaled_budget(recipe, self.budget) for name, recipe in self.arms}

    def seeds_for(self, profile: str) -> tuple[int, ...]:
        """The seeds under ``profile``: :attr:`seeds` on the CPU, :data:`GPU_SEEDS` on a GPU profile."""
        return tuple(range(GPU_SEEDS)) if profile in GPU_PROFILES else self.seeds

    @property
    def seeds(self) -> tuple[int, ...]:
        """The seeds every arm runs with (a sweep's chosen arm adds the rest of :data:`BOOK_SEEDS`)."""
        if self.kind in ("grid", "sweep"):
            return tuple(range(GRID_SEEDS))
        if len(self.arms) == 1:
            return tuple(range(BASELINE_SEEDS))
        return tuple(range(BOOK_SEEDS))

    def live_arms(self) -> dict[str, Recipe]:
        """The arms a notebook runs live: ``live``, else the reference and the next arm."""
        names = self.live or tuple(name for name, _ in self.arms[:2])
        recipes = self.recipes
        return {name: recipes[name] for name in names}


@dataclass(frozen=True)
class Experiment:
    """A chapter's experiment: its question and its parts, stored as ``<profile>/<name>.json``."""

    name: str
    chapters: tuple[str, ...]
    question: str
    parts: tuple[Part, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        names = [p.name for p in self.parts]
        if len(set(names)) != len(names):
            raise ValueError(f"experiment {self.name!r}: part names must be distinct, got {names}")

    def part(self, name: str) -> Part:
        for part in self.parts:
            if part.name == name:
                return part
        raise KeyError(f"experiment {self.name!r} has no part {name!r}; parts: {[p.name for p in self.parts]}")

    def command(self, profile: str = "lab") -> str:
        """The command that fills this experiment's record."""
        return f"python -m tricks_lab reproduce {self.name} --profile {profile}"


_DISPLAY_NAMES = {
    "twice_the_lr": "2x lr", "twice_the_lr_with_warmup": "2x lr + warmup",
    "twice_the_lr_with_constant_warmup": "2x lr + constant warmup", "smoothing_0_1": "smoothing 0.1",
    "student_alone": "student alone", "from_a_wider_teacher": "from a 2x wider teacher",
    "born_again": "born-again (same-size teacher)", "cutout_16": "cutout 16", "random_erasing": "random erasing",
    "random_erasing_p_1": "random erasing p=1", "warmup_and_cosine": "warmup + cosine",
    "AutoAugment_and_Cutout": "AutoAugment + Cutout",
}


def _arms(**recipes: Recipe) -> tuple[tuple[str, Recipe], ...]:
    """Named arms in order; identifiers are shown with their display names."""
    return tuple((_DISPLAY_NAMES.get(name, name), recipe) for name, recipe in recipes.items())


# -- the recipes the chapters share ------------------------------------------------------------

HE_LR = BASELINE.lr
"""He et al. (2016)'s CIFAR lr, 0.1 per 128 images, at the baseline's batch of 512 (0.4)."""

WARMUP_EPOCHS = 2.0
CUTOUT = BASELINE.replace(occlusion="cutout", cutout_length=16)
ERASING = BASELINE.replace(occlusion="random_erasing", erasing_p=0.5)
MIXUP = BASELINE.replace(mixing="mixup", mixing_concentration=1.0)
CUTMIX = BASELINE.replace(mixing="cutmix", mixing_concentration=1.0)
RICAP = BASELINE.replace(mixing="ricap", mixing_concentration=0.3)
BORN_AGAIN_TEACHER = BASELINE.replace(epochs=2 * BASELINE.epochs)
WIDE_TEACHER = BASELINE.replace(epochs=2 * BASELINE.epochs, width_multiplier=2.0)
ADAPTIVE = dict(lr=1e-3, lr_reference_batch=128)  # Adam's lr for batch 128 (Luo et al., 2019), scaled linearly
WARMUP_COSINE = BASELINE.replace(schedule="cosine", warmup_epochs=WARMUP_EPOCHS)


def _scaling_arms(batches: tuple[int, ...], reference: int = 512) -> tuple[tuple[str, Recipe], ...]:
    arms = [(f"B={reference} baseline", BASELINE)]
    for b in batches:
        if b == reference:
            continue
        arms.append((f"B={b} fixed lr", BASELINE.replace(batch_size=b)))
        arms.append((f"B={b} scaled lr", BASELINE.replace(batch_size=b, lr_reference_batch=reference)))
        if b > reference:
            arms.append((f"B={b} scaled lr + warmup", BASELINE.replace(
                batch_size=b, lr_reference_batch=reference, warmup_epochs=WARMUP_EPOCHS)))
    return tuple(arms)


def _warmup_grid() -> tuple[tuple[str, Recipe], ...]:
    arms = []
    for factor in (1, 2, 4, 8):
        lr = factor * HE_LR
        arms.append((f"{factor}x lr", BASELINE.replace(lr=lr)))
        arms.append((f"{factor}x lr + warmup", BASELINE.replace(lr=lr, warmup_epochs=WARMUP_EPOCHS)))
    return tuple(arms)


def _stack() -> tuple[tuple[tuple[str, Recipe], ...], tuple[tuple[str, Recipe], ...]]:
    """The Bag of Tricks stack: add one trick at a time, then remove one at a time from the full stack."""
    steps = [
        ("warmup + cosine", dict(schedule="cosine", warmup_epochs=WARMUP_EPOCHS)),
        ("no bias decay", dict(no_bias_decay=True)),
        ("residual net + zero-gamma", dict(model="fastnet_residual", zero_init_residual=True)),
        ("label smoothing", dict(label_smoothing=0.1)),
        ("mixup", dict(mixing="mixup", mixing_concentration=0.2)),
        ("distillation", dict(teacher=WIDE_TEACHER)),
    ]
    added, changes = [("baseline", BASELINE)], {}
    for name, change in steps:
        changes.update(change)
        added.append((f"+ {name}", BASELINE.replace(**changes)))
    full = added[-1][1]
    removed = [("full stack", full)]
    defaults = {key: getattr(BASELINE, key) for key in changes}
    for name, change in steps:
        kept = {k: v for k, v in changes.items() if k not in change}
        removed.append((f"- {name}", BASELINE.replace(**{**defaults, **kept})))
    return tuple(added), tuple(removed)


_ADDED, _REMOVED = _stack()

RESIDUAL_NET = BASELINE.replace(model="fastnet_residual")
"""The baseline recipe on the residual fast net: the net zero-γ can act on."""


def _refinements() -> tuple[tuple[str, Recipe], ...]:
    """He et al. (2019)'s refinements one at a time, each against the residual fast net alone.

    The stack measures each trick in the company of the ones above it; these
    arms change one field of :data:`RESIDUAL_NET` each, so each difference is
    that refinement's own. The plain fast net (the book's baseline, whose runs
    are shared) says what the residual blocks themselves change.
    """
    return (
        ("residual net", RESIDUAL_NET),
        ("plain fast net", BASELINE),
        ("+ zero-gamma", RESIDUAL_NET.replace(zero_init_residual=True)),
        ("+ no bias decay", RESIDUAL_NET.replace(no_bias_decay=True)),
        ("heavy-ball momentum", RESIDUAL_NET.replace(nesterov=False)),
        ("+ colour jitter + PCA lighting", RESIDUAL_NET.replace(color_jitter=0.4, pca_lighting=0.1)),
    )

EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment("00_baseline", ("00_baseline",), "How much do seeds alone move the baseline's accuracy?",
               (Part("main", "main", (("baseline", BASELINE),)),)),
    Experiment("01_warmup", ("01_warmup",), "From which learning rate on does warmup matter?", (
        Part("main", "main", _arms(baseline=BASELINE, twice_the_lr=BASELINE.replace(lr=2 * HE_LR),
                                   twice_the_lr_with_warmup=BASELINE.replace(lr=2 * HE_LR,
                                                                             warmup_epochs=WARMUP_EPOCHS),
                                   twice_the_lr_with_constant_warmup=BASELINE.replace(
                                       lr=2 * HE_LR, warmup_epochs=WARMUP_EPOCHS, warmup_mode="constant",
                                       warmup_start_factor=0.1))),
        Part("lr_grid", "grid", _warmup_grid()),
    )),
    Experiment("02_linear_scaling", ("02_linear_scaling",),
               "Does scaling the lr with the batch keep accuracy as the batch grows?", (
        Part("main", "main", (("B=512 baseline", BASELINE),
                              ("B=2048 fixed lr", BASELINE.replace(batch_size=2048)),
                              ("B=2048 scaled lr", BASELINE.replace(batch_size=2048, lr_reference_batch=512)),
                              ("B=2048 scaled lr + warmup", BASELINE.replace(
                                  batch_size=2048, lr_reference_batch=512, warmup_epochs=WARMUP_EPOCHS)))),
        Part("batch_grid", "grid", _scaling_arms((128, 256, 1024, 4096))),
    )),
    Experiment("03_label_smoothing", ("03_label_smoothing",),
               "Does label smoothing raise accuracy, and what does it do to calibration?", (
        Part("main", "main", _arms(baseline=BASELINE, smoothing_0_1=BASELINE.replace(label_smoothing=0.1))),
        Part("longer", "longer", _arms(baseline=BASELINE, smoothing_0_1=BASELINE.replace(label_smoothing=0.1)),
             budget=LONGER_BUDGET),
        Part("epsilon", "sweep", _arms(baseline=BASELINE, **{
            f"smoothing {eps:g}": BASELINE.replace(label_smoothing=eps) for eps in (0.05, 0.1, 0.2)})),
    )),
    Experiment("mixing", ("04_ricap", "09_mixup"),
               "Do RICAP, mixup and CutMix help at a short budget, and does a longer one change that?", (
        Part("main", "main", _arms(baseline=BASELINE, RICAP=RICAP, mixup=MIXUP, CutMix=CUTMIX)),
        Part("longer", "longer", _arms(baseline=BASELINE, RICAP=RICAP, mixup=MIXUP, CutMix=CUTMIX),
             budget=LONGER_BUDGET),
        Part("mixup_alpha", "sweep", _arms(baseline=BASELINE, **{
            f"mixup alpha {a:g}": MIXUP.replace(mixing_concentration=a) for a in (0.2, 0.4, 1.0)})),
    )),
    Experiment("05_distillation", ("05_distillation",),
               "Does a student learn more from a teacher than from the labels alone?", (
        Part("main", "main", _arms(student_alone=BASELINE,
                                   from_a_wider_teacher=BASELINE.replace(teacher=WIDE_TEACHER),
                                   born_again=BASELINE.replace(teacher=BORN_AGAIN_TEACHER)),
             live=("student alone", "born-again (same-size teacher)")),  # the wide teacher alone is 8 baseline runs
        Part("temperature", "grid", _arms(student_alone=BASELINE, **{
            f"T={t:g}, alpha={a:g}": BASELINE.replace(teacher=WIDE_TEACHER, distill_temperature=t,
                                                      distill_alpha=a)
            for t, a in ((1.0, 0.5), (4.0, 0.5), (16.0, 0.5), (4.0, 0.9))})),
    )),
    Experiment("06_cutout", ("06_cutout",), "Does Cutout help, at which length, and at which budget?", (
        Part("main", "main", _arms(baseline=BASELINE, cutout_16=CUTOUT)),
        Part("longer", "longer", _arms(baseline=BASELINE, cutout_16=CUTOUT), budget=LONGER_BUDGET),
        Part("length", "sweep", _arms(baseline=BASELINE, **{
            f"cutout {n}": BASELINE.replace(occlusion="cutout", cutout_length=n) for n in (8, 16, 24)})),
    )),
    Experiment("07_random_erasing", ("07_random_erasing",),
               "Does Random Erasing help, and is it more than Cutout?", (
        Part("main", "main", _arms(baseline=BASELINE, cutout_16=CUTOUT, random_erasing=ERASING,
                                   random_erasing_p_1=ERASING.replace(erasing_p=1.0))),
        Part("longer", "longer", _arms(baseline=BASELINE, cutout_16=CUTOUT, random_erasing=ERASING),
             budget=LONGER_BUDGET),
    )),
    Experiment("08_cosine", ("08_cosine",), "Does the shape of the decay matter, at two budgets?", (
        Part("main", "main", _arms(step=BASELINE, cosine=BASELINE.replace(schedule="cosine"),
                                   linear=BASELINE.replace(schedule="linear"), warmup_and_cosine=WARMUP_COSINE)),
        Part("longer", "longer", _arms(step=BASELINE, cosine=BASELINE.replace(schedule="cosine"),
                                       linear=BASELINE.replace(schedule="linear"),
                                       warmup_and_cosine=WARMUP_COSINE), budget=LONGER_BUDGET),
    )),
    Experiment("10_adabound", ("10_adabound",), "Does AdaBound train as well as SGD, and better than Adam?", (
        Part("main", "main", _arms(SGD=BASELINE, Adam=BASELINE.replace(optimizer="adam", **ADAPTIVE),
                                   AdamW=BASELINE.replace(optimizer="adamw", **ADAPTIVE),
                                   AdaBound=BASELINE.replace(optimizer="adabound", final_lr=0.1, **ADAPTIVE),
                                   AMSBound=BASELINE.replace(optimizer="amsbound", final_lr=0.1, **ADAPTIVE))),
    )),
    Experiment("11_autoaugment", ("11_autoaugment",), "Do learned augmentation policies help on CIFAR-10?", (
        Part("main", "main", _arms(baseline=BASELINE, AutoAugment=BASELINE.replace(augment="autoaugment"),
                                   RandAugment=BASELINE.replace(augment="randaugment"),
                                   TrivialAugment=BASELINE.replace(augment="trivialaugment"),
                                   AutoAugment_and_Cutout=CUTOUT.replace(augment="autoaugment"))),
        Part("longer", "longer", _arms(baseline=BASELINE, AutoAugment=BASELINE.replace(augment="autoaugment"),
                                       AutoAugment_and_Cutout=CUTOUT.replace(augment="autoaugment")),
             budget=LONGER_BUDGET),
    )),
    Experiment("12_bag_of_tricks", ("12_bag_of_tricks",),
               "What does each refinement do alone, do the tricks stack, and which still matter together?", (
        Part("added", "main", _ADDED, live=(_ADDED[0][0], _ADDED[3][0])),
        Part("removed", "main", _REMOVED, on_gpu=False),
        Part("refinements", "main", _refinements()),
        Part("added_longer", "longer", _ADDED, budget=LONGER_BUDGET),
    )),
)
"""Every chapter's experiment, in the book's order."""


def experiment_for(name: str) -> Experiment:
    """The experiment called ``name``, or the one a chapter (e.g. ``"09_mixup"``) belongs to."""
    for experiment in EXPERIMENTS:
        if name == experiment.name or name in experiment.chapters:
            return experiment
    known = sorted({e.name for e in EXPERIMENTS} | {c for e in EXPERIMENTS for c in e.chapters})
    raise KeyError(f"no experiment or chapter called {name!r}; known: {known}")


CHAPTER_LIVE: dict[str, tuple[str, ...]] = {
    "04_ricap": ("baseline", "RICAP"), "09_mixup": ("baseline", "mixup"),
    "07_random_erasing": ("baseline", "random erasing"),
}
"""Chapters whose live arms are not their first part's reference and next arm: their own trick."""


def live_arms(chapter: str) -> dict[str, Recipe]:
    """The arms chapter ``chapter`` trains live, on :data:`LIVE_SEEDS` seeds: a check that the code runs.

    They are its experiment's first part's :meth:`Part.live_arms`, or
    :data:`CHAPTER_LIVE`'s choice for a chapter that shares the experiment.
    The evidence is the stored records; the live arms are what fits about
    ten minutes of a Colab T4 (see :mod:`tricks_lab.estimates`).
    """
    part = experiment_for(chapter).parts[0]
    if chapter not in CHAPTER_LIVE:
        return part.live_arms()
    recipes = part.recipes
    return {name: recipes[name] for name in CHAPTER_LIVE[chapter]}


def live_runs(chapter: str) -> list[tuple[str, Recipe, int]]:
    """``(label, recipe, seed)`` of every run chapter ``chapter``'s live cells train, teachers included.

    A student's teacher is trained once (seed
    :data:`~tricks_lab.experiments.TEACHER_SEED`, as :func:`tricks_lab.experiments.run`
    does), before the first student that needs it.
    """
    from .experiments import TEACHER_SEED

    runs: list[tuple[str, Recipe, int]] = []
    teachers: list[Recipe] = []
    for arm, recipe in live_arms(chapter).items():
        if recipe.teacher is not None and recipe.teacher not in teachers:
            teachers.append(recipe.teacher)
            runs.append((f"teacher of {arm}", recipe.teacher, TEACHER_SEED))
        runs += [(arm, recipe, seed) for seed in range(LIVE_SEEDS)]
    return runs


def all_parts() -> Iterator[tuple[Experiment, Part]]:
    """Every (experiment, part), in campaign order: all main parts first, then longer, grids, sweeps."""
    for kind in KINDS:
        for experiment in EXPERIMENTS:
            for part in experiment.parts:
                if part.kind == kind:
                    yield experiment, part
