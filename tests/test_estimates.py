"""The live cells' time estimates: FLOPs counted on the model, the device table, every chapter within a T4's ten minutes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tricks_lab import estimates
from tricks_lab.estimates import chapter_estimate, estimate_table, gpu_rate, image_flops, run_flops
from tricks_lab.profiles import PROFILES
from tricks_lab.recipe import BASELINE
from tricks_lab.registry import EXPERIMENTS, LIVE_SEEDS, live_arms, live_runs
from tricks_lab.sizes import run_steps

CHAPTERS = [chapter for experiment in EXPERIMENTS for chapter in experiment.chapters]
CONV = 2 * 3 * 8 * 9 * 32 * 32  # a 3x3 convolution, 3 -> 8 channels, on 32x32 pixels: 2 FLOPs a multiply-add
LINEAR = 2 * (8 * 32 * 32) * 10


@pytest.fixture
def tiny_model(monkeypatch: pytest.MonkeyPatch) -> None:
    estimates.image_flops.cache_clear()
    monkeypatch.setattr(estimates, "make_model", lambda recipe, profile: nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 32 * 32, 10, bias=False)))
    yield
    estimates.image_flops.cache_clear()


def test_flops_are_counted_per_image_forward_and_backward(tiny_model: None) -> None:
    smoke = PROFILES["smoke"]
    assert image_flops(BASELINE, smoke, backward=False) == CONV + LINEAR
    # backward: the weight gradients of both layers and the linear layer's input gradient
    # (the images need no gradient, so the first convolution computes none for its input)
    assert image_flops(BASELINE, smoke) == 2 * CONV + 3 * LINEAR


def test_a_run_counts_its_training_images_and_its_evaluations(tiny_model: None) -> None:
    smoke = PROFILES["smoke"]
    trained = run_steps(BASELINE, smoke) * 128  # smoke's batch: 512 x 1/4
    scored = 1000 * smoke.evaluations + 10 * smoke.holdout_per_class
    assert run_flops(BASELINE, smoke) == trained * (2 * CONV + 3 * LINEAR) + scored * (CONV + LINEAR)
    teacher = BASELINE.replace(teacher=BASELINE)
    assert run_flops(teacher, smoke) == run_flops(BASELINE, smoke) + trained * (CONV + LINEAR)


def test_the_short_fast_net_is_about_0_9_gflop_per_training_image() -> None:
    assert image_flops(BASELINE, PROFILES["short"]) == pytest.approx(0.91e9, rel=0.01)


@pytest.mark.parametrize("name, peak", [("Tesla T4", 65e12), ("NVIDIA A100-SXM4-40GB", 312e12),
                                        ("NVIDIA A10", 125e12), ("NVIDIA H100 80GB HBM3", 989e12)])
def test_gpus_are_matched_by_name_longest_first(name: str, peak: float) -> None:
    assert gpu_rate(name) == pytest.approx(estimates.SUSTAINED_FRACTION * peak)


def test_an_unknown_gpu_gets_flops_but_no_time() -> None:
    estimate = chapter_estimate("00_baseline", "short", "Some Future GPU")
    assert estimate.seconds is None and "no time estimate for Some Future GPU" in str(estimate)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_chapter_runs_live_within_ten_minutes_of_a_t4(chapter: str) -> None:
    estimate = chapter_estimate(chapter, "short", "Tesla T4")
    assert estimate.runs == len(live_runs(chapter)) >= LIVE_SEEDS
    assert estimate.seconds is not None and estimate.seconds < 10 * 60, str(estimate)


def test_a_teacher_is_trained_once_before_its_students() -> None:
    runs = live_runs("05_distillation")
    students = [recipe for _, recipe, _ in runs if recipe.teacher is not None]
    teachers = [label for label, _, _ in runs if label.startswith("teacher of ")]
    assert len(teachers) == 1 and runs[0][0] == "student alone" and len(students) == LIVE_SEEDS
    assert [label for label, _, _ in runs].index(teachers[0]) < [r for _, r, _ in runs].index(students[0])


def test_chapters_that_share_an_experiment_run_their_own_trick() -> None:
    assert list(live_arms("04_ricap")) == ["baseline", "RICAP"]
    assert list(live_arms("09_mixup")) == ["baseline", "mixup"]


def test_the_cpu_rate_comes_from_the_committed_lab_baseline() -> None:
    rate = estimates.cpu_rate()
    assert rate is not None and 1e9 < rate < 1e12  # FLOP/s of one CPU thread, measured
    smoke = chapter_estimate("00_baseline", "smoke", "cpu")
    assert smoke.seconds == pytest.approx(smoke.flops / rate)


def test_setup_prints_the_chapters_estimate(capsys: pytest.CaptureFixture[str], real_cifar10) -> None:
    from tricks_lab.notebook import setup

    env = setup("smoke", chapter="06_cutout")
    assert env.live is not None and env.live.chapter == "06_cutout"
    assert f"live:    {env.live}" in capsys.readouterr().out
    assert setup("smoke", chapter="summary").live is None
    assert torch.device("cpu") == env.device


def test_the_table_has_a_linked_row_per_chapter_in_book_order() -> None:
    rows = estimate_table(("Tesla T4", "Some Future GPU")).splitlines()
    assert rows[0].startswith("| chapter | live runs | PFLOP (short) | T4 (min) | Some Future GPU (min) |")
    chapters = [row.split("`")[1] for row in rows[2:]]
    assert chapters == sorted(CHAPTERS)
    assert all(row.split(" | ")[4] == "n/a" for row in rows[2:])  # no rate for an unknown GPU
