"""Throughput of batched AutoAugment against torchvision's per-image AutoAugment.

Measures images/s, side by side in one run, on ``--batch`` uint8 images of
``--size`` x ``--size`` (default 512 CIFAR-sized images), CIFAR-10 policy:

- ``tricks_lab.autoaugment.autoaugment`` on ``--device``: one call, every
  image its own sub-policy, coin flips and signs (the GPU-resident loader path);
- ``torchvision.transforms.v2.AutoAugment`` image by image in a ``DataLoader``
  (``--workers`` worker processes), the batch then moved to ``--device``: the
  usual per-sample path, and the baseline of the ratios;
- our per-image ``tricks_lab.autoaugment.AutoAugment`` through the same DataLoader;
- torchvision's AutoAugment called once on the whole batch on ``--device``: fast,
  but one sub-policy for every image (a different augmentation), for reference.

The paths take turns within each round and the median of ``--repeats`` rounds
is reported, so load changes on a shared machine hit them alike.

    python bench/autoaugment_speed.py [--device cpu|cuda] [--json OUT]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torchvision
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from tricks_lab.autoaugment import AutoAugment, autoaugment
from tricks_lab.cache import atomic_write_json

from _timing import device_name, time_interleaved

BASELINE = "torchvision AutoAugment per image (DataLoader)"


@dataclass(frozen=True)
class Result:
    """One measured path: median seconds per batch and images per second."""

    name: str
    seconds_per_batch: float
    images_per_second: float


class AugmentedImages(Dataset):
    """A uint8 image tensor as a dataset, each item passed through ``transform``."""

    def __init__(self, images: torch.Tensor, transform: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.images = images
        self.transform = transform

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.transform(self.images[index])


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--batch", type=int, default=512, help="images per batch")
    parser.add_argument("--size", type=int, default=32, help="image height and width")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (median reported)")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes of the per-image paths")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--json", help="write the results to this JSON file")
    return parser.parse_args()


def loader_pass(
    transform: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, workers: int
) -> Callable[[], torch.Tensor]:
    """One batch through a DataLoader applying ``transform`` per image, then to the device."""
    loader = DataLoader(
        AugmentedImages(images.cpu(), transform),
        batch_size=images.shape[0],
        num_workers=workers,
        persistent_workers=workers > 0,
    )
    return lambda: next(iter(loader)).to(images.device)


def paths(images: torch.Tensor, workers: int) -> list[tuple[str, Callable[[], torch.Tensor]]]:
    """(name, call) of every measured path."""
    generator = torch.Generator(device=images.device).manual_seed(0)
    torchvision_aa = v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10)
    return [
        ("tricks_lab autoaugment", lambda: autoaugment(images, "cifar10", generator=generator)),
        (BASELINE, loader_pass(torchvision_aa, images, workers)),
        ("tricks_lab AutoAugment per image (DataLoader)", loader_pass(AutoAugment("cifar10"), images, workers)),
        ("torchvision AutoAugment on the batch (one draw)", lambda: torchvision_aa(images)),
    ]


def measure(images: torch.Tensor, workers: int, repeats: int) -> list[Result]:
    named = paths(images, workers)
    seconds = time_interleaved([run for _, run in named], images.device, repeats, warmup=1)
    return [Result(name, t, images.shape[0] / t) for (name, _), t in zip(named, seconds)]


def ratio(result: Result, results: list[Result]) -> float:
    baseline = next(r for r in results if r.name == BASELINE)
    return result.images_per_second / baseline.images_per_second


def print_table(results: list[Result], header: str) -> None:
    print(header)
    print(f"{'path':48s} {'ms/batch':>10s} {'images/s':>11s} {'vs per-image':>13s}")
    for r in results:
        print(f"{r.name:48s} {1e3 * r.seconds_per_batch:10.2f} {r.images_per_second:11.0f} {ratio(r, results):12.1f}x")


def main() -> None:
    args = parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: CUDA is not available on this machine")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    images = torch.randint(
        0, 256, (args.batch, 3, args.size, args.size), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    ).to(device)
    results = measure(images, args.workers, args.repeats)
    header = (
        f"AutoAugment (CIFAR-10 policy), {args.batch} x 3 x {args.size} x {args.size} uint8 on "
        f"{device_name(device)}, DataLoader workers {args.workers}, median of {args.repeats}"
    )
    print_table(results, header)
    if args.json:
        atomic_write_json(
            args.json,
            {
                "benchmark": "autoaugment_speed",
                "device": device_name(device),
                "batch": args.batch,
                "size": args.size,
                "workers": args.workers,
                "repeats": args.repeats,
                "torch": torch.__version__,
                "torchvision": torchvision.__version__,
                "results": [asdict(r) | {"vs_per_image": ratio(r, results)} for r in results],
            },
        )


if __name__ == "__main__":
    main()
