"""tricks_lab.data: every accepted format, the decoded cache, subsets and the error paths."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from tricks_lab import data as data_module
from tricks_lab.data import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    CLASSES,
    DatasetCorruptError,
    DatasetNotFoundError,
    balanced_indices,
    balanced_subset,
    load_cifar10,
)

from fakes import fake_split, png_bytes, write_batches, write_image_zip


@pytest.fixture
def no_env_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRICKS_LAB_DATA", raising=False)
    monkeypatch.delenv("TRICKS_LAB_DOWNLOAD", raising=False)


def assert_matches_fake(data: data_module.CIFAR10) -> None:
    for split in ("train", "test"):
        images, labels = data.split(split)
        want_images, want_labels = fake_split(split)
        order = np.lexsort((np.arange(len(labels)), labels))
        np.testing.assert_array_equal(labels[order], want_labels)
        np.testing.assert_array_equal(np.sort(images.reshape(len(images), -1), axis=0),
                                      np.sort(want_images.reshape(len(want_images), -1), axis=0))


def test_reads_torchvision_batches_folder(tmp_path: Path, small_sizes, no_env_data) -> None:
    write_batches(tmp_path / "cifar-10-batches-py")
    data = load_cifar10(tmp_path)
    assert data.source == "cifar-10 original (torchvision)"
    assert data.classes == CLASSES
    np.testing.assert_array_equal(data.train_images, fake_split("train")[0])
    np.testing.assert_array_equal(data.test_labels, fake_split("test")[1])


@pytest.mark.parametrize("prefix", ["", "CIFAR-10-images/"])
def test_reads_image_folder_zip_with_or_without_top_folder(
    tmp_path: Path, small_sizes, no_env_data, prefix: str
) -> None:
    zip_path = write_image_zip(tmp_path / "cifar10-jpeg.zip", prefix=prefix)
    data = load_cifar10(zip_path)
    assert data.source == "cifar10-jpeg.zip (JPEG q75 copy)"
    assert_matches_fake(data)


def test_reads_image_folder_tree(tmp_path: Path, small_sizes, no_env_data) -> None:
    zip_path = write_image_zip(tmp_path / "copy.zip")
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(tmp_path / "cifar10")
    data = load_cifar10(tmp_path)
    assert data.source.endswith("(ImageFolder tree)")
    assert_matches_fake(data)


def test_search_order_root_then_env(tmp_path: Path, small_sizes, monkeypatch) -> None:
    write_batches(tmp_path / "a" / "cifar-10-batches-py")
    write_image_zip(tmp_path / "b.zip")
    monkeypatch.setenv("TRICKS_LAB_DATA", str(tmp_path / "b.zip"))
    assert load_cifar10(tmp_path / "a").source.startswith("cifar-10 original")
    assert load_cifar10().source == "b.zip (ImageFolder zip)"


def test_second_load_comes_from_the_cache(tmp_path: Path, small_sizes, no_env_data, monkeypatch) -> None:
    write_image_zip(tmp_path / "cifar10-jpeg.zip")
    first = load_cifar10(tmp_path)

    def no_decoding(copy):
        raise AssertionError("decoded again instead of using the cache")

    monkeypatch.setattr(data_module, "_decode", no_decoding)
    second = load_cifar10(tmp_path)
    np.testing.assert_array_equal(first.train_images, second.train_images)
    assert second.source == first.source


def test_corrupt_cache_is_rebuilt(tmp_path: Path, small_sizes, no_env_data, isolated_cache: Path) -> None:
    write_batches(tmp_path / "cifar-10-batches-py")
    load_cifar10(tmp_path)
    [cached] = list(isolated_cache.glob("decoded/*/train_images.npy"))
    cached.write_bytes(cached.read_bytes()[:100])  # truncated
    data = load_cifar10(tmp_path)
    np.testing.assert_array_equal(data.train_images, fake_split("train")[0])


def test_stale_cache_is_rebuilt_when_the_copy_changes(tmp_path: Path, small_sizes, no_env_data) -> None:
    folder = write_batches(tmp_path / "cifar-10-batches-py")
    load_cifar10(tmp_path)
    images, labels = fake_split("test", seed=7)
    import pickle

    with open(folder / "test_batch", "wb") as handle:
        pickle.dump({"data": images.transpose(0, 3, 1, 2).reshape(len(images), -1),
                     "labels": labels.tolist()}, handle)
    np.testing.assert_array_equal(load_cifar10(tmp_path).test_images, images)


def test_not_found_lists_every_place(tmp_path: Path, monkeypatch, isolated_cache: Path) -> None:
    monkeypatch.setenv("TRICKS_LAB_DATA", str(tmp_path / "env-place"))
    with pytest.raises(DatasetNotFoundError) as info:
        load_cifar10(tmp_path / "given", download=False)
    message = str(info.value)
    for place in (tmp_path / "given", tmp_path / "env-place", isolated_cache / "data"):
        assert str(place) in message
    assert "TRICKS_LAB_DATA" in message and "download=True" in message


def test_truncated_zip_is_a_clear_error(tmp_path: Path, small_sizes, no_env_data) -> None:
    zip_path = write_image_zip(tmp_path / "cifar10-jpeg.zip")
    zip_path.write_bytes(zip_path.read_bytes()[: zip_path.stat().st_size // 2])
    with pytest.raises(DatasetCorruptError, match="cifar10-jpeg.zip"):
        load_cifar10(zip_path)


def test_unreadable_image_names_the_file(tmp_path: Path, small_sizes, no_env_data) -> None:
    zip_path = tmp_path / "broken.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        for split in ("train", "test"):
            images, labels = fake_split(split)
            for i, (image, label) in enumerate(zip(images, labels)):
                payload = b"not an image" if (split, i) == ("train", 3) else png_bytes(image)
                archive.writestr(f"{split}/{CLASSES[label]}/{i:04d}.png", payload)
    with pytest.raises(DatasetCorruptError, match="train/airplane/0003.png"):
        load_cifar10(zip_path)


def test_missing_images_never_give_a_smaller_dataset(tmp_path: Path, small_sizes, no_env_data) -> None:
    zip_path = write_image_zip(tmp_path / "full.zip")
    smaller = tmp_path / "smaller.zip"
    with zipfile.ZipFile(zip_path) as src, zipfile.ZipFile(smaller, "w") as dst:
        for name in src.namelist()[1:]:
            dst.writestr(name, src.read(name))
    with pytest.raises(DatasetCorruptError, match=r"train images have shape \(39, 32, 32, 3\).*expected \(40"):
        load_cifar10(smaller)


def test_wrong_layout_is_a_clear_error(tmp_path: Path, small_sizes, no_env_data) -> None:
    zip_path = tmp_path / "flat.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("train/unicorn/0000.png", png_bytes(fake_split("train")[0][0]))
    with pytest.raises(DatasetCorruptError, match="unicorn"):
        load_cifar10(zip_path)


def test_balanced_subset_is_balanced_seeded_and_ordered() -> None:
    labels = np.repeat(np.arange(10), 30)
    images = np.arange(300)
    xs, ys = balanced_subset(images, labels, per_class=7, seed=3)
    assert np.bincount(ys).tolist() == [7] * 10
    assert np.all(np.diff(xs) > 0)
    np.testing.assert_array_equal(balanced_subset(images, labels, 7, seed=3)[0], xs)
    assert not np.array_equal(balanced_subset(images, labels, 7, seed=4)[0], xs)
    with pytest.raises(ValueError, match="per_class=31 exceeds"):
        balanced_subset(images, labels, per_class=31)
    with pytest.raises(ValueError, match="per_class must be >= 1"):
        balanced_subset(images, labels, per_class=0)


def test_balanced_indices_are_sorted_balanced_distinct_and_seeded() -> None:
    labels = np.repeat(np.arange(4), 25)[np.random.default_rng(0).permutation(100)]
    index = balanced_indices(labels, 6, seed=2)
    assert len(index) == 24 and len(set(index.tolist())) == 24 and (np.diff(index) > 0).all()
    assert np.bincount(labels[index]).tolist() == [6, 6, 6, 6]
    np.testing.assert_array_equal(balanced_indices(labels, 6, seed=2), index)
    assert not np.array_equal(balanced_indices(labels, 6, seed=3), index)
    held = balanced_indices(labels, 5, seed=1)  # what a validation split takes out...
    rest = np.setdiff1d(np.arange(100), held)
    assert np.bincount(labels[rest]).tolist() == [20] * 4 and not set(held) & set(rest)  # ...and leaves
    with pytest.raises(ValueError, match="per_class=26 exceeds the 25 images of class"):
        balanced_indices(labels, 26)


def test_the_shared_offline_copy(real_cifar10) -> None:
    data = real_cifar10
    assert data.source == "cifar10-jpeg.zip (JPEG q75 copy)"
    assert data.train_images.shape == (50_000, 32, 32, 3) and data.test_images.shape == (10_000, 32, 32, 3)
    assert np.bincount(data.train_labels).tolist() == [5000] * 10
    assert np.bincount(data.test_labels).tolist() == [1000] * 10
    pixels = data.train_images.reshape(-1, 3) / 255
    np.testing.assert_allclose(pixels.mean(axis=0), CIFAR10_MEAN, atol=0.005)
    np.testing.assert_allclose(pixels.std(axis=0), CIFAR10_STD, atol=0.005)


def test_the_widely_copied_std_is_not_the_datasets(real_cifar10) -> None:
    """(0.2023, 0.1994, 0.2010) averages per-image stds; normalising with it leaves std ~1.2, not 1."""
    pixels = real_cifar10.train_images.reshape(-1, 3) / 255
    copied = np.array([0.2023, 0.1994, 0.2010])
    per_image_std = (real_cifar10.train_images / 255).std(axis=(1, 2)).mean(axis=0)
    np.testing.assert_allclose(per_image_std, copied, atol=0.01)
    normalised_std = pixels.std(axis=0) / copied
    assert np.all((normalised_std > 1.15) & (normalised_std < 1.3)), normalised_std
