"""Tests for tricks_lab.schedules: warmup, linear scaling, cosine / linear / step decay.

The ``GradualWarmupScheduler`` that the seed posts copy has six known bugs; each
has a test below (``test_seed_bug_*``) that our :class:`GradualWarmup` passes:

1. the warmup ramps from the optimizer's lr to ``lr * multiplier`` and refuses
   ``multiplier <= 1``, so "warm up to the lr I set" is impossible (and with a
   multiplier of 1 the lr never changes: no warmup at all);
2. the hand-over is off by one and calls the follower's ``get_lr()`` outside
   ``step()``, so the first step after the warmup gets a wrong lr and the
   follower's curve is shifted;
3. ``ReduceLROnPlateau`` as the follower breaks: it is asked for ``get_lr()``
   and its ``step`` receives the epoch number in place of the metric;
4. a cosine counted from the start of training is already decayed when the
   warmup ends: the lr drops at the seam and never reaches the peak;
5. the cosine ``eta/2 * (1 + cos(pi t / T))`` with ``t = 0 .. T-1`` never
   reaches its minimum: the last step's lr is still above ``min_lr``;
6. ``state_dict()`` pickles the follower object itself (bound to the old
   optimizer): a resumed run drives the wrong optimizer, and the checkpoint
   cannot be read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.optim import SGD, Optimizer
from torch.optim.lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    LRScheduler,
    MultiStepLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)

from tricks_lab.schedules import (
    SHAPES,
    ClosedFormScheduler,
    ConstantSchedule,
    CosineDecay,
    GradualWarmup,
    LinearDecay,
    StepDecay,
    linear_scaled_lr,
    lr_curve,
    make_schedule,
    step_decay,
    warmup_cosine,
    warmup_linear,
)

MakeScheduler = Callable[[Optimizer], LRScheduler]
BASE_LR = 0.4


def _sgd(*lrs: float) -> SGD:
    """SGD with one dummy parameter per param group, one group per lr."""
    groups = [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs]
    return SGD(groups, lr=lrs[0])


def _run(optimizer: Optimizer, scheduler: LRScheduler, steps: int, metrics=None) -> list[list[float]]:
    """The lrs of every group at ``steps`` consecutive steps, stepping as a trainer does."""
    lrs = []
    for _ in range(steps):
        lrs.append([float(group["lr"]) for group in optimizer.param_groups])
        optimizer.step()
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics(scheduler.last_epoch))
    return lrs


def _assert_close(actual: list, expected: list, atol: float, rtol: float = 0.0) -> None:
    """Element-wise |actual - expected| <= atol + rtol * |expected| over nested lists of lrs."""
    torch.testing.assert_close(
        torch.tensor(actual, dtype=torch.float64), torch.tensor(expected, dtype=torch.float64), atol=atol, rtol=rtol
    )


def _cosine(base: float, min_lr: float, k: int, last: int) -> float:
    return min_lr + (base - min_lr) * (1 + math.cos(math.pi * k / last)) / 2


# ---------------------------------------------------------------- linear scaling


def test_linear_scaled_lr_follows_goyal_rule() -> None:
    """0.1 x b / 256 (He et al.'s setting), Goyal et al.'s 8k batch gives 3.2."""
    assert linear_scaled_lr(0.1, 256) == pytest.approx(0.1, abs=1e-15)
    assert linear_scaled_lr(0.1, 1024) == pytest.approx(0.4, abs=1e-15)
    assert linear_scaled_lr(0.1, 8192) == pytest.approx(3.2, abs=1e-15)
    assert linear_scaled_lr(0.05, 64, base_batch_size=128) == pytest.approx(0.025, abs=1e-15)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"base_lr": 0.0, "batch_size": 128}, ValueError, "base_lr must be > 0"),
        ({"base_lr": 0.1, "batch_size": 0}, ValueError, "batch_size must be >= 1"),
        ({"base_lr": 0.1, "batch_size": 12.5}, TypeError, "batch_size must be an int"),
        ({"base_lr": 0.1, "batch_size": 128, "base_batch_size": -256}, ValueError, "base_batch_size"),
    ],
)
def test_linear_scaled_lr_rejects_bad_arguments(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        linear_scaled_lr(**kwargs)


# ---------------------------------------------------------------- closed forms


def test_cosine_decay_matches_formula_and_reaches_min_lr_at_last_step() -> None:
    """eta_t = min + (eta - min)(1 + cos(pi t / (K - 1))) / 2: eta at 0, min exactly at K - 1 and after."""
    optimizer = _sgd(BASE_LR)
    scheduler = CosineDecay(optimizer, total_steps=11, min_lr=0.01)
    lrs = [lr for (lr,) in _run(optimizer, scheduler, 14)]
    expected = [_cosine(BASE_LR, 0.01, k, 10) for k in range(11)] + [0.01] * 3
    assert lrs == pytest.approx(expected, abs=1e-15)
    assert lrs[0] == BASE_LR and lrs[10] == 0.01 and lrs[13] == 0.01


def test_linear_decay_matches_formula_and_reaches_min_lr_at_last_step() -> None:
    optimizer = _sgd(BASE_LR)
    scheduler = LinearDecay(optimizer, total_steps=5, min_lr=0.02)
    lrs = [lr for (lr,) in _run(optimizer, scheduler, 7)]
    assert lrs == pytest.approx([0.4, 0.305, 0.21, 0.115, 0.02, 0.02, 0.02], abs=1e-15)
    assert lrs[4] == 0.02


def test_step_decay_equals_torch_multisteplr() -> None:
    """Same curve as torch's MultiStepLR (He et al. 2016 step schedule)."""
    ours, theirs = _sgd(0.1, 0.03), _sgd(0.1, 0.03)
    a = _run(ours, step_decay(ours, [3, 7, 8], gamma=0.2), 12)
    b = _run(theirs, MultiStepLR(theirs, [3, 7, 8], gamma=0.2), 12)
    _assert_close(a, b, atol=0, rtol=1e-14)
    assert a[2][0] == 0.1 and a[3][0] == pytest.approx(0.02) and a[8][1] == pytest.approx(0.03 * 0.2**3)


def test_make_schedule_step_milestones_count_from_the_start_of_training() -> None:
    """With a warmup, 'step' milestones are global iterations: the drops land on steps 6 and 9."""
    curve = lr_curve(
        lambda opt: make_schedule(opt, "step", 12, warmup_steps=4, milestones=[6, 9], start_factor=0.5),
        steps=12,
        base_lr=0.1,
    )
    expected = [0.05, 0.0625, 0.075, 0.0875, 0.1, 0.1, 0.01, 0.01, 0.01, 0.001, 0.001, 0.001]
    _assert_close(curve, expected, atol=1e-15)


def test_constant_schedule_keeps_base_lr() -> None:
    optimizer = _sgd(0.1, 0.5)
    assert _run(optimizer, ConstantSchedule(optimizer), 4) == [[0.1, 0.5]] * 4


def test_closed_form_schedulers_are_closed_form() -> None:
    optimizer = _sgd(0.1)
    for scheduler in (CosineDecay(optimizer, 4), LinearDecay(optimizer, 4), StepDecay(optimizer, [2])):
        assert isinstance(scheduler, ClosedFormScheduler) and isinstance(scheduler, LRScheduler)


# ---------------------------------------------------------------- equivalence with torch


@settings(max_examples=40, deadline=None)
@given(
    total=st.integers(3, 250),
    warmup_fraction=st.floats(0.0, 1.0),
    start_factor=st.floats(0.01, 1.0),
    min_fraction=st.floats(0.0, 1.0),
)
def test_warmup_cosine_equals_torch_sequential_linear_cosine(
    total: int, warmup_fraction: float, start_factor: float, min_fraction: float
) -> None:
    """Step by step to 1e-12, ours == SequentialLR([LinearLR(s, 1, W), CosineAnnealingLR(T_max=K-1, min)], [W]).

    They coincide exactly where torch's composition is defined and means the same curve:
    start_factor in (0, 1] (LinearLR forbids 0), W = warmup_steps >= 1 (W = 0 is the next test),
    K = total - W >= 2 so that T_max = K - 1 >= 1, and steps 0 .. total - 1. Beyond total - 1
    they part: torch's cosine is periodic and climbs back, ours stays at min_lr.
    """
    warmup = max(1, min(total - 2, round(warmup_fraction * (total - 2))))
    min_lr = min_fraction * BASE_LR
    ours, theirs = _sgd(BASE_LR), _sgd(BASE_LR)
    scheduler = warmup_cosine(ours, total, warmup, min_lr=min_lr, start_factor=start_factor)
    reference = SequentialLR(
        theirs,
        [
            LinearLR(theirs, start_factor=start_factor, end_factor=1.0, total_iters=warmup),
            CosineAnnealingLR(theirs, T_max=total - warmup - 1, eta_min=min_lr),
        ],
        milestones=[warmup],
    )
    _assert_close(_run(ours, scheduler, total), _run(theirs, reference, total), atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(total=st.integers(2, 300), min_fraction=st.floats(0.0, 1.0))
def test_cosine_without_warmup_equals_torch_cosine_annealing(total: int, min_fraction: float) -> None:
    """With no warmup, ours == CosineAnnealingLR(T_max=total - 1) on steps 0 .. total - 1, to 1e-12,
    for two param groups (min_lr at most the smaller base lr)."""
    min_lr = min_fraction * 0.1
    ours, theirs = _sgd(BASE_LR, 0.1), _sgd(BASE_LR, 0.1)
    a = _run(ours, warmup_cosine(ours, total, min_lr=min_lr), total)
    b = _run(theirs, CosineAnnealingLR(theirs, T_max=total - 1, eta_min=min_lr), total)
    _assert_close(a, b, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(total=st.integers(3, 250), warmup_fraction=st.floats(0.0, 1.0), start_factor=st.floats(0.01, 1.0))
def test_warmup_linear_equals_torch_sequential_linear_linear(
    total: int, warmup_fraction: float, start_factor: float
) -> None:
    """Ours == SequentialLR([LinearLR(s, 1, W), LinearLR(1, min/base, K - 1)], [W]) on steps 0 .. total - 1
    (same domain as the cosine equivalence: s in (0, 1], W >= 1, K = total - W >= 2)."""
    warmup = max(1, min(total - 2, round(warmup_fraction * (total - 2))))
    min_lr = 0.25 * BASE_LR
    ours, theirs = _sgd(BASE_LR), _sgd(BASE_LR)
    scheduler = warmup_linear(ours, total, warmup, min_lr=min_lr, start_factor=start_factor)
    reference = SequentialLR(
        theirs,
        [
            LinearLR(theirs, start_factor=start_factor, end_factor=1.0, total_iters=warmup),
            LinearLR(theirs, start_factor=1.0, end_factor=min_lr / BASE_LR, total_iters=total - warmup - 1),
        ],
        milestones=[warmup],
    )
    _assert_close(_run(ours, scheduler, total), _run(theirs, reference, total), atol=1e-12)


# ---------------------------------------------------------------- properties


@settings(max_examples=60, deadline=None)
@given(
    shape=st.sampled_from(["cosine", "linear"]),
    total=st.integers(2, 400),
    warmup_fraction=st.floats(0.0, 1.0),
    start_factor=st.floats(0.0, 1.0),
    min_fraction=st.floats(0.0, 1.0),
)
def test_warmup_decay_properties(
    shape: str, total: int, warmup_fraction: float, start_factor: float, min_fraction: float
) -> None:
    """Warmup: from s * base, non-decreasing, below base. Decay: base at W, non-increasing, in
    [min_lr, base], min_lr exactly at total - 1 (the last step) and after."""
    warmup = round(warmup_fraction * (total - 2))
    min_lr = min_fraction * BASE_LR
    curve = lr_curve(
        lambda opt: make_schedule(
            opt, shape, total, warmup_steps=warmup, start_factor=start_factor, min_lr=min_lr
        ),
        steps=total + 3,
        base_lr=BASE_LR,
    )
    warming, decaying = curve[:warmup], curve[warmup:]
    if warmup:
        assert warming[0] == pytest.approx(start_factor * BASE_LR, abs=1e-15)
        assert all(a <= b for a, b in zip(warming, warming[1:]))
        assert all(start_factor * BASE_LR - 1e-15 <= lr <= BASE_LR for lr in warming)
    assert decaying[0] == BASE_LR
    assert all(a >= b for a, b in zip(decaying, decaying[1:]))
    assert all(min_lr <= lr <= BASE_LR for lr in decaying)
    assert curve[total - 1] == min_lr and curve[-1] == min_lr


@settings(max_examples=40, deadline=None)
@given(
    shape=st.sampled_from(SHAPES),
    total=st.integers(4, 200),
    warmup_fraction=st.floats(0.0, 1.0),
    warmup_mode=st.sampled_from(["linear", "constant"]),
    start_factor=st.floats(0.05, 1.0),
)
def test_lr_is_a_pure_function_of_the_step(
    shape: str, total: int, warmup_fraction: float, warmup_mode: str, start_factor: float
) -> None:
    """lr_at(t) gives, without stepping, exactly the lr that stepping reaches at t, for every group."""
    warmup = round(warmup_fraction * (total - 3))
    milestones = [warmup + 1, total - 1] if shape == "step" else []
    optimizer = _sgd(BASE_LR, 0.05)
    scheduler = make_schedule(
        optimizer,
        shape,
        total,
        warmup_steps=warmup,
        warmup_mode=warmup_mode,
        start_factor=start_factor,
        milestones=milestones,
    )
    stepped = _run(optimizer, scheduler, total + 2)
    assert [scheduler.lr_at(t) for t in range(total + 2)] == stepped


def test_per_group_learning_rates_each_follow_their_own_curve() -> None:
    """Two groups with lrs 0.4 and 0.04 (e.g. a head and a backbone): each group's curve is the
    single-group curve with its own base lr."""
    def make(opt: Optimizer) -> LRScheduler:
        return warmup_cosine(opt, 30, 5, min_lr=0.001, start_factor=0.1)

    optimizer = _sgd(0.4, 0.04)
    both = _run(optimizer, make(optimizer), 30)
    for index, base in enumerate((0.4, 0.04)):
        assert [lrs[index] for lrs in both] == pytest.approx(lr_curve(make, 30, base_lr=base), abs=1e-15)


def test_tensor_learning_rates_stay_tensors() -> None:
    """A tensor lr (capturable optimizers) is filled in place, never replaced by a float."""
    lr = torch.tensor(0.4)
    optimizer = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = warmup_cosine(optimizer, 10, 2)
    for step in range(10):
        assert optimizer.param_groups[0]["lr"] is lr
        assert float(lr) == pytest.approx(scheduler.lr_at(step)[0], abs=1e-7)
        optimizer.step()
        scheduler.step()


# ---------------------------------------------------------------- the seed's warmup bugs


def test_seed_bug_1_warmup_reaches_the_optimizers_lr_from_a_small_one() -> None:
    """Bug 1: we warm up from start_factor * lr to the lr the optimizer was given, which is the
    peak (default start_factor 0: from 0), in exactly W steps, rising at every step."""
    curve = lr_curve(lambda opt: GradualWarmup(opt, warmup_steps=4), steps=7, base_lr=BASE_LR)
    assert curve == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.4, 0.4], abs=1e-15)
    assert max(curve) == BASE_LR and curve.index(BASE_LR) == 4


def test_constant_warmup_is_he_et_al_resnet110_shape() -> None:
    """mode='constant': 0.1 x lr for W steps (He et al.: 0.01 then 0.1), then the jump to lr."""
    curve = lr_curve(
        lambda opt: GradualWarmup(opt, 3, start_factor=0.1, mode="constant"), steps=5, base_lr=0.1
    )
    assert curve == pytest.approx([0.01, 0.01, 0.01, 0.1, 0.1], abs=1e-15)


FOLLOWERS: dict[str, MakeScheduler] = {
    "CosineDecay": lambda opt: CosineDecay(opt, 12, min_lr=0.01),
    "CosineAnnealingLR": lambda opt: CosineAnnealingLR(opt, T_max=11),
    "StepLR": lambda opt: StepLR(opt, step_size=3, gamma=0.5),
    "ExponentialLR": lambda opt: ExponentialLR(opt, gamma=0.8),
    "LinearLR(start 0.5)": lambda opt: LinearLR(opt, start_factor=0.5, total_iters=6),
}


@pytest.mark.parametrize("follower", FOLLOWERS.values(), ids=FOLLOWERS.keys())
def test_seed_bug_2_no_seam_follower_curve_starts_exactly_after_warmup(follower: MakeScheduler) -> None:
    """Bug 2: step W uses exactly the follower's step-0 lr and step W + k its step-k lr (the
    follower alone on a fresh optimizer), for closed-form and recursive torch followers alike;
    the warmup ramps to that step-0 lr."""
    warmup, steps = 5, 15
    alone = lr_curve(follower, steps, base_lr=BASE_LR)
    wrapped = lr_curve(
        lambda opt: GradualWarmup(opt, warmup, after=follower(opt), start_factor=0.2), warmup + steps, BASE_LR
    )
    assert wrapped[warmup:] == pytest.approx(alone, abs=1e-14, rel=0)
    assert wrapped[warmup] == alone[0]
    peak = alone[0]
    assert wrapped[:warmup] == pytest.approx([peak * (0.2 + 0.8 * t / warmup) for t in range(warmup)], abs=1e-15)


def test_seed_bug_3_reduce_lr_on_plateau_follower_gets_the_metrics() -> None:
    """Bug 3: after the warmup, step(metrics) reaches ReduceLROnPlateau; its patience counts from
    the hand-over (metrics during the warmup are ignored); without metrics it is a clear error."""
    optimizer = _sgd(BASE_LR)
    plateau = ReduceLROnPlateau(optimizer, factor=0.5, patience=2)
    scheduler = GradualWarmup(optimizer, 3, after=plateau)
    # loss improves until step 5, then stalls at 1.0
    lrs = [lr for (lr,) in _run(optimizer, scheduler, 12, metrics=lambda t: max(1.0, 10.0 - t))]
    assert lrs[:4] == pytest.approx([0.0, BASE_LR / 3, 2 * BASE_LR / 3, BASE_LR], abs=1e-15)
    # metrics of steps 3.. reach the plateau: best 1.0 at step 9, three bad steps (10, 11, 12) reduce it
    assert lrs[4:] == [BASE_LR] * 8
    optimizer.step()
    scheduler.step(1.0)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(BASE_LR * 0.5)
    with pytest.raises(ValueError, match="metrics is required at step 14"):
        scheduler.step()


def test_seed_bug_4_cosine_is_not_decayed_during_warmup() -> None:
    """Bug 4: the cosine counts its T from the end of the warmup, so the lr at the seam is the
    peak (no drop) and the next step is the cosine's first decay step, cos(pi / (K - 1))."""
    total, warmup, min_lr = 100, 20, 0.004
    curve = lr_curve(lambda opt: warmup_cosine(opt, total, warmup, min_lr=min_lr), total, BASE_LR)
    assert max(curve) == BASE_LR == curve[warmup]
    assert curve[warmup - 1] < BASE_LR
    last = total - warmup - 1
    assert curve[warmup + 1] == pytest.approx(_cosine(BASE_LR, min_lr, 1, last), abs=1e-15)
    assert curve[warmup + last // 2] > (BASE_LR + min_lr) / 2 > curve[warmup + last // 2 + 1]


@pytest.mark.parametrize(("total", "warmup"), [(2, 0), (3, 1), (1000, 0), (10_007, 313), (50_000, 2_500)])
@pytest.mark.parametrize("min_lr", [0.0, 1e-4])
def test_seed_bug_5_cosine_reaches_min_lr_exactly_at_the_last_step(total: int, warmup: int, min_lr: float) -> None:
    """Bug 5: at step total_steps - 1 (the last one trained) the lr IS min_lr (==, no tolerance)."""
    scheduler = warmup_cosine(_sgd(BASE_LR), total, warmup, min_lr=min_lr)
    assert scheduler.lr_at(total - 1) == [min_lr]
    assert scheduler.lr_at(total - 2)[0] > min_lr
    assert scheduler.lr_at(total + 5) == [min_lr]


RESUMABLE: dict[str, tuple[MakeScheduler, Callable[[int], float] | None]] = {
    "warmup_cosine": (lambda opt: warmup_cosine(opt, 40, 10, min_lr=0.01, start_factor=0.1), None),
    "warmup+torch cosine": (
        lambda opt: GradualWarmup(opt, 10, after=CosineAnnealingLR(opt, T_max=29, eta_min=0.01)),
        None,
    ),
    "warmup+plateau": (
        lambda opt: GradualWarmup(opt, 10, after=ReduceLROnPlateau(opt, factor=0.5, patience=3)),
        lambda t: max(1.0, 20.0 - t),
    ),
    "step": (lambda opt: make_schedule(opt, "step", 40, warmup_steps=10, milestones=[20, 30]), None),
}


@pytest.mark.parametrize("split", [4, 10, 11, 25])
@pytest.mark.parametrize("optimizer_first", [False, True], ids=["torch-order", "optimizer-first"])
@pytest.mark.parametrize("name", RESUMABLE.keys())
def test_seed_bug_6_resume_from_state_dict_continues_on_the_same_curve(
    name: str, split: int, optimizer_first: bool
) -> None:
    """Bug 6: save at ``split`` (mid-warmup 4, at the seam 10, just after 11, mid-decay 25) through
    torch.save / torch.load(weights_only=True), resume on a NEW optimizer and scheduler: the rest
    of the curve is the uninterrupted one, follower state included (the plateau's best and bad
    count), whether the optimizer state is loaded before or after the scheduler is built."""
    make, metrics = RESUMABLE[name]
    total = 40
    reference_opt = _sgd(BASE_LR, 0.1)
    reference = _run(reference_opt, make(reference_opt), total, metrics)

    first_opt = _sgd(BASE_LR, 0.1)
    first = make(first_opt)
    _run(first_opt, first, split, metrics)
    buffer = io.BytesIO()
    torch.save({"optimizer": first_opt.state_dict(), "scheduler": first.state_dict()}, buffer)
    buffer.seek(0)
    checkpoint = torch.load(buffer, weights_only=True)

    resumed_opt = _sgd(BASE_LR, 0.1)
    if optimizer_first:
        resumed_opt.load_state_dict(checkpoint["optimizer"])
        resumed = make(resumed_opt)
    else:
        resumed = make(resumed_opt)
        resumed_opt.load_state_dict(checkpoint["optimizer"])
    resumed.load_state_dict(checkpoint["scheduler"])
    _assert_close(_run(resumed_opt, resumed, total - split, metrics), reference[split:], atol=1e-15)


def test_state_dict_holds_the_followers_state_not_the_follower() -> None:
    optimizer = _sgd(BASE_LR)
    state = GradualWarmup(optimizer, 3, after=CosineDecay(optimizer, 5)).state_dict()
    assert isinstance(state["after"], dict) and state["after"]["total_steps"] == 5
    assert not any(isinstance(value, (LRScheduler, Optimizer)) for value in state.values())


def test_load_state_dict_does_not_mutate_its_argument() -> None:
    optimizer = _sgd(BASE_LR)
    state = GradualWarmup(optimizer, 3, after=CosineDecay(optimizer, 5)).state_dict()
    other_opt = _sgd(BASE_LR)
    GradualWarmup(other_opt, 3, after=CosineDecay(other_opt, 5)).load_state_dict(state)
    assert "after" in state


# ---------------------------------------------------------------- lr_curve, lr_at


def test_lr_curve_draws_torch_schedulers_too() -> None:
    curve = lr_curve(lambda opt: StepLR(opt, step_size=2, gamma=0.5), steps=5, base_lr=0.8)
    assert curve == pytest.approx([0.8, 0.8, 0.4, 0.4, 0.2])


def test_lr_at_needs_a_closed_form_follower_after_warmup() -> None:
    optimizer = _sgd(BASE_LR)
    scheduler = GradualWarmup(optimizer, 2, after=CosineAnnealingLR(optimizer, T_max=5))
    assert scheduler.lr_at(1) == [pytest.approx(0.2)]
    assert scheduler.lr_at(2) == [BASE_LR]
    with pytest.raises(TypeError, match="lr_at\\(3\\) needs a closed-form follower, got CosineAnnealingLR"):
        scheduler.lr_at(3)
    with pytest.raises(ValueError, match="step must be >= 0, got -1"):
        scheduler.lr_at(-1)
    with pytest.raises(ValueError, match="step must be >= 0, got -1"):
        CosineDecay(optimizer, 3).lr_at(-1)


# ---------------------------------------------------------------- argument errors


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"total_steps": 0}, ValueError, "total_steps must be >= 1, got 0"),
        ({"total_steps": -5}, ValueError, "total_steps must be >= 1, got -5"),
        ({"total_steps": 10.0}, TypeError, "total_steps must be an int"),
        ({"warmup_steps": -1}, ValueError, "warmup_steps must be >= 0, got -1"),
        ({"warmup_steps": 10}, ValueError, "warmup_steps must be <= total_steps - 2 = 8"),
        ({"warmup_steps": 12}, ValueError, "warmup_steps must be <= total_steps - 2 = 8"),
        ({"warmup_steps": 9}, ValueError, "shape 'cosine' needs at least 2 step"),
        ({"start_factor": -0.1}, ValueError, r"start_factor must be in \[0.0, 1.0\], got -0.1"),
        ({"start_factor": 1.5}, ValueError, r"start_factor must be in \[0.0, 1.0\], got 1.5"),
        ({"min_lr": 0.5}, ValueError, r"min_lr must be <= the base lr of every param group, got 0.5 > 0.4"),
        ({"min_lr": -0.01}, ValueError, "min_lr must be >= 0, got -0.01"),
        ({"shape": "exp"}, ValueError, "shape must be one of 'cosine', 'linear', 'step', 'constant'; got 'exp'"),
        ({"warmup_mode": "cos"}, ValueError, "warmup_mode must be one of 'linear', 'constant'; got 'cos'"),
        ({"gamma": 0.0}, ValueError, r"gamma must be in \(0.0, 1.0\], got 0.0"),
        ({"shape": "step"}, ValueError, "milestones must be a non-empty sequence of ints, got \\(\\)"),
        ({"shape": "step", "milestones": [5, 5]}, ValueError, r"strictly increasing, got \[5, 5\]"),
        ({"shape": "step", "milestones": [3, 10]}, ValueError, r"milestones must be >= 1 and <= 9, got \[3, 10\]"),
        ({"shape": "step", "warmup_steps": 3, "milestones": [3]}, ValueError, r"milestones must be >= 4 and <= 9"),
        ({"shape": "step", "milestones": [2.5]}, TypeError, r"milestones\[0\] must be an int"),
        ({"warmup_steps": 2, "warmup_mode": "constant"}, ValueError, r"start_factor must be in \(0, 1\] for mode"),
    ],
)
def test_make_schedule_rejects_bad_arguments(kwargs: dict, error: type, match: str) -> None:
    arguments = {"shape": "cosine", "total_steps": 10} | kwargs
    with pytest.raises(error, match=match):
        make_schedule(_sgd(BASE_LR), **arguments)


def test_make_schedule_ignores_the_arguments_of_other_shapes() -> None:
    """A trainer passes a whole recipe: milestones do not touch a cosine, min_lr not a step decay."""
    def cosine(opt: Optimizer) -> LRScheduler:
        return make_schedule(opt, "cosine", 20, warmup_steps=4, milestones=[10, 15], gamma=0.5)

    def step(opt: Optimizer) -> LRScheduler:
        return make_schedule(opt, "step", 20, milestones=[10], min_lr=0.05)

    assert lr_curve(cosine, 22) == lr_curve(lambda opt: warmup_cosine(opt, 20, 4), 22)
    assert lr_curve(step, 22) == lr_curve(lambda opt: step_decay(opt, [10]), 22)


def test_min_lr_above_any_group_base_lr_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"got 0.05 > 0.01 \(param group 1\)"):
        warmup_linear(_sgd(BASE_LR, 0.01), 10, min_lr=0.05)


def test_decays_and_step_decay_reject_bad_arguments() -> None:
    with pytest.raises(ValueError, match="total_steps must be >= 2"):
        CosineDecay(_sgd(BASE_LR), 1)
    with pytest.raises(ValueError, match="total_steps must be >= 2"):
        LinearDecay(_sgd(BASE_LR), 1)
    with pytest.raises(ValueError, match=r"milestones must be >= 1, got \[0, 3\]"):
        step_decay(_sgd(BASE_LR), [0, 3])
    with pytest.raises(ValueError, match=r"gamma must be in \(0.0, 1.0\], got 2.0"):
        step_decay(_sgd(BASE_LR), [3], gamma=2.0)


def test_gradual_warmup_rejects_bad_arguments() -> None:
    optimizer = _sgd(BASE_LR)
    with pytest.raises(ValueError, match="warmup_steps must be >= 1, got 0"):
        GradualWarmup(optimizer, 0)
    with pytest.raises(ValueError, match="mode must be one of 'linear', 'constant'; got 'exp'"):
        GradualWarmup(optimizer, 3, mode="exp")
    with pytest.raises(ValueError, match=r"start_factor must be in \[0.0, 1.0\], got 2.0"):
        GradualWarmup(optimizer, 3, start_factor=2.0)
    with pytest.raises(TypeError, match="after must be an LRScheduler or None, got str"):
        GradualWarmup(optimizer, 3, after="cosine")
    other = _sgd(BASE_LR)
    with pytest.raises(ValueError, match="after must be constructed on the same optimizer"):
        GradualWarmup(optimizer, 3, after=CosineDecay(other, 5))


def test_load_state_dict_rejects_a_follower_mismatch() -> None:
    optimizer = _sgd(BASE_LR)
    state = GradualWarmup(optimizer, 3).state_dict()
    other = _sgd(BASE_LR)
    with pytest.raises(ValueError, match="saved with no follower, loading into a scheduler with CosineDecay"):
        GradualWarmup(other, 3, after=CosineDecay(other, 5)).load_state_dict(state)


def test_lr_curve_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="steps must be >= 1, got 0"):
        lr_curve(lambda opt: ConstantSchedule(opt), steps=0)
    with pytest.raises(ValueError, match="base_lr must be > 0, got -0.1"):
        lr_curve(lambda opt: ConstantSchedule(opt), steps=3, base_lr=-0.1)
    with pytest.raises(TypeError, match="make_scheduler must return an LRScheduler, got float"):
        lr_curve(lambda opt: 0.1, steps=3)
