"""What runs produce, as plain data: a run's :class:`History`, a :class:`Result`, a :class:`Comparison`.

Nothing here trains: plotting, records and the widgets import these types
without pulling in the trainer. A comparison's table gives, per recipe, the
mean and standard deviation of test accuracy over seeds and the difference to
the first recipe (the baseline) with its 95% interval: the paired t interval
when the recipes ran on the same seeds (same initial weights, same batches:
see :mod:`tricks_lab.loader`), Welch's interval otherwise
(:mod:`tricks_lab.stats`).

A run whose loss became non-finite stopped there (``History.diverged_step``);
its accuracy is NaN, and tables count such seeds apart instead of averaging
them in as a chance-level accuracy.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .recipe import Recipe
from .stats import Difference, Summary, paired_interval, summarize, welch_interval

if TYPE_CHECKING:
    from torch import nn

__all__ = ["Comparison", "History", "Result", "Row", "verdict"]


@dataclass
class History:
    """What a run did, per epoch and per iteration.

    Per epoch: ``train_loss`` (mean over the epoch's batches), ``train_acc``
    (argmax of logits against argmax of the targets), ``test_acc`` (NaN when not
    evaluated), ``lr`` (at the epoch's last step), ``seconds`` (cumulative
    training time, evaluation excluded). Per iteration: ``step_loss`` and
    ``step_lr``. ``diverged_step``: the first step (from 1) whose loss was not
    finite, after which training stopped; None for a run that finished.
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    step_lr: list[float] = field(default_factory=list)
    diverged_step: int | None = None

    @property
    def diverged(self) -> bool:
        return self.diverged_step is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values: NaN and infinities become None."""
        out = asdict(self)
        for key, values in out.items():
            if isinstance(values, list):
                out[key] = [_finite_or_none(v) for v in values]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "History":
        values: dict[str, Any] = {}
        for key, value in data.items():
            values[key] = [float("nan") if v is None else v for v in value] if isinstance(value, list) else value
        return cls(**values)


@dataclass(repr=False)
class Result:
    """One finished run: its recipe, profile, seed, history and final accuracies.

    ``test_acc`` is NaN for a diverged run; ``val_acc`` is the accuracy on the
    profile's validation split (held out from the training set), None when
    the profile holds none out.
    """

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
    val_acc: float | None = None
    cached: bool = False
    model: "nn.Module | None" = field(default=None, repr=False, compare=False)

    @property
    def diverged(self) -> bool:
        return self.history.diverged

    def __repr__(self) -> str:
        state = f"diverged at step {self.history.diverged_step}" if self.diverged else f"test_acc={self.test_acc:.4f}"
        return (f"Result(profile={self.profile!r}, seed={self.seed}, {state}, "
                f"epochs={len(self.history.epoch)}, train_seconds={self.train_seconds:.1f}, cached={self.cached})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe.to_dict(), "profile": self.profile, "seed": self.seed,
            "test_acc": _finite_or_none(self.test_acc), "val_acc": _finite_or_none(self.val_acc),
            "history": self.history.to_dict(), "train_seconds": self.train_seconds,
            "wall_seconds": self.wall_seconds, "data_source": self.data_source, "device": self.device,
            "precision": self.precision,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], cached: bool = False) -> "Result":
        test_acc = data["test_acc"]
        return cls(
            recipe=Recipe.from_dict(data["recipe"]), profile=data["profile"], seed=data["seed"],
            test_acc=float("nan") if test_acc is None else test_acc, history=History.from_dict(data["history"]),
            train_seconds=data["train_seconds"], wall_seconds=data["wall_seconds"],
            data_source=data["data_source"], device=data["device"], precision=data["precision"],
            val_acc=data.get("val_acc"), cached=cached,
        )


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class Row:
    """One recipe's line in a comparison.

    ``accuracy`` summarises the seeds that finished; ``diverged`` counts the
    others. ``paired``: the mean of the per-seed differences to the baseline
    with the paired t interval, over the seeds both finished; ``welch``: the
    difference of means with Welch's interval. Both None for the baseline.
    """

    name: str
    accuracy: Summary | None
    diverged: int
    paired: Difference | None
    welch: Difference | None
    train_seconds: float
    val_accuracy: Summary | None = None

    def difference(self, paired: bool) -> Difference | None:
        return self.paired if paired else self.welch


def verdict(difference: Difference | None) -> str:
    """``"better"``/``"worse"`` when the interval excludes 0, ``"no detectable effect"`` when it holds 0."""
    if difference is None or math.isnan(difference.low):
        return ""
    if difference.low > 0:
        return "better"
    if difference.high < 0:
        return "worse"
    return "no detectable effect"


@dataclass(repr=False)
class Comparison:
    """Results of several recipes; the first recipe is the baseline.

    ``paired`` (default: whether every recipe ran on the same seeds) chooses
    the paired interval for the table; Welch's is used otherwise, e.g. for
    recipes with different models, whose initial weights a seed cannot pair.
    """

    profile: str
    seeds: tuple[int, ...]
    results: dict[str, list[Result]]
    paired: bool | None = None

    def __post_init__(self) -> None:
        if not self.results:
            raise ValueError("a comparison needs at least one recipe")
        if self.paired is None:
            self.paired = all([r.seed for r in runs] == list(self.seeds) for runs in self.results.values())

    @property
    def baseline(self) -> str:
        return next(iter(self.results))

    @property
    def recipes(self) -> dict[str, Recipe]:
        return {name: runs[0].recipe for name, runs in self.results.items()}

    def accuracies(self, name: str, split: str = "test") -> dict[int, float]:
        """Seed -> accuracy of recipe ``name`` on ``split`` ("test" or "val"), finished runs only."""
        key = "test_acc" if split == "test" else "val_acc"
        out = {}
        for r in self.results[name]:
            value = getattr(r, key)
            if value is not None and not r.diverged and math.isfinite(value):
                out[r.seed] = value
        return out

    def paired_differences(self, name: str, split: str = "test") -> dict[int, float]:
        """Seed -> accuracy of ``name`` minus the baseline's, over the seeds both finished."""
        own, base = self.accuracies(name, split), self.accuracies(self.baseline, split)
        return {seed: own[seed] - base[seed] for seed in own if seed in base}

    def rows(self, split: str = "test") -> list[Row]:
        """Per recipe: the accuracy summary, diverged seeds, and both intervals against the baseline."""
        base = self.accuracies(self.baseline, split)
        rows = []
        for name, runs in self.results.items():
            accs = self.accuracies(name, split)
            diverged = sum(r.diverged for r in runs)
            paired = welch = None
            if name != self.baseline and accs and base:
                diffs = self.paired_differences(name, split)
                common = sorted(diffs)
                if common:
                    paired = paired_interval([accs[s] for s in common], [base[s] for s in common])
                welch = welch_interval(list(accs.values()), list(base.values()))
            seconds = summarize([r.train_seconds for r in runs]).mean
            rows.append(Row(name, summarize(list(accs.values())) if accs else None, diverged, paired, welch, seconds))
        return rows

    def table(self, split: str = "test") -> list[dict[str, str]]:
        """The rows formatted as percentages, for printing or display."""
        return [_format_row(row, bool(self.paired), row.name == self.baseline) for row in self.rows(split)]

    def caption(self) -> str:
        test = "paired t" if self.paired else "Welch's"
        return (f"profile {self.profile}, seeds {list(self.seeds)}; diff = recipe - baseline "
                f"with the {test} 95% interval; diverged seeds are counted, not averaged")

    def __str__(self) -> str:
        lines = self.table()
        headers = list(lines[0])
        widths = [max(len(h), *(len(line[h]) for line in lines)) for h in headers]
        out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
        out += ["  ".join(line[h].ljust(w) for h, w in zip(headers, widths)) for line in lines]
        out.append(self.caption())
        return "\n".join(out)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        lines = self.table()
        head = "".join(f"<th>{html.escape(h)}</th>" for h in lines[0])
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in line.values()) + "</tr>" for line in lines
        )
        caption = html.escape(f"Test accuracy, {self.caption()}")
        return f"<table><caption>{caption}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _format_row(row: Row, paired: bool, is_baseline: bool) -> dict[str, str]:
    def pct(x: float) -> str:
        return f"{100 * x:.2f}"

    acc = row.accuracy
    mean = "n/a" if acc is None else pct(acc.mean)
    std = "n/a" if acc is None or math.isnan(acc.std) else pct(acc.std)
    d = row.difference(paired)
    if is_baseline:
        diff, interval = "baseline", ""
    elif d is None:
        diff, interval = "n/a", ""
    else:
        diff = f"{100 * d.estimate:+.2f}"
        interval = "n/a (1 seed)" if math.isnan(d.low) else f"[{100 * d.low:+.2f}, {100 * d.high:+.2f}]"
    return {
        "recipe": row.name, "seeds": str(0 if acc is None else acc.n), "diverged": str(row.diverged),
        "acc %": mean, "std %": std, "diff %": diff, "95% interval": interval, "verdict": verdict(d),
        "train s": f"{row.train_seconds:.1f}",
    }
