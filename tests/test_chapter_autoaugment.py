"""Pitfalls named in the AutoAugment chapter (11), pinned."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import torch
from matplotlib import pyplot as plt

from tricks_lab import autoaugment as aa
from tricks_lab import autoaugment_ops as ops
from tricks_lab.build import make_hooks
from tricks_lab.experiments import Comparison, Result
from tricks_lab.occlusion import CutoutHook
from tricks_lab.plotting import seed_spread
from tricks_lab.recipe import BASELINE
from tricks_lab.train import History
from tricks_lab.widgets.autoaugment import tensorflow_enhancement_factor


def images(n: int = 4, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    ramp = torch.linspace(40, 200, 32).expand(32, 32)
    return (ramp + torch.rand(n, 3, 32, 32, generator=g) * 30).to(torch.uint8)


def result(name_acc: float, seed: int, augment: str) -> Result:
    return Result(recipe=BASELINE.replace(augment=augment), profile="smoke", seed=seed, test_acc=name_acc,
                  history=History(), train_seconds=1.0, wall_seconds=1.0, data_source="fake", device="cpu",
                  precision="fp32")


# --- the seed's table: error rates, and AutoAugment on top of Cutout -------------------------


def test_comparisons_report_accuracy_so_a_gain_is_positive() -> None:
    # The seed quotes the paper's CIFAR-10 table, whose entries are test *error* rates (lower is
    # better), as accuracies. Our tables and figures are accuracies, labelled as such.
    comparison = Comparison("smoke", (0, 1, 2), {
        "baseline": [result(a, s, "none") for s, a in enumerate((0.90, 0.91, 0.92))],
        "autoaugment": [result(a, s, "autoaugment") for s, a in enumerate((0.93, 0.94, 0.95))],
    })
    baseline_row, trick_row = comparison.table()
    assert "acc %" in baseline_row and baseline_row["acc %"] == "91.00"
    assert trick_row["diff %"] == "+3.00"
    fig = seed_spread(comparison)
    assert fig.axes[0].get_ylabel() == "test accuracy (%)"
    plt.close(fig)


def test_autoaugment_then_cutout_in_the_papers_order() -> None:
    # The paper's "AutoAugment" column is crop/flip, then the policy, then Cutout: a recipe with
    # both fields set gives exactly that order (crop/flip come first in the loader itself).
    hooks = make_hooks(BASELINE.replace(augment="autoaugment", occlusion="cutout"))
    assert [h.stage for h in hooks] == ["uint8", "float"]
    assert isinstance(hooks[0], aa.AutoAugmentHook) and hooks[0].policy == "cifar10"
    assert isinstance(hooks[1], CutoutHook) and hooks[1].length == 16 and hooks[1].fill == 0.0


# --- enhancement magnitudes mean different things in the two reference codes ----------------


def test_enhancement_index_zero_is_identity_here_but_near_grey_in_tensorflow() -> None:
    # CIFAR-10 sub-policy 19 is (Brightness, 0.1, 3), (Color, 0.7, 0). With torchvision's scale
    # (ours) Color at m = 0 is the factor 1: nothing happens. The TensorFlow code's factor at m = 0
    # is 0.1: the image becomes almost grey. Porting a policy across conventions changes it.
    assert aa.POLICIES["cifar10"][19][1] == ("Color", 0.7, 0)
    x = images()
    assert torch.equal(aa.apply_operation(x, "Color", 0), x)
    assert float(tensorflow_enhancement_factor(0)) == 0.1
    greyish = ops.color(x, torch.full((4,), 0.1))
    assert (greyish.int() - x.int()).abs().max() > 10


# --- translation: 150/331 of the side or pixels ---------------------------------------------


def test_relative_translate_can_shift_a_cifar_image_almost_out_of_the_frame() -> None:
    # Sub-policy 21 is TranslateY twice at m = 9. torchvision's relative scale moves 14 pixels a
    # step on a 32-pixel image (28 in all), the TensorFlow CIFAR code 9 (18 in all).
    first, second = aa.POLICIES["cifar10"][21]
    assert first[0] == second[0] == "TranslateY" and first[2] == second[2] == 9
    x = torch.full((1, 3, 32, 32), 200, dtype=torch.uint8)
    surviving = {}
    for convention in aa.TRANSLATE_CONVENTIONS:
        once = aa.apply_operation(x, "TranslateY", 9, translate=convention)
        twice = aa.apply_operation(once, "TranslateY", 9, translate=convention)
        surviving[convention] = int(twice[0, 0].ne(0).any(dim=1).sum())
    assert surviving == {"relative": 32 - 28, "absolute": 32 - 18}
