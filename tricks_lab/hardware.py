"""How a device is named in results, records and the notebooks' first line."""

from __future__ import annotations

import platform

import torch

__all__ = ["device_name"]


def device_name(device: torch.device | str, world: int = 1) -> str:
    """``"NVIDIA H100 80GB HBM3"``, ``"CPU (x86_64, 2 threads)"``, or ``"4 x ..."`` for ``world`` processes."""
    device = torch.device(device)
    if world > 1:
        return f"{world} x {device_name(device)}"
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"
