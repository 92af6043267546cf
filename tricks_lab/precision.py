"""Numeric precision of training and evaluation: which autocast a device gets.

Mixed precision (Micikevicius et al., 2018, "Mixed Precision Training") runs
matrix multiplies and convolutions in a 16-bit format and keeps the weights,
reductions and the loss in float32. bf16 keeps float32's 8-bit exponent (the
same range) with a 7-bit mantissa; fp16 has a 5-bit exponent, so small
gradients underflow and need loss scaling (``torch.amp.GradScaler``).

``"auto"`` picks bf16 on GPUs with native bf16 (Ampere and newer), fp16 on
older GPUs (Colab's T4, where bf16 is only emulated), and fp32 on the CPU: on
CPUs without AVX-512 bf16 instructions autocast to bf16 is emulated and much
slower (``bench/train_speed.py`` measures it).
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch

from ._validation import check_choice

__all__ = ["PRECISIONS", "autocast", "needs_grad_scaler", "resolve_precision"]

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """``"auto"`` -> ``"bf16"`` on a GPU with native bf16, ``"fp16"`` on other GPUs, ``"fp32"`` on CPU."""
    check_choice("precision", precision, PRECISIONS)
    if precision != "auto":
        return precision
    if torch.device(device).type != "cuda":
        return "fp32"
    return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp16"


def autocast(precision: str, device: torch.device | str) -> Any:
    """The autocast context of a resolved ``precision`` (a no-op context for fp32)."""
    check_choice("precision", precision, PRECISIONS[1:])
    if precision == "fp32":
        return nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def needs_grad_scaler(precision: str) -> bool:
    """Only fp16 needs loss scaling: bf16 has float32's exponent range, so gradients do not underflow."""
    check_choice("precision", precision, PRECISIONS[1:])
    return precision == "fp16"
