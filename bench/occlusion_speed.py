"""Throughput of batched Cutout / Random Erasing against torchvision's RandomErasing.

Measures images/s, side by side in one run, on one batch of ``--batch`` images
of ``--size`` x ``--size`` (default 512 CIFAR-sized images), every image erased
(p = 1, the cost per erased image):

- ``tricks_lab.occlusion.random_erasing`` and ``cutout``: one call
  on the whole batch, every image its own box;
- ``torchvision.transforms.v2.RandomErasing`` image by image, then stacked
  (what a DataLoader does with a per-sample transform);
- torchvision's RandomErasing called once on the whole batch (fast, but one
  box and one coin for all images: a different augmentation);
- our per-sample ``RandomErasing`` transform image by image (constant and random
  fill): the drop-in a DataLoader user would swap in.

Ratios are against the torchvision per-image path with the same fill. On a
shared or oversubscribed CPU pass ``--threads 1``: with more OpenMP threads
than free cores the vectorised ops stall and the timings mean nothing.

    python bench/occlusion_speed.py [--device cpu|cuda] [--json OUT]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torchvision
from torchvision.transforms import v2

from tricks_lab.cache import atomic_write_json
from tricks_lab.occlusion import RandomErasing, cutout, random_erasing

from _timing import device_name, time_interleaved

BASELINE = "torchvision per image"


@dataclass(frozen=True)
class Result:
    """One measured path: median seconds per batch and images per second."""

    name: str
    fill: str
    seconds_per_batch: float
    images_per_second: float


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--batch", type=int, default=512, help="images per batch")
    parser.add_argument("--size", type=int, default=32, help="image height and width")
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds (median reported)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--json", help="write the results to this JSON file")
    return parser.parse_args()


def per_image(transform: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor) -> torch.Tensor:
    """Apply a per-sample transform image by image and collate, as a DataLoader does."""
    return torch.stack([transform(image) for image in images])


def paths(images: torch.Tensor) -> list[tuple[str, str, Callable[[], torch.Tensor]]]:
    """(name, fill, call) of every measured path."""
    generator = torch.Generator(device=images.device).manual_seed(0)
    tv_zero = v2.RandomErasing(p=1.0, scale=(0.02, 0.4), ratio=(0.3, 1 / 0.3), value=0.0)
    tv_random = v2.RandomErasing(p=1.0, scale=(0.02, 0.4), ratio=(0.3, 1 / 0.3), value="random")
    ours_zero = RandomErasing(p=1.0, value=0.0)
    ours_random = RandomErasing(p=1.0, value="random")

    def erase(value: float | str) -> torch.Tensor:
        return random_erasing(images, p=1.0, value=value, generator=generator)

    return [
        ("random_erasing", "0", lambda: erase(0.0)),
        ("random_erasing", "random", lambda: erase("random")),
        ("cutout (length 16)", "0", lambda: cutout(images, 16, generator=generator)),
        (BASELINE, "0", lambda: per_image(tv_zero, images)),
        (BASELINE, "random", lambda: per_image(tv_random, images)),
        ("torchvision whole batch (one box)", "0", lambda: tv_zero(images)),
        ("tricks_lab RandomErasing per image", "0", lambda: per_image(ours_zero, images)),
        ("tricks_lab RandomErasing per image", "random", lambda: per_image(ours_random, images)),
    ]


def measure(images: torch.Tensor, repeats: int) -> list[Result]:
    named = paths(images)
    seconds = time_interleaved([run for _, _, run in named], images.device, repeats)
    return [
        Result(name, fill, t, images.shape[0] / t) for (name, fill, _), t in zip(named, seconds)
    ]


def speedup(result: Result, results: list[Result]) -> float:
    """images/s of ``result`` over the torchvision per-image path with the same fill (0 for cutout)."""
    baseline = next(r for r in results if r.name == BASELINE and r.fill == result.fill)
    return result.images_per_second / baseline.images_per_second


def print_table(results: list[Result], header: str) -> None:
    print(header)
    print(f"{'path':36s} {'fill':>6s} {'ms/batch':>9s} {'images/s':>11s} {'vs per-image':>13s}")
    for r in results:
        print(
            f"{r.name:36s} {r.fill:>6s} {1e3 * r.seconds_per_batch:9.3f} "
            f"{r.images_per_second:11.0f} {speedup(r, results):12.1f}x"
        )


def main() -> None:
    args = parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda asked but torch.cuda.is_available() is False")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    images = torch.randn(args.batch, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))
    images = images.to(device)
    results = measure(images, args.repeats)
    header = (
        f"occlusion throughput: {args.batch} images of 3x{args.size}x{args.size} float32, p=1, "
        f"{device_name(device)}, torch {torch.__version__}, torchvision {torchvision.__version__}"
    )
    print_table(results, header)
    if args.json:
        record = {
            "device": device_name(device),
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "batch": args.batch,
            "size": args.size,
            "repeats": args.repeats,
            "results": [asdict(r) | {"speedup_vs_per_image": speedup(r, results)} for r in results],
        }
        atomic_write_json(args.json, record)


if __name__ == "__main__":
    main()
