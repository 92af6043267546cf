"""CIFAR-10: find it, read it, cache it decoded, and take balanced subsets.

CIFAR-10 (Krizhevsky, 2009, "Learning Multiple Layers of Features from Tiny
Images") has 50,000 training and 10,000 test images of 32 x 32 RGB pixels in
ten classes. :func:`load_cifar10` accepts the copies people actually have:

- torchvision's ``cifar-10-batches-py`` folder (the original release, pickled
  batches), downloaded through torchvision when that is allowed;
- an ``ImageFolder`` tree ``train/<class>/*.jpg``, ``test/<class>/*.jpg``, or a
  zip of one, such as ``cifar10-jpeg.zip`` (a JPEG quality-75 re-encoding of
  the original pixels, hence slightly lossy: results on it say so through
  :attr:`CIFAR10.source`).

Decoding 60,000 JPEGs takes seconds; the decoded arrays are cached as ``.npy``
files that the next load reads in well under a second. The cache is validated
(shapes, counts per split and per class, label range) and rebuilt when it is
stale or corrupt.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ._validation import check_positive_int
from .cache import atomic_save_npy, atomic_write_json, cache_root

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "balanced_indices",
    "balanced_subset",
    "BATCHES_DIR",
    "CIFAR10",
    "CLASSES",
    "DATA_ENV",
    "DatasetCorruptError",
    "DatasetNotFoundError",
    "DOWNLOAD_ENV",
    "IMAGE_SHAPE",
    "iter_class_examples",
    "load_cifar10",
    "SOURCE_ORIGINAL",
    "SPLIT_SIZES",
    "ZIP_NAME",
]

DATA_ENV = "TRICKS_LAB_DATA"
DOWNLOAD_ENV = "TRICKS_LAB_DOWNLOAD"
CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
# Per-channel mean and standard deviation of CIFAR-10's 50,000 training images,
# as fractions of 255. (The std (0.2023, 0.1994, 0.2010) copied across many
# repositories is not the dataset's std: it averages per-image stds.)
CIFAR10_MEAN: tuple[float, float, float] = (0.4914, 0.4822, 0.4465)
CIFAR10_STD: tuple[float, float, float] = (0.2470, 0.2435, 0.2616)
SPLIT_SIZES: dict[str, int] = {"train": 50_000, "test": 10_000}
IMAGE_SHAPE = (32, 32, 3)
ZIP_NAME = "cifar10-jpeg.zip"
BATCHES_DIR = "cifar-10-batches-py"
SOURCE_ORIGINAL = "cifar-10 original (torchvision)"
_CACHE_FORMAT = 1


class DatasetNotFoundError(FileNotFoundError):
    """No usable CIFAR-10 copy in any of the places searched."""


class DatasetCorruptError(ValueError):
    """A CIFAR-10 copy was found but is unreadable, truncated or laid out wrongly."""


@dataclass(frozen=True)
class CIFAR10:
    """CIFAR-10 as arrays: images uint8 ``(N, 32, 32, 3)``, labels int64 ``(N,)``."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    classes: tuple[str, ...]
    source: str

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(images, labels)`` of the ``"train"`` or ``"test"`` split."""
        if name == "train":
            return self.train_images, self.train_labels
        if name == "test":
            return self.test_images, self.test_labels
        raise ValueError(f"split must be 'train' or 'test', got {name!r}")


def load_cifar10(
    root: str | os.PathLike[str] | None = None,
    download: bool | None = None,
) -> CIFAR10:
    """Load CIFAR-10 from the first place that has it.

    Looks in ``root``, then ``$TRICKS_LAB_DATA``, then the cache folder
    (``$TRICKS_LAB_CACHE`` or ``~/.cache/tricks_lab``). In each place it
    accepts the place itself being a copy (a ``cifar-10-batches-py`` folder,
    an ImageFolder tree, a zip of one) or holding one (``cifar-10-batches-py/``,
    ``cifar10-jpeg.zip``, ``cifar10/``). If none is found and downloading is
    allowed (``download=True``; with ``None``, on Colab or when
    ``$TRICKS_LAB_DOWNLOAD=1``), torchvision downloads the original release
    into the cache folder. Otherwise raises :class:`DatasetNotFoundError`
    listing every place searched.
    """
    places = _search_places(root)
    for place in places:
        copy = _find_copy(place)
        if copy is not None:
            return _load_cached(copy)
    if _download_allowed(download):
        return _load_cached(_download_original(cache_root() / "data"))
    looked = "\n".join(f"  - {p}" for p in places) or "  (no place configured)"
    raise DatasetNotFoundError(
        "CIFAR-10 was not found. Looked in:\n"
        f"{looked}\n"
        f"Fix: point ${DATA_ENV} (or load_cifar10(root=...)) at a folder holding "
        f"'{BATCHES_DIR}/', '{ZIP_NAME}' or an ImageFolder tree with train/ and test/; "
        f"or allow the download of the original release with load_cifar10(download=True) "
        f"or ${DOWNLOAD_ENV}=1."
    )


def balanced_subset(
    images: np.ndarray, labels: np.ndarray, per_class: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A seeded, class-balanced subset: ``per_class`` images of every class.

    The chosen indices are sorted, so the subset keeps the data's own order;
    the same ``seed`` always gives the same subset.
    """
    if len(images) != len(labels):
        raise ValueError(f"images and labels differ in length: {len(images)} vs {len(labels)}")
    index = balanced_indices(labels, per_class, seed)
    return images[index], labels[index]


def balanced_indices(labels: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of a seeded, class-balanced choice of ``per_class`` items of every class."""
    check_positive_int("per_class", per_class)
    rng = np.random.default_rng(seed)
    chosen = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        if len(members) < per_class:
            raise ValueError(
                f"per_class={per_class} exceeds the {len(members)} images of class {int(cls)}"
            )
        chosen.append(rng.choice(members, size=per_class, replace=False))
    return np.sort(np.concatenate(chosen))


# -- where to look ---------------------------------------------------------


@dataclass(frozen=True)
class _Copy:
    kind: str  # "batches" | "zip" | "tree"
    path: Path

    @property
    def source(self) -> str:
        if self.kind == "batches":
            return SOURCE_ORIGINAL
        if self.kind == "zip":
            return f"{self.path.name} (JPEG q75 copy)" if self.path.name == ZIP_NAME else (
                f"{self.path.name} (ImageFolder zip)"
            )
        return f"{self.path} (ImageFolder tree)"


def _search_places(root: str | os.PathLike[str] | None) -> list[Path]:
    places = []
    if root is not None:
        places.append(Path(root).expanduser())
    env = os.environ.get(DATA_ENV)
    if env:
        places.append(Path(env).expanduser())
    places.append(cache_root() / "data")
    return places


def _find_copy(place: Path) -> _Copy | None:
    if place.is_file() and place.suffix == ".zip":
        return _Copy("zip", place)
    if not place.is_dir():
        return None
    if (place / "data_batch_1").is_file():
        return _Copy("batches", place)
    if (place / BATCHES_DIR / "data_batch_1").is_file():
        return _Copy("batches", place / BATCHES_DIR)
    if (place / ZIP_NAME).is_file():
        return _Copy("zip", place / ZIP_NAME)
    for tree in (place, place / "cifar10"):
        if (tree / "train").is_dir() and (tree / "test").is_dir():
            return _Copy("tree", tree)
    return None


def _download_allowed(download: bool | None) -> bool:
    if download is not None:
        return download
    import sys

    return "google.colab" in sys.modules or os.environ.get(DOWNLOAD_ENV) == "1"


def _download_original(folder: Path) -> _Copy:
    from torchvision.datasets import CIFAR10 as TorchvisionCIFAR10

    TorchvisionCIFAR10(str(folder), train=True, download=True)
    return _Copy("batches", folder / BATCHES_DIR)


# -- the decoded-array cache -----------------------------------------------


_ARRAYS = ("train_images", "train_labels", "test_images", "test_labels")


def _fingerprint(copy: _Copy) -> dict[str, object]:
    if copy.kind == "zip":
        stat = copy.path.stat()
        return {"path": str(copy.path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    files = sorted(p for p in copy.path.rglob("*") if p.is_file())
    newest = max((p.stat().st_mtime_ns for p in files), default=0)
    return {"path": str(copy.path.resolve()), "files": len(files), "mtime_ns": newest}


def _cache_folder(copy: _Copy) -> Path:
    import hashlib

    key = hashlib.sha256(str(copy.path.resolve()).encode()).hexdigest()[:16]
    return cache_root() / "decoded" / f"cifar10-{copy.kind}-{key}"


def _load_cached(copy: _Copy) -> CIFAR10:
    folder = _cache_folder(copy)
    meta_path = folder / "meta.json"
    expected_meta = {"format": _CACHE_FORMAT, "fingerprint": _fingerprint(copy), "source": copy.source}
    cached = _read_cache(folder, meta_path, expected_meta)
    if cached is not None:
        return cached
    data = _decode(copy)
    for name in _ARRAYS:
        atomic_save_npy(folder / f"{name}.npy", getattr(data, name))
    atomic_write_json(meta_path, expected_meta)
    return data


def _read_cache(folder: Path, meta_path: Path, expected_meta: dict[str, object]) -> CIFAR10 | None:
    try:
        meta = json.loads(meta_path.read_text())
        if meta != expected_meta:
            return None
        arrays = {name: np.load(folder / f"{name}.npy", allow_pickle=False) for name in _ARRAYS}
        data = CIFAR10(**arrays, classes=CLASSES, source=str(meta["source"]))
        _validate(data, origin=f"cache {folder}")
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None
    return data


def _validate(data: CIFAR10, origin: str) -> None:
    for split, size in SPLIT_SIZES.items():
        images, labels = data.split(split)
        if images.shape != (size, *IMAGE_SHAPE) or images.dtype != np.uint8:
            raise DatasetCorruptError(
                f"{origin}: {split} images have shape {images.shape} and dtype {images.dtype}, "
                f"expected {(size, *IMAGE_SHAPE)} uint8"
            )
        if labels.shape != (size,) or labels.dtype != np.int64:
            raise DatasetCorruptError(f"{origin}: {split} labels have shape {labels.shape}, expected ({size},)")
        counts = np.bincount(labels, minlength=len(CLASSES)) if labels.min() >= 0 else None
        if counts is None or len(counts) != len(CLASSES) or np.any(counts != size // len(CLASSES)):
            raise DatasetCorruptError(
                f"{origin}: {split} labels are not {size // len(CLASSES)} per class in "
                f"[0, {len(CLASSES)}): counts {None if counts is None else counts.tolist()}"
            )


# -- decoding each format --------------------------------------------------


def _decode(copy: _Copy) -> CIFAR10:
    if copy.kind == "batches":
        splits = _read_batches(copy.path)
    elif copy.kind == "zip":
        splits = _read_zip(copy.path)
    else:
        splits = _read_tree(copy.path)
    data = CIFAR10(
        train_images=splits["train"][0], train_labels=splits["train"][1],
        test_images=splits["test"][0], test_labels=splits["test"][1],
        classes=CLASSES, source=copy.source,
    )
    _validate(data, origin=str(copy.path))
    return data


def _read_batches(folder: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    files = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
    out = {}
    for split, names in files.items():
        images, labels = [], []
        for name in names:
            path = folder / name
            try:
                with open(path, "rb") as handle:
                    batch = pickle.load(handle, encoding="latin1")
                pixels = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
                images.append(pixels.transpose(0, 2, 3, 1))
                labels.append(np.asarray(batch["labels"], dtype=np.int64))
            except (OSError, pickle.UnpicklingError, EOFError, KeyError, ValueError) as err:
                raise DatasetCorruptError(f"cannot read CIFAR-10 batch file {path}: {err}") from err
        out[split] = (np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels))
    return out


def _read_zip(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise DatasetCorruptError(f"{path} is not a readable zip file ({err}); is it truncated?") from err
    with archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
        prefix = _zip_prefix(names, path)

        def read(member: str) -> bytes:
            try:
                return archive.read(member)
            except (zipfile.BadZipFile, OSError, EOFError) as err:
                raise DatasetCorruptError(f"{path}: cannot read member {member} ({err})") from err

        return {
            split: _decode_members(_members(names, prefix + split + "/", path), read, path)
            for split in SPLIT_SIZES
        }


def _read_tree(folder: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for split in SPLIT_SIZES:
        names = [str(p.relative_to(folder)) for p in (folder / split).rglob("*") if p.is_file()]
        members = _members(names, split + "/", folder)
        out[split] = _decode_members(members, lambda m: (folder / m).read_bytes(), folder)
    return out


def _zip_prefix(names: list[str], path: Path) -> str:
    """The folder inside the zip that holds train/ and test/ ('' or 'something/')."""
    for name in names:
        parts = name.split("/")
        if "train" in parts[:-1]:
            return "/".join(parts[: parts.index("train")]) + ("/" if parts.index("train") else "")
    raise DatasetCorruptError(f"{path}: no train/<class>/ folder inside; expected an ImageFolder zip")


def _members(names: list[str], prefix: str, origin: Path) -> list[tuple[str, int]]:
    """``(member, label)`` for every image under ``prefix<class>/``, sorted."""
    members = []
    for name in sorted(n for n in names if n.startswith(prefix)):
        parts = name[len(prefix):].split("/")
        if len(parts) != 2 or parts[0] not in CLASSES:
            raise DatasetCorruptError(
                f"{origin}: unexpected entry {name}; expected {prefix}<class>/<image> with a class "
                f"among {', '.join(CLASSES)}"
            )
        members.append((name, CLASSES.index(parts[0])))
    return members


def _decode_members(
    members: list[tuple[str, int]], read: Callable[[str], bytes], origin: Path
) -> tuple[np.ndarray, np.ndarray]:
    images = np.empty((len(members), *IMAGE_SHAPE), dtype=np.uint8)
    labels = np.empty(len(members), dtype=np.int64)
    for i, (member, label) in enumerate(members):
        images[i] = _decode_image(read(member), member, origin)
        labels[i] = label
    return images, labels


def _decode_image(payload: bytes, member: str, origin: Path) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(payload)) as image:
            pixels = np.asarray(image.convert("RGB"))
    except (OSError, ValueError) as err:
        raise DatasetCorruptError(f"{origin}: cannot decode image {member} ({err})") from err
    if pixels.shape != IMAGE_SHAPE:
        raise DatasetCorruptError(f"{origin}: image {member} is {pixels.shape}, expected {IMAGE_SHAPE}")
    return pixels


def iter_class_examples(data: CIFAR10, per_class: int) -> Iterator[tuple[str, np.ndarray]]:
    """The first ``per_class`` training images of every class, for a gallery figure."""
    check_positive_int("per_class", per_class)
    for index, name in enumerate(data.classes):
        yield name, data.train_images[np.flatnonzero(data.train_labels == index)[:per_class]]
