"""A chapter's result section, drawn from its stored records: table, figure, numbers for the prose.

Each chapter's verdict comes from ``book/results/<profile>/<experiment>.json``
(written by ``python -m tricks_lab reproduce``), never from typed numbers:

- :func:`show_part` displays a part's table (mean +/- std per arm, the paired
  difference to the reference with its 95% interval and a verdict word) and
  the figure of the per-seed paired differences; when parts do not exist
  yet, the page says so once (:func:`missing_note`), with the command that
  makes them;
- :func:`glue_part` hands the numbers and a generated sentence per arm to
  myst-nb's ``glue``, so the prose cites them as ``{glue:md}`key``` and
  they change with the record (a missing record glues "not measured yet");
  :func:`glue_sweep` does the same for a sweep's choice (:func:`sweep_sentence`);
- :func:`summary_rows` gives the book's summary page one row per trick and
  budget.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .build import scaled_epochs
from .profiles import PROFILES
from .records import ExperimentRecord, MissingRecord, PartRecord, stored_experiment
from .registry import EXPERIMENTS, GPU_PROFILES, experiment_for, kinds_for
from .results import Comparison, verdict
from .stats import Difference, paired_interval

__all__ = [
    "CHAPTER_TITLES", "PowerSummary", "SummaryRow", "budget_change_markdown", "budget_change_summary", "budget_pairs", "difference_sentence", "gap_change",
    "gap_change_sentence", "glue_part", "glue_key", "glue_power", "glue_sweep",
    "load_part", "missing_note", "missing_parts", "step_differences", "step_markdown", "paired_difference_figure", "power_summary", "summary_figure", "summary_markdown",
    "show_part", "summary_rows", "sweep_sentence", "teacher_sentences",
]

NOT_MEASURED = "not measured yet"


def load_part(experiment: str, part: str, profile: str = "lab") -> PartRecord | None:
    """The stored part, or None when the record or the part is missing."""
    record = stored_experiment(experiment_for(experiment).name, profile)
    if isinstance(record, MissingRecord):
        return None
    return record.parts.get(part)


def glue_key(experiment: str, part: str, arm: str, field: str) -> str:
    """``"03_label_smoothing-main-smoothing-0-1-diff"``: a glue name made of word characters and dashes."""
    slug = re.sub(r"[^0-9A-Za-z]+", "-", f"{experiment}-{part}-{arm}").strip("-").lower()
    return f"{slug}-{field}"


def _points(x: float) -> str:
    return f"{100 * x:+.2f}"


def difference_sentence(comparison: Comparison, arm: str) -> str:
    """One sentence on ``arm`` against the reference, true whichever way the result came out."""
    row = next(r for r in comparison.rows() if r.name == arm)
    reference = comparison.baseline
    d: Difference | None = row.difference(bool(comparison.paired))
    if row.accuracy is None or d is None:
        return f"{arm} has no finished run to compare with {reference}."
    kind = "paired" if comparison.paired else "Welch"
    n = row.accuracy.n
    diverged = f" ({row.diverged} diverged seeds not counted)" if row.diverged else ""
    if math.isnan(d.low):
        return (f"{arm} against {reference}: {_points(d.estimate)} points from a single seed{diverged}, "
                "too few to tell from seed noise.")
    word = verdict(d)
    reading = {"better": "better than", "worse": "worse than",
               "no detectable effect": "not distinguishable from"}[word]
    return (f"{arm}: {_points(d.estimate)} points of test accuracy against {reference} "
            f"(95% {kind} interval [{_points(d.low)}, {_points(d.high)}] over {n} seeds{diverged}), "
            f"{reading} {reference} at this budget.")


def glue_part(experiment: str, part: str, profile: str = "lab", arms: list[str] | None = None) -> dict[str, str]:
    """Glue each arm's numbers (``acc``, ``diff``, ``interval``, ``verdict``, ``sentence``) for the prose.

    ``arms``: the arms to glue (default: the registry's, so the keys exist
    whether or not the record does). Returns the glued values.
    """
    from IPython.display import Markdown
    from myst_nb import glue

    stored = load_part(experiment, part, profile)
    registry_part = experiment_for(experiment).part(part)
    arms = arms or [name for name, _ in registry_part.arms]
    values: dict[str, str] = {}
    rows = {} if stored is None else {r.name: r for r in stored.comparison.rows()}
    for arm in arms:
        row = rows.get(arm)
        if row is None or row.accuracy is None:
            fields = dict.fromkeys(("acc", "diff", "interval", "verdict"), NOT_MEASURED)
            fields["sentence"] = f"{arm} against {registry_part.reference}: {NOT_MEASURED}."
        else:
            d = row.difference(bool(stored.comparison.paired))
            std = "" if math.isnan(row.accuracy.std) else f" ± {100 * row.accuracy.std:.2f}"
            fields = {
                "acc": f"{100 * row.accuracy.mean:.2f}{std} %",
                "diff": "reference" if d is None else f"{_points(d.estimate)} points",
                "interval": "" if d is None or math.isnan(d.low) else f"[{_points(d.low)}, {_points(d.high)}]",
                "verdict": verdict(d) or "reference",
                "sentence": ("the reference arm" if d is None else difference_sentence(stored.comparison, arm)),
            }
        for field, value in fields.items():
            key = glue_key(experiment, part, arm, field)
            glue(key, Markdown(value), display=False)
            values[key] = value
    if stored is not None and stored.chosen is not None:
        key = glue_key(experiment, part, "chosen", "arm")
        glue(key, Markdown(stored.chosen), display=False)
        values[key] = stored.chosen
    return values


def sweep_sentence(experiment: str, part: str, profile: str = "lab") -> str:
    """What a sweep chose on the validation split, and the chosen arm against the reference on every book seed.

    The seeds that chose the arm are among those it is then compared on, so
    the sentence says that the estimate leans its way (a winner's curse: the
    best of several noisy points is, on those seeds, partly luck), however
    small that lean may be when the choice is made on validation and the
    comparison on test.
    """
    registry_part = experiment_for(experiment).part(part)
    if registry_part.kind != "sweep":
        raise ValueError(f"{experiment}/{part} is a {registry_part.kind!r} part, not a sweep")
    stored = load_part(experiment, part, profile)
    if stored is None or stored.chosen is None:
        return f"the `{part}` sweep's choice: {NOT_MEASURED}."
    grid_seeds = len(registry_part.seeds)
    reference = registry_part.reference
    beaten = ""
    if stored.points is not None:
        val = {arm: _mean(stored.points.accuracies(arm, "val").values()) for arm in stored.points.results}
        if val[reference] >= val[stored.chosen]:
            beaten = f" (none of them beat {reference}'s own validation accuracy)"
    return (f"Of the {len(registry_part.arms) - 1} settings run on {grid_seeds} seeds, the validation split "
            f"chose {stored.chosen}{beaten}. On all {len(stored.comparison.seeds)} seeds, "
            f"{difference_sentence(stored.comparison, stored.chosen)} The {grid_seeds} seeds that chose it "
            f"are among these {len(stored.comparison.seeds)}, so the estimate leans its way.")


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else math.nan


def glue_sweep(experiment: str, part: str, profile: str = "lab") -> str:
    """Glue :func:`sweep_sentence` as ``<experiment>-<part>-chosen-sentence`` (it exists without a record too)."""
    from IPython.display import Markdown
    from myst_nb import glue

    sentence = sweep_sentence(experiment, part, profile)
    glue(glue_key(experiment, part, "chosen", "sentence"), Markdown(sentence), display=False)
    return sentence


def paired_difference_figure(comparison: Comparison, title: str | None = None) -> Any:
    """Each arm's per-seed paired difference to the reference (dots), with the mean and its 95% interval.

    The y axis is in percentage points of test accuracy; the dashed line is
    "no difference". Arms that diverged on a seed show fewer dots.
    """
    from matplotlib import pyplot as plt

    rows = [r for r in comparison.rows() if r.name != comparison.baseline]
    fig, ax = plt.subplots(figsize=(max(4.5, 1.3 * len(rows) + 2), 3.6))
    for i, row in enumerate(rows):
        diffs = comparison.paired_differences(row.name)
        ax.scatter([i] * len(diffs), [100 * v for v in diffs.values()], s=18, color="tab:blue", alpha=0.6,
                   zorder=3, label="one seed" if i == 0 else None)
        d = row.difference(bool(comparison.paired))
        if d is not None and not math.isnan(d.low):
            ax.errorbar(i + 0.18, 100 * d.estimate, yerr=[[100 * (d.estimate - d.low)], [100 * (d.high - d.estimate)]],
                        fmt="o", color="black", capsize=4, zorder=4, label="mean, 95% interval" if i == 0 else None)
    ax.axhline(0.0, color="gray", ls="--", lw=1)
    ax.set_xticks(range(len(rows)), [r.name for r in rows], rotation=20, ha="right")
    ax.set_ylabel(f"test accuracy - {comparison.baseline}\n(percentage points)")
    ax.set_title(title or f"Paired differences to {comparison.baseline}, profile {comparison.profile}", fontsize=10)
    if rows:
        ax.legend(fontsize=8, loc="best")
    return fig


_ANNOUNCED: set[tuple[str, str]] = set()
"""(experiment, profile) whose missing parts this kernel has announced: a page says it once."""


def missing_parts(experiment: str, profile: str = "lab") -> list[str]:
    """The parts of ``experiment`` that ``profile``'s campaign runs and its stored record lacks."""
    found = experiment_for(experiment)
    record = stored_experiment(found.name, profile)
    stored = {} if isinstance(record, MissingRecord) else record.parts
    return [p.name for p in found.parts if p.kind in kinds_for(profile)
            and (p.on_gpu or profile not in GPU_PROFILES) and p.name not in stored]


def missing_note(experiment: str, profile: str = "lab") -> str:
    """One admonition (HTML, as Jupyter and the book both render it) naming every missing part and its command."""
    parts = ", ".join(f"<code>{html.escape(p)}</code>" for p in missing_parts(experiment, profile))
    command = html.escape(experiment_for(experiment).command(profile))
    return (f'<div class="admonition note"><p class="admonition-title">Not measured yet</p>'
            f"<p>The stored <code>{profile}</code> record has no {parts} part yet, so those sections "
            f"stay empty and their sentences say &ldquo;{NOT_MEASURED}&rdquo;. "
            f"<code>{command}</code> makes them.</p></div>")


def teacher_sentences(experiment: str, stored: PartRecord, profile: str = "lab") -> list[str]:
    """One sentence per teacher of the part's distilled arms: its own test accuracy, or that it was not kept.

    Arms taught by the same teacher share a sentence. The accuracy is the
    teacher's single run (seed :data:`~tricks_lab.experiments.TEACHER_SEED`),
    so it carries no interval.
    """
    part = experiment_for(experiment).part(stored.name)
    taught: dict[Any, list[str]] = {}
    for arm in (stored.points or stored.comparison).results:
        teacher = part.recipes[arm].teacher
        if teacher is not None:
            taught.setdefault(teacher, []).append(arm)
    sentences = []
    for teacher, arms in taught.items():
        names = ", ".join(f"`{arm}`" for arm in arms)
        run = stored.teachers.get(arms[0])
        shape = f"{teacher.model}, width x{teacher.width_multiplier:g}, {scaled_epochs(teacher, PROFILES[profile])} epochs"
        if run is None:
            sentences.append(f"The teacher of {names} ({shape}) was not at hand when this record was written, "
                             "so its own accuracy is not shown.")
        else:
            val = "" if run.val_acc is None else f", validation {100 * run.val_acc:.2f}%"
            sentences.append(f"The teacher of {names} ({shape}, one run, seed {run.seed}): "
                             f"test {100 * run.test_acc:.2f}%{val}.")
    return sentences


def show_part(experiment: str, part: str, profile: str = "lab", *, figure: bool = True) -> PartRecord | None:
    """Display a stored part's table and paired-difference figure.

    A missing part displays nothing, except the first one of its experiment
    in this kernel, which displays :func:`missing_note` for them all.
    """
    from IPython.display import HTML, Markdown, display

    name = experiment_for(experiment).name
    record = stored_experiment(name, profile)
    stored = None if isinstance(record, MissingRecord) else record.parts.get(part)
    if stored is None:
        if (name, profile) not in _ANNOUNCED:
            _ANNOUNCED.add((name, profile))
            display(HTML(missing_note(name, profile)))
        return None
    assert isinstance(record, ExperimentRecord)
    display(stored.comparison)
    stale = [arm for arm in record.stale_arms if arm.startswith(f"{part}/")]
    notes = [f"Stored `{profile}` record, {record.provenance_line()}."]
    if stored.chosen is not None:
        notes.append(f"Chosen on the validation split: **{stored.chosen}**.")
    if stale:
        notes.append(f"Made by an older training path for {', '.join(stale)}: the code has changed since.")
    notes += teacher_sentences(name, stored, profile)
    display(Markdown(" ".join(notes)))
    if figure and len(stored.comparison.results) > 1:
        import matplotlib.pyplot as plt

        paired_difference_figure(stored.comparison)
        plt.show()
    return stored


def step_differences(comparison: Comparison, split: str = "test") -> list[tuple[str, str, Difference | None]]:
    """``(arm, previous arm, difference)`` for each arm after the first: what one more step of a stack did.

    The difference is ``arm - previous`` in accuracy on ``split``, paired by
    seed over the seeds both finished (None with fewer than two), so a stack
    that adds (or removes) one trick a row reads its steps, not only each
    row's distance to the reference.
    """
    arms = list(comparison.results)
    steps: list[tuple[str, str, Difference | None]] = []
    for previous, arm in zip(arms, arms[1:]):
        before, after = comparison.accuracies(previous, split), comparison.accuracies(arm, split)
        seeds = sorted(set(before) & set(after))
        d = paired_interval([after[s] for s in seeds], [before[s] for s in seeds]) if len(seeds) >= 2 else None
        steps.append((arm, previous, d))
    return steps


def step_markdown(experiment: str, part: str, profile: str = "lab") -> str:
    """A table of :func:`step_differences` for a stored part (a note when it is not stored yet)."""
    stored = load_part(experiment, part, profile)
    if stored is None:
        return f"*The `{part}` part is {NOT_MEASURED}.*"
    lines = ["| row | against the row before | step (points) | 95% paired interval | verdict |",
             "|---|---|---|---|---|"]
    for arm, previous, d in step_differences(stored.comparison):
        if d is None:
            lines.append(f"| {arm} | {previous} | n/a | n/a | too few seeds |")
        else:
            lines.append(f"| {arm} | {previous} | {_points(d.estimate)} | "
                         f"[{_points(d.low)}, {_points(d.high)}] | {verdict(d)} |")
    return "\n".join(lines)


def gap_change_sentence(main: Comparison | None, longer: Comparison | None, arm: str,
                        budget: float | None = None) -> str:
    """A sentence on how ``arm``'s paired gap to the reference moves from one budget to a longer one.

    ``main`` and ``longer`` are the same arms at the recipe's budget and at ``budget`` times its
    epochs (e.g. the stored parts ``main`` and ``longer``), ``None`` where not measured yet. Per
    seed run at both budgets the change is ``(arm - reference)`` at the longer budget minus
    ``(arm - reference)`` at the recipe's; the sentence gives its mean and 95% paired t interval,
    in test accuracy points, and reads the interval whichever way the runs came out.
    """
    later = "a longer budget" if budget is None else f"{budget:g}x the epochs"
    if main is None or longer is None:
        return f"{arm}: the change of its gap between the recipe's budget and {later} is not measured yet."
    for name, comparison in (("main", main), ("longer", longer)):
        if not isinstance(comparison, Comparison):
            raise TypeError(f"{name} must be a Comparison or None, got {type(comparison).__name__}")
        if arm not in comparison.results:
            raise ValueError(f"{name} has no arm {arm!r}; it has {sorted(comparison.results)}")
    d, seeds = gap_change(main, longer, arm)
    if d is None:
        return (f"{arm}: {len(seeds)} seed{'' if len(seeds) == 1 else 's'} ran at both budgets, "
                "too few for an interval on the change of its gap.")
    reading = {"toward": f"the longer budget moves the gap in {arm}'s favour",
               "against": f"the longer budget moves the gap against {arm}",
               "none": "the seeds cannot tell this change from no change"}[_direction(d)]
    return (f"{arm}: from the recipe's budget to {later}, its gap to {main.baseline} changes by "
            f"{100 * d.estimate:+.2f} points (95% paired interval [{100 * d.low:+.2f}, {100 * d.high:+.2f}] "
            f"over {len(seeds)} seeds); {reading}.")


def _direction(d: Difference) -> str:
    """``"toward"`` when the interval lies above zero, ``"against"`` below it, else ``"none"``."""
    return "toward" if d.low > 0 else "against" if d.high < 0 else "none"


def _chapter_links(experiment: str) -> str:
    """``{doc}`` links to every chapter of ``experiment``, for the summary tables."""
    return ", ".join(f"{{doc}}`{CHAPTER_TITLES.get(c, c)} <{c}>`" for c in experiment_for(experiment).chapters)


def gap_change(main: Comparison, longer: Comparison, arm: str) -> tuple[Difference | None, list[int]]:
    """The paired change of ``arm``'s gap to the reference from ``main`` to ``longer``, and the seeds it uses.

    Per seed run at both budgets: ``(arm - reference)`` in ``longer`` minus
    ``(arm - reference)`` in ``main``; the mean with its 95% paired t
    interval (None with fewer than two such seeds).
    """
    before, after = main.paired_differences(arm), longer.paired_differences(arm)
    seeds = sorted(set(before) & set(after))
    if len(seeds) < 2:
        return None, seeds
    return paired_interval([after[s] for s in seeds], [before[s] for s in seeds]), seeds


def budget_change_markdown(experiment: str, arms: list[str] | None = None, short: str = "main",
                           long: str = "longer", profile: str = "lab") -> str:
    """A Markdown list of :func:`gap_change_sentence` for ``arms`` (default: every arm after the reference).

    ``short`` and ``long`` are the stored parts with the same arms at the
    recipe's budget and at a longer one; a missing part makes every sentence
    say "not measured yet".
    """
    found = experiment_for(experiment)
    part = found.part(long)
    stored = [load_part(found.name, name, profile) for name in (short, long)]
    main, longer = (None if s is None else s.comparison for s in stored)
    names = [arm for arm, _ in part.arms[1:]] if arms is None else arms
    return "\n".join(f"- {gap_change_sentence(main, longer, arm, part.budget)}" for arm in names)


def budget_pairs(experiment: str) -> list[tuple[str, str]]:
    """``(short, long)`` part names: each longer part of ``experiment`` and the main part holding all its arms."""
    found = experiment_for(experiment)
    pairs = []
    for long in (p for p in found.parts if p.kind == "longer"):
        names = {arm for arm, _ in long.arms}
        short = next(p for p in found.parts if p.kind == "main" and names <= {arm for arm, _ in p.arms})
        pairs.append((short.name, long.name))
    return pairs


def budget_change_summary(profile: str = "lab") -> str:
    """The summary page's table of every longer budget: each arm's gap at both budgets and its paired change.

    The gaps are paired differences to the part's reference (points); the
    change is :func:`gap_change` with its 95% interval, and the last column
    reads it ("toward the trick", "against the trick", or "no detectable
    change"); rows of parts not stored yet say "not measured yet".
    """
    lines = ["| chapter | arm | against | gap at the recipe's budget | gap at the longer budget | change (points) "
             "| 95% interval | reading |", "|---|---|---|---|---|---|---|---|"]
    for experiment in EXPERIMENTS:
        links = _chapter_links(experiment.name)
        for short, long in budget_pairs(experiment.name):
            part = experiment.part(long)
            stored = [load_part(experiment.name, name, profile) for name in (short, long)]
            for arm, _ in part.arms[1:]:
                if stored[0] is None or stored[1] is None:
                    lines.append(f"| {links} | {arm} | {part.reference} | {NOT_MEASURED} | {NOT_MEASURED} | "
                                 f"{NOT_MEASURED} | | |")
                    continue
                main, longer = stored[0].comparison, stored[1].comparison
                gaps = [_mean_points(c.paired_differences(arm)) for c in (main, longer)]
                d, _ = gap_change(main, longer, arm)
                if d is None:
                    lines.append(f"| {links} | {arm} | {part.reference} | {gaps[0]} | {gaps[1]} | n/a | n/a | "
                                 "too few seeds |")
                    continue
                reading = {"toward": "toward the trick", "against": "against the trick",
                           "none": "no detectable change"}[_direction(d)]
                lines.append(f"| {links} | {arm} | {part.reference} | {gaps[0]} | {gaps[1]} | {_points(d.estimate)} "
                             f"| [{_points(d.low)}, {_points(d.high)}] | {reading} |")
    return "\n".join(lines)


def _mean_points(differences: dict[int, float]) -> str:
    values = list(differences.values())
    return _points(sum(values) / len(values)) if values else "n/a"


@dataclass(frozen=True)
class SummaryRow:
    """One line of the summary page: a trick's arm at a budget, against its reference."""

    chapter: str
    experiment: str
    part: str
    budget: float
    arm: str
    reference: str
    sentence: str
    estimate: float | None
    low: float | None
    high: float | None
    verdict: str


def summary_rows(profile: str = "lab") -> list[SummaryRow]:
    """Every main and longer arm of every stored experiment, and each sweep's chosen arm, against the reference.

    A sweep's row is its validation-chosen setting against the reference on
    all the book's seeds (the sweep's own points are a map, not a verdict).
    """
    rows: list[SummaryRow] = []
    for experiment in EXPERIMENTS:
        record = stored_experiment(experiment.name, profile)
        for part in experiment.parts:
            if part.kind == "grid":
                continue
            stored = None if isinstance(record, MissingRecord) else record.parts.get(part.name)
            if part.kind == "sweep":
                arms = [(stored.chosen, f"{stored.chosen} (chosen on validation)")] if stored and stored.chosen \
                    else [("", f"the `{part.name}` sweep's choice")]
            else:
                arms = [(arm, arm) for arm, _ in part.arms[1:]]
            rows += [_summary_row(experiment.name, part.name, part.budget, part.reference, stored, arm, label)
                     for arm, label in arms]
    return rows


def _summary_row(experiment: str, part: str, budget: float, reference: str, stored: PartRecord | None,
                 arm: str, label: str) -> SummaryRow:
    """The row of ``arm`` (shown as ``label``): its paired difference to ``reference``, or not measured yet."""
    where = dict(chapter=experiment_for(experiment).chapters[0], experiment=experiment, part=part, budget=budget,
                 arm=label, reference=reference)
    row = None if stored is None else next((r for r in stored.comparison.rows() if r.name == arm), None)
    d = None if row is None or stored is None else row.difference(bool(stored.comparison.paired))
    if stored is None or d is None or math.isnan(d.low):
        return SummaryRow(**where, sentence=NOT_MEASURED, estimate=None, low=None, high=None, verdict=NOT_MEASURED)
    return SummaryRow(**where, sentence=difference_sentence(stored.comparison, arm), estimate=d.estimate,
                      low=d.low, high=d.high, verdict=verdict(d))


CHAPTER_TITLES = {
    "00_baseline": "00 The baseline", "01_warmup": "01 Warmup", "02_linear_scaling": "02 Linear scaling",
    "03_label_smoothing": "03 Label smoothing", "04_ricap": "04 RICAP", "05_distillation": "05 Distillation",
    "06_cutout": "06 Cutout", "07_random_erasing": "07 Random Erasing", "08_cosine": "08 Cosine decay",
    "09_mixup": "09 mixup and CutMix", "10_adabound": "10 AdaBound", "11_autoaugment": "11 AutoAugment",
    "12_bag_of_tricks": "12 The bag of tricks",
}
"""Short chapter names for tables that link to the chapters."""


def summary_markdown(profile: str = "lab") -> str:
    """The summary page's table: one row per trick arm and budget, linked to its chapter with ``{doc}``.

    Rows without a record say "not measured yet". Render it with myst-nb's
    ``render_markdown_format: myst`` so the ``{doc}`` roles resolve.
    """
    lines = ["| chapter | arm | against | budget | effect (points) | 95% interval | verdict |",
             "|---|---|---|---|---|---|---|"]
    for row in summary_rows(profile):
        links = _chapter_links(row.experiment)
        budget = "recipe" if row.budget == 1.0 else f"{row.budget:g}x epochs"
        if row.estimate is None:
            effect = interval = NOT_MEASURED
        else:
            effect = _points(row.estimate)
            interval = f"[{_points(row.low)}, {_points(row.high)}]"
        lines.append(f"| {links} | {row.arm} | {row.reference} | {budget} | {effect} | {interval} | {row.verdict} |")
    return "\n".join(lines)


@dataclass(frozen=True)
class PowerSummary:
    """Chapter 00's power analysis, from the stored records (fractions of accuracy, not points)."""

    baseline_mean: float
    baseline_sd: float
    baseline_n: int
    difference_sd: float
    difference_source: str
    n: int
    mde: float
    seeds_for: dict[float, int]


def power_summary(profile: str = "lab", n: int | None = None,
                  effects: tuple[float, ...] = (0.003, 0.005, 0.01)) -> PowerSummary | None:
    """The minimum detectable effect at ``n`` seeds (default :data:`~tricks_lab.registry.BOOK_SEEDS`).

    The seed SD of a paired difference is pooled over the per-seed paired
    differences of every stored main part (each arm's differences centred on
    their own mean). Without any, ``sqrt(2)`` times the baseline's seed SD
    stands in: the SD of the difference of two independent runs, an upper
    bound as long as pairing does not make the arms' noise anti-correlated
    (the paired SD is ``sqrt(2 (1 - rho))`` times the baseline's). None when
    the baseline record is missing.
    """
    from .registry import BOOK_SEEDS
    from .stats import minimum_detectable_effect, seeds_needed, summarize

    n = BOOK_SEEDS if n is None else n
    base = load_part("00_baseline", "main", profile)
    if base is None:
        return None
    accs = list(base.comparison.accuracies(base.comparison.baseline).values())
    base_summary = summarize(accs)
    squares, dof, sources = 0.0, 0, []
    for experiment in EXPERIMENTS:
        if experiment.name == "00_baseline":
            continue
        for part in experiment.parts:
            if part.kind != "main":
                continue
            stored = load_part(experiment.name, part.name, profile)
            if stored is None or not stored.comparison.paired:
                continue
            used = False
            for arm, _ in part.arms[1:]:
                diffs = list(stored.comparison.paired_differences(arm).values())
                if len(diffs) < 2:
                    continue
                mean = sum(diffs) / len(diffs)
                squares += sum((d - mean) ** 2 for d in diffs)
                dof += len(diffs) - 1
                used = True
            if used:
                sources.append(f"{experiment.name}/{part.name}")
    if dof > 0:
        sd = math.sqrt(squares / dof)
        source = (f"pooled over the per-seed paired differences of {', '.join(sources)}, "
                  f"{dof} degrees of freedom")
    else:
        sd = math.sqrt(2.0) * base_summary.std
        source = ("an upper bound: no paired comparison is stored yet, so this is the SD of the difference "
                  "of two independent runs, the square root of 2 times the baseline's seed SD")
    return PowerSummary(base_summary.mean, base_summary.std, base_summary.n, sd, source, n,
                        minimum_detectable_effect(sd, n), {e: seeds_needed(e, sd) for e in effects})


def glue_power(profile: str = "lab", n: int | None = None) -> dict[str, str]:
    """Glue chapter 00's power analysis for the prose (keys ``power-*``; "not measured yet" without a record)."""
    from IPython.display import Markdown
    from myst_nb import glue

    from .registry import BOOK_SEEDS

    report = power_summary(profile, n)
    keys = ("baseline-acc", "baseline-n", "difference-sd", "difference-source", "mde", "seeds-0-3",
            "seeds-0-5", "seeds-1")
    if report is None:
        values = dict.fromkeys(keys, NOT_MEASURED)
    else:
        values = {
            "baseline-acc": f"{100 * report.baseline_mean:.2f} ± {100 * report.baseline_sd:.2f} %",
            "baseline-n": str(report.baseline_n),
            "difference-sd": f"{100 * report.difference_sd:.2f} points",
            "difference-source": report.difference_source,
            "mde": f"{100 * report.mde:.2f} points",
            **{f"seeds-{str(100 * e).rstrip('0').rstrip('.').replace('.', '-')}": str(k)
               for e, k in report.seeds_for.items()},
        }
    values["book-seeds"] = str(BOOK_SEEDS if n is None else n)
    out = {}
    for key, value in values.items():
        glue(f"power-{key}", Markdown(value), display=False)
        out[f"power-{key}"] = value
    return out


def summary_figure(profile: str = "lab") -> Any:
    """A forest plot of every measured summary row: the paired difference (points) and its 95% interval.

    Rows not measured yet are left out; with none measured the axes say so.
    """
    from matplotlib import pyplot as plt

    rows = [r for r in summary_rows(profile) if r.estimate is not None]
    fig, ax = plt.subplots(figsize=(7.5, max(2.0, 0.32 * len(rows) + 1.2)))
    for i, row in enumerate(rows):
        colour = {"better": "tab:green", "worse": "tab:red"}.get(row.verdict, "gray")
        ax.errorbar(100 * row.estimate, i, xerr=[[100 * (row.estimate - row.low)], [100 * (row.high - row.estimate)]],
                    fmt="o", color=colour, capsize=3)
    ax.set_yticks(range(len(rows)), [f"{r.chapter[:2]} {r.arm}{'' if r.budget == 1.0 else f' ({r.budget:g}x)'}"
                                     for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0.0, color="gray", ls="--", lw=1)
    ax.set_xlabel("test accuracy - reference arm (percentage points), 95% paired interval")
    if not rows:
        ax.text(0.5, 0.5, f"no `{profile}` record stored yet: not measured yet", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_yticks([])
    ax.set_title(f"Every trick against its chapter's reference, profile {profile}", fontsize=10)
    fig.tight_layout()
    return fig
