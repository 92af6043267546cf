"""Tests of tricks_lab.optim: AdaBound/AMSBound against the authors' package,
the deliberate differences from it, the bound functions, clipping records and
the no-bias-decay groups."""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Iterator

import adabound
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F

from tricks_lab.optim import AdaBound, AMSBound, StepSizes, bounds, no_bias_decay

# adabound 0.0.5 (the reference) calls the deprecated add_(Number, Tensor) overloads.
pytestmark = [
    pytest.mark.filterwarnings("ignore:This overload of add_? is deprecated:UserWarning"),
    pytest.mark.filterwarnings("ignore:This overload of addcmul_? is deprecated:UserWarning"),
]

STEPS = 100
TOLERANCE = 1e-6


@pytest.fixture(autouse=True, scope="module")
def single_thread() -> Iterator[None]:
    """The tensors here are tiny: one thread is faster, and much faster on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_model(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 3),
    )


def make_batch(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(16, 3, 8, 8, generator=generator), torch.randint(0, 3, (16,), generator=generator)


def two_groups(model: nn.Sequential) -> list[dict]:
    """Features at lr 1e-3, the head at 3e-3."""
    features = [*model[0].parameters(), *model[1].parameters()]
    return [{"params": features, "lr": 1e-3}, {"params": list(model[5].parameters()), "lr": 3e-3}]


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    optimizer.zero_grad()
    F.cross_entropy(model(batch[0]), batch[1]).backward()
    optimizer.step()


def max_difference(a: nn.Module, b: nn.Module) -> float:
    return max((p - q).abs().max().item() for p, q in zip(a.parameters(), b.parameters()))


def step_scheduler(optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.5)


# --- equivalence with the adabound package -------------------------------------------


@pytest.mark.parametrize("gamma", [1e-3, 0.05])
@pytest.mark.parametrize("weight_decay", [0.0, 5e-4])
@pytest.mark.parametrize("amsbound", [False, True])
def test_matches_reference_package_step_for_step(amsbound: bool, weight_decay: float, gamma: float) -> None:
    """100 steps, two groups with different lrs, StepLR halving them: equal to 1e-6 at every step."""
    ours_model, reference_model = make_model(), make_model()
    options = dict(gamma=gamma, weight_decay=weight_decay, amsbound=amsbound)
    ours = AdaBound(two_groups(ours_model), track_clipping=True, **options)
    reference = adabound.AdaBound(two_groups(reference_model), **options)
    schedulers = [step_scheduler(ours), step_scheduler(reference)]
    batch = make_batch()
    raised, cut = 0.0, 0.0
    for _ in range(STEPS):
        train_step(ours_model, ours, batch)
        train_step(reference_model, reference, batch)
        for scheduler in schedulers:
            scheduler.step()
        assert max_difference(ours_model, reference_model) <= TOLERANCE
        below, above = ours.clipping_fractions()
        raised, cut = max(raised, below), max(cut, above)
    assert ours.param_groups[0]["lr"] == reference.param_groups[0]["lr"] == 1e-3 / 8
    # Both bounds were active during the run, so the clipping was exercised.
    assert cut > 0.0
    if gamma == 0.05:
        assert raised > 0.0


@settings(max_examples=25, deadline=None)
@given(
    lr=st.floats(1e-4, 1e-1),
    final_lr=st.floats(1e-3, 1.0),
    gamma=st.floats(1e-4, 0.9),
    beta1=st.floats(0.0, 0.99),
    beta2=st.floats(0.5, 0.9999),
    amsbound=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_matches_reference_for_any_hyperparameters(
    lr: float, final_lr: float, gamma: float, beta1: float, beta2: float, amsbound: bool, seed: int
) -> None:
    """Five steps on random gradients of a random tensor agree for any valid hyperparameters."""
    generator = torch.Generator().manual_seed(seed)
    start = torch.randn(7, 5, generator=generator)
    ours_param, reference_param = nn.Parameter(start.clone()), nn.Parameter(start.clone())
    options = dict(lr=lr, final_lr=final_lr, gamma=gamma, betas=(beta1, beta2), amsbound=amsbound)
    ours, reference = AdaBound([ours_param], **options), adabound.AdaBound([reference_param], **options)
    for _ in range(5):
        grad = torch.randn(7, 5, generator=generator) * 10 ** torch.empty(1).uniform_(-4, 1, generator=generator)
        ours_param.grad, reference_param.grad = grad.clone(), grad.clone()
        ours.step()
        reference.step()
    torch.testing.assert_close(ours_param, reference_param, rtol=1e-5, atol=1e-6)


def test_amsbound_is_adabound_with_the_flag() -> None:
    plain_model, flag_model = make_model(), make_model()
    plain, flagged = AMSBound(plain_model.parameters()), AdaBound(flag_model.parameters(), amsbound=True)
    batch = make_batch()
    for _ in range(10):
        train_step(plain_model, plain, batch)
        train_step(flag_model, flagged, batch)
    assert isinstance(plain, AdaBound) and plain.defaults["amsbound"]
    assert all(torch.equal(p, q) for p, q in zip(plain_model.parameters(), flag_model.parameters()))


# --- deliberate differences from the package -----------------------------------------


def test_group_added_later_is_trained_unlike_the_reference() -> None:
    """The package zips groups with a base-lr list built at construction, so a group
    added later is silently never updated; ours stores base_lr in the group."""
    from_start_model, ours_model, reference_model = make_model(), make_model(), make_model()
    from_start = AdaBound(two_groups(from_start_model))
    first, second = two_groups(ours_model)
    ours = AdaBound([first])
    ours.add_param_group(second)
    first, second = two_groups(reference_model)
    reference = adabound.AdaBound([first])
    reference.add_param_group(second)
    head_before = reference_model[5].weight.detach().clone()
    batch = make_batch()
    for _ in range(20):
        for model, optimizer in ((from_start_model, from_start), (ours_model, ours), (reference_model, reference)):
            train_step(model, optimizer, batch)
    assert ours.param_groups[1]["base_lr"] == 3e-3
    assert all(torch.equal(p, q) for p, q in zip(ours_model.parameters(), from_start_model.parameters()))
    assert torch.equal(reference_model[5].weight, head_before)


def train(model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler, steps: int) -> None:
    batch = make_batch()
    for _ in range(steps):
        train_step(model, optimizer, batch)
        scheduler.step()


def uninterrupted_and_resumed(optimizer_class: type) -> tuple[nn.Module, nn.Module]:
    """Train 40 steps at lr 2e-3 with StepLR and checkpoint; train 30 more steps both
    uninterrupted and from the checkpoint, rebuilt with another constructor lr (5e-2)."""
    model = make_model()
    optimizer = optimizer_class(model.parameters(), lr=2e-3)
    scheduler = step_scheduler(optimizer)
    train(model, optimizer, scheduler, 40)
    checkpoint = copy.deepcopy((model.state_dict(), optimizer.state_dict(), scheduler.state_dict()))
    train(model, optimizer, scheduler, 30)
    resumed = make_model(seed=99)
    resumed.load_state_dict(checkpoint[0])
    resumed_optimizer = optimizer_class(resumed.parameters(), lr=5e-2)
    resumed_optimizer.load_state_dict(checkpoint[1])
    resumed_scheduler = step_scheduler(resumed_optimizer)
    resumed_scheduler.load_state_dict(checkpoint[2])
    train(resumed, resumed_optimizer, resumed_scheduler, 30)
    return model, resumed


@pytest.mark.parametrize("optimizer_class", [AdaBound, AMSBound])
def test_state_dict_round_trip_continues_identically(optimizer_class: type) -> None:
    """base_lr travels in the param groups, so the constructor's lr does not matter."""
    uninterrupted, resumed = uninterrupted_and_resumed(optimizer_class)
    assert all(torch.equal(p, q) for p, q in zip(uninterrupted.parameters(), resumed.parameters()))


def test_reference_resumed_with_another_lr_moves_its_bounds() -> None:
    """The package rebuilds base_lrs from the constructor, so the same resume changes its
    band (final_lr * lr / base_lr): the failure the in-group base_lr removes."""
    uninterrupted, resumed = uninterrupted_and_resumed(adabound.AdaBound)
    assert max_difference(uninterrupted, resumed) > 1e-4


def test_loads_a_checkpoint_of_the_reference_package() -> None:
    reference_model = make_model()
    reference = adabound.AdaBound(reference_model.parameters(), weight_decay=5e-4)
    batch = make_batch()
    for _ in range(20):
        train_step(reference_model, reference, batch)
    ours_model = copy.deepcopy(reference_model)
    ours = AdaBound(ours_model.parameters())
    ours.load_state_dict(copy.deepcopy(reference.state_dict()))
    for _ in range(20):
        train_step(reference_model, reference, batch)
        train_step(ours_model, ours, batch)
    assert ours.param_groups[0]["base_lr"] == 1e-3
    assert not ours.param_groups[0]["decoupled_weight_decay"]
    assert max_difference(ours_model, reference_model) <= TOLERANCE


def test_decoupled_weight_decay_is_the_reference_step_plus_sgd_decay() -> None:
    """theta_t = reference_step(theta_{t-1}, no decay) - final_lr * (lr / base_lr) * wd * theta_{t-1}."""
    weight_decay, final_lr = 5e-2, 0.1
    ours_model, reference_model = make_model(), make_model()
    ours = AdaBound(two_groups(ours_model), final_lr=final_lr, weight_decay=weight_decay, decoupled_weight_decay=True)
    reference = adabound.AdaBound(two_groups(reference_model), final_lr=final_lr)
    schedulers = [step_scheduler(ours), step_scheduler(reference)]
    batch = make_batch()
    for _ in range(STEPS):
        train_step(ours_model, ours, batch)
        before = [[p.detach().clone() for p in group["params"]] for group in reference.param_groups]
        train_step(reference_model, reference, batch)
        with torch.no_grad():
            for group, base_lr, previous in zip(reference.param_groups, reference.base_lrs, before):
                for param, old in zip(group["params"], previous):
                    param.sub_(old, alpha=final_lr * group["lr"] / base_lr * weight_decay)
        for scheduler in schedulers:
            scheduler.step()
        assert max_difference(ours_model, reference_model) <= TOLERANCE


@pytest.mark.parametrize("decoupled", [False, True])
def test_only_decoupled_decay_shrinks_every_weight_by_the_same_factor(decoupled: bool) -> None:
    """With zero loss gradient, decoupled decay multiplies all weights by (1 - final_lr wd)^t;
    coupled L2 passes through Adam's normalisation, so large and small weights shrink by
    very different factors (Loshchilov and Hutter's point)."""
    start = torch.tensor([0.01, 1.0, 100.0])
    param = nn.Parameter(start.clone())
    optimizer = AdaBound([param], final_lr=0.1, weight_decay=1e-2, decoupled_weight_decay=decoupled)
    for _ in range(10):
        param.grad = torch.zeros_like(param)
        optimizer.step()
    factors = param.detach() / start
    if decoupled:
        torch.testing.assert_close(factors, torch.full((3,), (1 - 0.1 * 1e-2) ** 10))
    else:
        assert factors[0] < 0.5 and factors[2] > 0.99


# --- Adam at the start, SGD at the end ----------------------------------------------------


@pytest.mark.parametrize("amsbound", [False, True])
def test_a_wide_band_is_adam(amsbound: bool) -> None:
    """gamma -> 0 opens the band: AdaBound steps as torch's Adam (AMSBound as AMSGrad)."""
    # No BatchNorm: the conv bias before it gets a zero gradient, whose sign noise Adam's
    # normalisation would amplify (and where the two eps placements differ).
    ours_model = nn.Sequential(nn.Flatten(), nn.Linear(192, 3))
    adam_model = copy.deepcopy(ours_model)
    ours = AdaBound(ours_model.parameters(), gamma=1e-12, eps=1e-12, amsbound=amsbound)
    adam = torch.optim.Adam(adam_model.parameters(), lr=1e-3, eps=1e-12, amsgrad=amsbound)
    batch = make_batch()
    for _ in range(30):
        train_step(ours_model, ours, batch)
        train_step(adam_model, adam, batch)
    assert max_difference(ours_model, adam_model) <= 1e-5


def test_a_closed_band_is_sgd_with_averaged_momentum() -> None:
    """gamma -> infinity closes the band on final_lr: theta <- theta - final_lr * m_t."""
    generator = torch.Generator().manual_seed(3)
    start = torch.randn(10, generator=generator)
    param = nn.Parameter(start.clone())
    optimizer = AdaBound([param], final_lr=0.2, gamma=1e12)
    expected, momentum = start.clone(), torch.zeros(10)
    for _ in range(15):
        grad = torch.randn(10, generator=generator)
        param.grad = grad.clone()
        optimizer.step()
        momentum = 0.9 * momentum + 0.1 * grad
        expected -= 0.2 * momentum
    torch.testing.assert_close(param.detach(), expected)


# --- the bound functions and the clipping records --------------------------------------


@pytest.mark.parametrize(
    ("step", "lower", "upper"),
    [
        (1, 0.1 * 1e-3 / 1.001, 0.1 * 1001),
        (10, 0.1 * 1e-2 / 1.01, 0.1 * 101),
        (10_000, 0.1 * 10 / 11, 0.1 * 1.1),
    ],
)
def test_bounds_match_the_formulas(step: int, lower: float, upper: float) -> None:
    """lower = final_lr gamma t / (gamma t + 1), upper = final_lr (gamma t + 1) / (gamma t), gamma = 1e-3."""
    got_lower, got_upper = bounds(step, final_lr=0.1, gamma=1e-3)
    assert got_lower == pytest.approx(lower, rel=1e-12)
    assert got_upper == pytest.approx(upper, rel=1e-12)


def test_bounds_of_a_tensor_equal_the_scalar_bounds() -> None:
    steps = torch.tensor([1.0, 10.0, 1e4], dtype=torch.float64)
    lower, upper = bounds(steps, 0.1, 1e-3)
    expected = [bounds(float(t), 0.1, 1e-3) for t in steps]
    torch.testing.assert_close(lower, torch.tensor([low for low, _ in expected], dtype=torch.float64))
    torch.testing.assert_close(upper, torch.tensor([high for _, high in expected], dtype=torch.float64))


def test_bounds_reach_final_lr_within_ten_percent_at_ten_over_gamma() -> None:
    lower, upper = bounds(10 / 1e-3, 0.1, 1e-3)
    assert math.isclose(lower, 0.1 * 10 / 11) and math.isclose(upper, 0.11)


@settings(max_examples=60, deadline=None)
@given(
    step=st.floats(1.0, 1e6),
    later=st.floats(1.001, 100.0),
    final_lr=st.floats(1e-4, 1.0),
    gamma=st.floats(1e-5, 1.0),
)
def test_band_contains_final_lr_and_narrows(step: float, later: float, final_lr: float, gamma: float) -> None:
    lower, upper = bounds(step, final_lr, gamma)
    later_lower, later_upper = bounds(step * later, final_lr, gamma)
    assert 0 < lower < final_lr < upper
    assert lower <= later_lower and later_upper <= upper
    assert upper - lower == pytest.approx(final_lr * (2 * gamma * step + 1) / (gamma * step * (gamma * step + 1)))


def test_records_show_the_band_of_the_scheduled_lr_and_the_applied_step() -> None:
    model = make_model()
    optimizer = AdaBound(two_groups(model), final_lr=0.1, gamma=0.01, track_clipping=True)
    scheduler = step_scheduler(optimizer)
    batch = make_batch()
    for step in range(1, 41):
        before = model[5].weight.detach().clone()
        train_step(model, optimizer, batch)
        record = optimizer.step_sizes(model[5].weight)
        group = optimizer.param_groups[1]
        expected_band = bounds(step, 0.1 * group["lr"] / group["base_lr"], 0.01)
        assert (record.lower, record.upper) == pytest.approx(expected_band, rel=1e-12)
        applied = before - model[5].weight.detach()
        torch.testing.assert_close(applied, record.clipped() * optimizer.state[model[5].weight]["exp_avg"])
        scheduler.step()
    assert record.lower == pytest.approx(bounds(40, 0.05, 0.01)[0])


def test_step_sizes_fractions() -> None:
    record = StepSizes(torch.tensor([0.001, 0.05, 0.2, 3.0]), lower=0.01, upper=1.0)
    assert record.fraction_below() == 0.25 and record.fraction_above() == 0.25
    assert torch.equal(record.clipped(), torch.tensor([0.01, 0.05, 0.2, 1.0]))


def test_clipping_fractions_count_elements_over_all_parameters() -> None:
    small, large = nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(3))
    optimizer = AdaBound([small, large], lr=1e-3, final_lr=0.1, gamma=1.0, track_clipping=True)
    # step 1, gamma 1: band [0.05, 0.2]; Adam's step size is lr / ((1 - beta1) |g|) here (eps aside).
    small.grad = torch.tensor([1.0])  # 0.01: raised to 0.05
    large.grad = torch.tensor([1e-5, 0.1, 0.1])  # 1000: cut; 0.1, 0.1: inside
    optimizer.step()
    assert optimizer.clipping_fractions() == (0.25, 0.25)
    assert optimizer.step_sizes(large).fraction_above() == pytest.approx(1 / 3)


def test_tracking_is_off_by_default_and_switching_it_off_drops_records() -> None:
    param = nn.Parameter(torch.ones(3))
    optimizer = AdaBound([param])
    param.grad = torch.ones(3)
    optimizer.step()
    with pytest.raises(RuntimeError, match="track_clipping=True"):
        optimizer.step_sizes(param)
    with pytest.raises(RuntimeError, match="track_clipping=True"):
        optimizer.clipping_fractions()
    optimizer.track_clipping = True
    optimizer.step()
    assert optimizer.step_sizes(param).adam.shape == (3,)
    optimizer.track_clipping = False
    with pytest.raises(RuntimeError, match="no step sizes recorded"):
        optimizer.step_sizes(param)


# --- behaviour as a torch optimizer --------------------------------------------------------


def test_parameters_without_gradient_are_untouched_and_stateless() -> None:
    used, unused = nn.Parameter(torch.ones(2)), nn.Parameter(torch.ones(2))
    optimizer = AdaBound([used, unused])
    used.grad = torch.ones(2)
    optimizer.step()
    assert torch.equal(unused, torch.ones(2)) and len(optimizer.state[unused]) == 0
    assert optimizer.state[used]["step"] == 1 and not torch.equal(used, torch.ones(2))


def test_closure_is_evaluated_with_gradients_and_returned() -> None:
    model = make_model()
    optimizer = AdaBound(model.parameters())
    batch = make_batch()

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(batch[0]), batch[1])
        loss.backward()
        return loss

    first = optimizer.step(closure)
    for _ in range(20):
        last = optimizer.step(closure)
    assert torch.is_tensor(first) and last < first


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float64])
def test_keeps_parameter_and_state_dtypes(dtype: torch.dtype) -> None:
    param = nn.Parameter(torch.ones(4, dtype=dtype))
    optimizer = AMSBound([param], lr=0.05, weight_decay=1e-3, track_clipping=True)
    param.grad = torch.full((4,), 0.5, dtype=dtype)
    optimizer.step()
    state = optimizer.state[param]
    assert param.dtype == dtype and param.lt(1).all()
    assert {state[k].dtype for k in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")} == {dtype}


def test_mixed_dtypes_in_one_group_equal_separate_optimizers() -> None:
    together = [nn.Parameter(torch.ones(3)), nn.Parameter(torch.ones(2, dtype=torch.float64))]
    apart = [nn.Parameter(torch.ones(3)), nn.Parameter(torch.ones(2, dtype=torch.float64))]
    joint = AdaBound(together, gamma=0.1)
    separate = [AdaBound([p], gamma=0.1) for p in apart]
    generator = torch.Generator().manual_seed(5)
    for _ in range(5):
        grads = [torch.randn(3, generator=generator), torch.randn(2, generator=generator, dtype=torch.float64)]
        for params in (together, apart):
            for param, grad in zip(params, grads):
                param.grad = grad.clone()
        joint.step()
        for optimizer in separate:
            optimizer.step()
    assert all(torch.equal(p, q) for p, q in zip(together, apart))


@pytest.mark.parametrize("options", [{"amsbound": True, "weight_decay": 1e-3}, {"decoupled_weight_decay": True, "weight_decay": 1e-3}])
def test_foreach_and_per_parameter_updates_are_identical(options: dict) -> None:
    foreach_model, single_model = make_model(), make_model()
    foreach = AdaBound(two_groups(foreach_model), gamma=0.05, foreach=True, **options)
    single = AdaBound(two_groups(single_model), gamma=0.05, foreach=False, **options)
    batch = make_batch()
    for _ in range(20):
        train_step(foreach_model, foreach, batch)
        train_step(single_model, single, batch)
    assert all(torch.equal(p, q) for p, q in zip(foreach_model.parameters(), single_model.parameters()))


@pytest.mark.parametrize("options", [{}, {"weight_decay": 1e-3}, {"weight_decay": 1e-3, "decoupled_weight_decay": True}])
def test_steps_emit_no_warnings(options: dict) -> None:
    model = make_model()
    optimizer = AMSBound(model.parameters(), track_clipping=True, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(2):
            train_step(model, optimizer, make_batch())


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"lr": 0.0}, ValueError, r"lr must be > 0, got 0.0"),
        ({"lr": -1e-3}, ValueError, r"lr must be > 0"),
        ({"final_lr": 0.0}, ValueError, r"final_lr must be > 0, got 0.0"),
        ({"gamma": 0.0}, ValueError, r"gamma must be > 0, got 0.0"),
        ({"gamma": -1.0}, ValueError, r"gamma must be > 0"),
        ({"eps": 0.0}, ValueError, r"eps must be > 0, got 0.0"),
        ({"eps": float("nan")}, ValueError, r"eps must be a finite number, got nan"),
        ({"betas": (1.0, 0.999)}, ValueError, r"betas\[0\] must be in \[0.0, 1.0\), got 1.0"),
        ({"betas": (0.9, -0.1)}, ValueError, r"betas\[1\] must be in \[0.0, 1.0\), got -0.1"),
        ({"betas": (0.9,)}, ValueError, r"betas must be a pair"),
        ({"betas": 0.9}, ValueError, r"betas must be a pair"),
        ({"weight_decay": -1e-4}, ValueError, r"weight_decay must be >= 0, got -0.0001"),
        ({"amsbound": "yes"}, ValueError, r"amsbound must be one of False, True; got 'yes'"),
        ({"decoupled_weight_decay": None}, ValueError, r"decoupled_weight_decay must be one of"),
        ({"track_clipping": "on"}, ValueError, r"track_clipping must be one of"),
        ({"foreach": "auto"}, ValueError, r"foreach must be one of None, False, True; got 'auto'"),
        ({"lr": "0.1"}, TypeError, r"lr must be a real number, got str"),
    ],
)
def test_rejects_bad_hyperparameters(options: dict, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        AdaBound([nn.Parameter(torch.ones(1))], **options)


@pytest.mark.parametrize(
    ("group", "message"),
    [
        ({"lr": -0.1}, r"param_groups\[1\]\.lr must be > 0, got -0.1"),
        ({"base_lr": 0.0}, r"param_groups\[1\]\.base_lr must be > 0, got 0.0"),
        ({"betas": (0.9, 1.5)}, r"param_groups\[1\]\.betas\[1\] must be in \[0.0, 1.0\)"),
    ],
)
def test_rejects_bad_group_hyperparameters_before_adding_the_group(group: dict, message: str) -> None:
    optimizer = AdaBound([nn.Parameter(torch.ones(1))])
    with pytest.raises(ValueError, match=message):
        optimizer.add_param_group({"params": [nn.Parameter(torch.ones(1))], **group})
    assert len(optimizer.param_groups) == 1


def test_rejects_sparse_gradients() -> None:
    embedding = nn.Embedding(10, 3, sparse=True)
    optimizer = AdaBound(embedding.parameters())
    embedding(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match=r"sparse gradients \(a parameter of shape \(10, 3\) in param group 0\)"):
        optimizer.step()


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((0, 0.1, 1e-3), ValueError, r"step must be > 0, got 0"),
        ((torch.tensor([1.0, 0.0]), 0.1, 1e-3), ValueError, r"step must be > 0 everywhere, got a minimum of 0.0"),
        ((torch.tensor([True]), 0.1, 1e-3), TypeError, r"step must be a real tensor"),
        ((1, 0.0, 1e-3), ValueError, r"final_lr must be > 0, got 0.0"),
        ((1, 0.1, -1.0), ValueError, r"gamma must be > 0, got -1.0"),
    ],
)
def test_bounds_rejects_bad_input(args: tuple, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        bounds(*args)


# --- no-bias-decay groups ---------------------------------------------------------------------


class TiedNet(nn.Module):
    """Conv (with bias), BatchNorm, a transposed conv, a linear layer and a scale vector,
    with the linear weight reused by a second head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.norm = nn.BatchNorm2d(4)
        self.up = nn.ConvTranspose2d(4, 2, 2, bias=False)
        self.head = nn.Linear(2, 5)
        self.scale = nn.Parameter(torch.ones(5))
        self.tied = nn.Linear(2, 5, bias=False)
        self.tied.weight = self.head.weight

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.up(self.norm(self.conv(images))).mean(dim=(2, 3))
        return self.head(features) * self.scale + self.tied(features)


def ids(params: list[torch.Tensor]) -> set[int]:
    return {id(p) for p in params}


def test_no_bias_decay_decays_conv_and_linear_weights_only() -> None:
    net = TiedNet()
    decayed, others = no_bias_decay(net, 5e-4)
    assert decayed["weight_decay"] == 5e-4 and others["weight_decay"] == 0.0
    assert ids(decayed["params"]) == ids([net.conv.weight, net.up.weight, net.head.weight])
    assert ids(others["params"]) == ids([net.conv.bias, net.norm.weight, net.norm.bias, net.head.bias, net.scale])
    assert len(decayed["params"]) + len(others["params"]) == len(list(net.parameters()))


@pytest.mark.parametrize("make_optimizer", [
    lambda groups: torch.optim.SGD(groups, lr=0.1, weight_decay=0.5),
    lambda groups: AdaBound(groups, weight_decay=0.5, decoupled_weight_decay=True),
])
def test_no_bias_decay_leaves_biases_and_batchnorm_alone(make_optimizer: Callable) -> None:
    """Bag of Tricks: with a zero loss gradient only conv/linear weights shrink."""
    net = TiedNet()
    before = {name: p.detach().clone() for name, p in net.named_parameters()}
    optimizer = make_optimizer(no_bias_decay(net, 0.5))
    for param in net.parameters():
        param.grad = torch.zeros_like(param)
    optimizer.step()
    changed = {name for name, p in net.named_parameters() if not torch.equal(p, before[name])}
    assert changed == {"conv.weight", "up.weight", "head.weight"}


def test_no_bias_decay_rejects_bad_input() -> None:
    with pytest.raises(TypeError, match=r"model must be a torch.nn.Module, got list"):
        no_bias_decay([nn.Parameter(torch.ones(1))], 5e-4)
    with pytest.raises(ValueError, match=r"weight_decay must be >= 0, got -1.0"):
        no_bias_decay(make_model(), -1.0)

