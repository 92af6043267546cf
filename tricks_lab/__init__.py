"""tricks_lab: reference implementations of the training tricks for CIFAR-style CNNs.

Modules, one family of tricks each: ``data`` (CIFAR-10), ``loader`` (the
GPU-resident loader), ``models``, ``train``, ``experiments``, ``schedules``,
``losses``, ``metrics``, ``mixing``, ``occlusion``, ``autoaugment``, ``optim``,
and, with the ``[plots]`` extra, ``plotting`` and ``widgets``. Import them as
``from tricks_lab import mixing``.

The main entry points are also importable from here, e.g.
``from tricks_lab import BASELINE, compare, fit, load_cifar10``. They load on
first use, so ``import tricks_lab`` stays cheap (no torch import).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Name -> the modules that may define it, first match wins (a name that moves keeps working).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "Recipe": ("recipe",),
    "BASELINE": ("recipe",),
    "run": ("experiments",),
    "compare": ("experiments",),
    "Comparison": ("results", "experiments"),
    "Result": ("results", "experiments"),
    "fit": ("train",),
    "evaluate": ("evaluation", "train"),
    "predict": ("evaluation", "train"),
    "load_cifar10": ("data",),
    "GpuLoader": ("loader",),
    "resolve_profile": ("profiles",),
    "setup": ("notebook",),
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    """Import an entry point on first access."""
    for module_name in _EXPORTS.get(name, ()):
        try:
            module = importlib.import_module(f".{module_name}", __name__)
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{module_name}":
                raise
            continue
        if hasattr(module, name):
            value = getattr(module, name)
            globals()[name] = value
            return value
    if name in _EXPORTS:
        raise AttributeError(f"tricks_lab.{name} is listed in tricks_lab._EXPORTS but none of "
                             f"{_EXPORTS[name]} defines it")
    raise AttributeError(f"module 'tricks_lab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
