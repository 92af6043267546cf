"""Small fake CIFAR-10 copies in every accepted format, and a tiny profile for unit tests."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from tricks_lab import data as data_module
from tricks_lab.profiles import Profile
from tricks_lab.recipe import Recipe
from tricks_lab.results import History, Result

FAKE_PER_CLASS = {"train": 4, "test": 2}


def fake_split(split: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random images with labels 0..9, FAKE_PER_CLASS[split] of each."""
    rng = np.random.default_rng(seed + (split == "test"))
    labels = np.repeat(np.arange(10), FAKE_PER_CLASS[split]).astype(np.int64)
    images = rng.integers(0, 256, (len(labels), 32, 32, 3), dtype=np.uint8)
    return images, labels


def write_batches(folder: Path) -> Path:
    """A cifar-10-batches-py folder (5 training batches and a test batch) of fake images."""
    folder.mkdir(parents=True)
    images, labels = fake_split("train")
    for i, (xs, ys) in enumerate(zip(np.array_split(images, 5), np.array_split(labels, 5)), start=1):
        _dump(folder / f"data_batch_{i}", xs, ys)
    _dump(folder / "test_batch", *fake_split("test"))
    return folder


def _dump(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    flat = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    with open(path, "wb") as handle:
        pickle.dump({"data": flat, "labels": labels.tolist()}, handle)


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def write_image_zip(path: Path, prefix: str = "") -> Path:
    """An ImageFolder zip (lossless PNGs, so pixels can be compared exactly)."""
    with zipfile.ZipFile(path, "w") as archive:
        for split in ("train", "test"):
            images, labels = fake_split(split)
            for i, (image, label) in enumerate(zip(images, labels)):
                archive.writestr(f"{prefix}{split}/{data_module.CLASSES[label]}/{i:04d}.png", png_bytes(image))
    return path


TINY = Profile("tiny", "cpu", 20, 10, 0.125, 0.125, 1 / 16, None, "tests: 200 / 100 images, 2 epochs")
"""A profile small enough for unit tests: 200 train / 100 test images, batch 32, 1/8 of the epochs."""


def fake_result(recipe: Recipe, seed: int, test_acc: float, val_acc: float | None = None,
                profile: str = "lab") -> Result:
    """A finished one-epoch run with the given accuracies (``val_acc`` defaults to ``test_acc``)."""
    history = History(epoch=[1], train_loss=[1.0], train_acc=[0.5], test_acc=[test_acc], lr=[0.1], seconds=[1.0],
                      step_loss=[1.0], step_lr=[0.1])
    return Result(recipe, profile, seed, test_acc, history, 1.0, 1.0, "data", "cpu", "fp32",
                  val_acc=test_acc if val_acc is None else val_acc)
