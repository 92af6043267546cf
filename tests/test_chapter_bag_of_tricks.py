"""Pitfalls named in the Bag of Tricks chapter (12), pinned."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tricks_lab.models import build_model, make_shortcut, residual_blocks
from tricks_lab.optim import no_bias_decay


def _downsampling_block(model: nn.Module) -> nn.Module:
    return next(b for b in residual_blocks(model) if not isinstance(b.shortcut, nn.Identity))


def _bn_gammas(model: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in model.modules() if isinstance(m, nn.BatchNorm2d)]


# --- no bias decay --------------------------------------------------------------------------


def test_weight_decay_through_model_parameters_shrinks_bn_gamma() -> None:
    # With zero gradients, SGD's weight decay alone moves a parameter: p <- p (1 - lr wd).
    # Through model.parameters() that reaches every BN gamma and beta; no_bias_decay's groups do not.
    lr, wd, steps = 0.1, 0.5, 10
    for groups, shrinks in ((None, True), ("no_bias_decay", False)):
        torch.manual_seed(0)
        model = build_model("resnet20")
        params = model.parameters() if groups is None else no_bias_decay(model, wd)
        opt = torch.optim.SGD(params, lr=lr, weight_decay=wd if groups is None else 0.0)
        for p in model.parameters():
            p.grad = torch.zeros_like(p)
        for _ in range(steps):
            opt.step()
        gammas = torch.cat([g.detach() for g in _bn_gammas(model)])
        expected = (1 - lr * wd) ** steps if shrinks else 1.0
        torch.testing.assert_close(gammas, torch.full_like(gammas, expected))
        conv = model.stem[0][0].weight
        assert conv.abs().sum() > 0


def test_no_bias_decay_exempts_exactly_the_bn_and_bias_parameters() -> None:
    model = build_model("fastnet_residual", width=0.25)
    decayed, exempt = no_bias_decay(model, 5e-4)
    bn_and_bias = {id(p) for m in model.modules() if isinstance(m, nn.BatchNorm2d) for p in (m.weight, m.bias)}
    bn_and_bias.add(id(model.head.bias))
    assert {id(p) for p in exempt["params"]} == bn_and_bias
    assert all(p.ndim > 1 for p in decayed["params"])


# --- zero-gamma -----------------------------------------------------------------------------


def test_downsampling_blocks_are_not_the_identity_under_zero_gamma() -> None:
    # The seed: "all residual blocks just return their input". Identity blocks do; a downsampling
    # block returns relu(shortcut(x)), a subsampled (A) or projected (B, D) map of a different shape.
    for shortcut in ("A", "B", "D"):
        block = _downsampling_block(build_model("resnet20", zero_init_residual=True, shortcut=shortcut)).train()
        x = torch.relu(torch.randn(4, 16, 8, 8))
        with torch.no_grad():
            out = block(x)
            torch.testing.assert_close(out, torch.relu(block.shortcut(x)))
        assert out.shape != x.shape


def test_zero_gamma_on_the_shortcut_bn_breaks_the_identity() -> None:
    torch.manual_seed(0)
    x = torch.relu(torch.randn(8, 16, 8, 8))
    right = _downsampling_block(build_model("resnet20", zero_init_residual=True, shortcut="B")).train()
    wrong = _downsampling_block(build_model("resnet20", shortcut="B")).train()
    nn.init.zeros_(wrong.shortcut[-1].weight)  # the BN after the shortcut's conv
    with torch.no_grad():
        torch.testing.assert_close(right(x), torch.relu(right.shortcut(x)))
        # the wrong one starts as its residual branch alone: the shortcut contributes nothing
        branch = wrong.bn2(wrong.conv2(torch.relu(wrong.bn1(wrong.conv1(x)))))
        torch.testing.assert_close(wrong(x), torch.relu(branch))
        assert (wrong(x) - torch.relu(wrong.shortcut(x))).abs().max() > 0.5


def test_zero_gamma_on_every_bn_makes_the_output_constant() -> None:
    torch.manual_seed(0)
    model = build_model("resnet20").train()
    for gamma in _bn_gammas(model):
        nn.init.zeros_(gamma)
    images = torch.randn(8, 3, 32, 32)
    logits = model(images)
    torch.testing.assert_close(logits, logits[:1].expand_as(logits))
    logits.sum().backward()
    convs = [m.weight for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert all(torch.count_nonzero(w.grad) == 0 for w in convs)


# --- low precision --------------------------------------------------------------------------


def test_fp16_gradient_underflows_and_survives_loss_scaling() -> None:
    def grad(scale: float) -> torch.Tensor:
        w = torch.ones(4, dtype=torch.float16, requires_grad=True)
        x = torch.full((4,), 1e-3, dtype=torch.float16)
        ((w * x).sum() * 1e-5 * scale).backward()
        return w.grad.float() / scale

    assert torch.count_nonzero(grad(1.0)) == 0  # 1e-8 is below fp16's smallest subnormal (2^-24)
    torch.testing.assert_close(grad(2.0**12), torch.full((4,), 1e-8), rtol=0.01, atol=0)
    assert torch.isinf(grad(2.0**16)).all()  # 2^16 itself exceeds fp16's largest value, 65504
    assert float(torch.tensor(1e-8).bfloat16()) != 0.0  # bf16 has fp32's exponent range
    assert torch.finfo(torch.bfloat16).smallest_normal == torch.finfo(torch.float32).smallest_normal


def test_grad_scaler_with_bf16_leaves_the_gradients_unchanged() -> None:
    # A GradScaler multiplies the loss by a power of two and divides the gradients by it: exact in
    # binary floating point, so with bf16 (no underflow to prevent) it changes nothing but costs an
    # inf/NaN check per step, and it grows its scale every growth_interval steps.
    def gradients(use_scaler: bool) -> tuple[list[torch.Tensor], float]:
        torch.manual_seed(0)
        model = build_model("fastnet_residual", width=0.125)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        scaler = torch.amp.GradScaler("cpu", enabled=use_scaler, growth_interval=1)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = nn.functional.cross_entropy(model(torch.randn(4, 3, 32, 32)), torch.arange(4))
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        grads = [p.grad.clone() for p in model.parameters()]
        scaler.step(opt)
        scaler.update()
        return grads, scaler.get_scale() if use_scaler else 1.0

    plain, _ = gradients(False)
    scaled, next_scale = gradients(True)
    for a, b in zip(plain, scaled):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert next_scale == 2.0**17  # no inf found: the scale only grows


# --- shortcuts ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [7, 15])
def test_avg_pool_without_ceil_mode_drops_the_last_row(size: int) -> None:
    x = torch.randn(1, 4, size, size)
    branch = nn.Conv2d(4, 8, 3, stride=2, padding=1)(x)
    naive = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(4, 8, 1))(x)
    assert naive.shape[-1] == size // 2 < branch.shape[-1] == (size + 1) // 2
    with pytest.raises(RuntimeError):
        naive + branch  # noqa: B018 - the sum of a residual block fails
    assert make_shortcut("D", 4, 8, 2)(x).shape == branch.shape


# --- momentum -------------------------------------------------------------------------------


def test_torch_nesterov_is_sutskever_nesterov_at_the_look_ahead_point() -> None:
    # Sutskever et al. (2013): v <- mu v - lr grad(theta + mu v); theta <- theta + v.
    # torch: b <- mu b + g; p <- p - lr (g + mu b), with g = grad(p). Then p_t = theta_t + mu v_t.
    a = torch.diag(torch.tensor([1.0, 10.0], dtype=torch.float64))
    mu, lr = 0.9, 0.05
    theta, v = torch.tensor([1.0, -2.0], dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    p = theta.clone().requires_grad_()
    opt = torch.optim.SGD([p], lr=lr, momentum=mu, nesterov=True)
    for _ in range(30):
        v = mu * v - lr * (a @ (theta + mu * v))
        theta = theta + v
        p.grad = a @ p.detach()
        opt.step()
        torch.testing.assert_close(p.detach(), theta + mu * v)
    # heavy ball differs from it
    q = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    heavy = torch.optim.SGD([q], lr=lr, momentum=mu)
    for _ in range(30):
        q.grad = a @ q.detach()
        heavy.step()
    assert not torch.allclose(q.detach(), p.detach())
