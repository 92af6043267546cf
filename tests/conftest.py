"""Shared fixtures: an isolated cache folder, shrunken split sizes, the real offline copy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fakes import FAKE_PER_CLASS
from tricks_lab import data as data_module

import torch

# The tests use small tensors: one thread is faster than two contending ones.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test writes its cache (decoded data, runs) to a fresh folder."""
    root = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("TRICKS_LAB_CACHE", str(root))
    monkeypatch.setenv("TRICKS_LAB_QUIET", "1")
    return root


@pytest.fixture
def small_sizes(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Shrink the expected split sizes to the fake copies' 40 train / 20 test images."""
    sizes = {split: n * len(data_module.CLASSES) for split, n in FAKE_PER_CLASS.items()}
    monkeypatch.setattr(data_module, "SPLIT_SIZES", sizes)
    return sizes


@pytest.fixture(scope="session")
def real_cifar10(tmp_path_factory: pytest.TempPathFactory):
    """The shared offline CIFAR-10 copy ($TRICKS_LAB_DATA), decoded once per session."""
    place = os.environ.get("TRICKS_LAB_DATA")
    if not place or data_module._find_copy(Path(place)) is None:
        pytest.skip("TRICKS_LAB_DATA does not point at a CIFAR-10 copy (CI sets it to ../shared/data)")
    cache = tmp_path_factory.mktemp("real-cache")
    previous = os.environ.get("TRICKS_LAB_CACHE")
    os.environ["TRICKS_LAB_CACHE"] = str(cache)
    try:
        yield data_module.load_cifar10(place)
    finally:
        if previous is None:
            os.environ.pop("TRICKS_LAB_CACHE", None)
        else:
            os.environ["TRICKS_LAB_CACHE"] = previous
