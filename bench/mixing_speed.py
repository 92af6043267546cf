"""Throughput of tricks_lab.mixing against torchvision.transforms.v2.MixUp / CutMix.

Every op mixes the same float32 batch (default 512 x 3 x 32 x 32, CIFAR-sized)
with int64 labels and returns soft targets. Ours draw from a torch.Generator on
the batch's device; torchvision draws its lambda and box on the CPU. Reported:
milliseconds per batch (best of several rounds), images/s, the ratio of our
throughput to torchvision's counterpart (> 1: ours is faster), and the cost of
the op as a share of one training step (forward, backward, SGD step) of
tricks_lab.models.fastnet on the same batch (bf16 autocast on CUDA, as the
trainer does; float32 on CPU).

On CPU with glibc, an op that holds two batch-sized temporaries at once may
pay fresh page faults on every call (malloc trims the heap after each), which
can make it several times slower from one run to the next. To compare compute
only, run with MALLOC_MMAP_THRESHOLD_=268435456 MALLOC_TRIM_THRESHOLD_=268435456
in the environment; --threads 1 steadies timings on a shared machine.

    python bench/mixing_speed.py [--device cpu|cuda] [--json OUT] [--threads N] [--no-step]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision
from torchvision.transforms import v2

from tricks_lab import mixing
from tricks_lab.cache import atomic_write_json
from tricks_lab.models import fastnet

from _timing import device_name, repeated, time_interleaved

NUM_CLASSES = 10
ALPHA = 1.0
RICAP_BETA = 0.3

Batch = tuple[torch.Tensor, torch.Tensor]
Op = Callable[[torch.Tensor, torch.Tensor], Batch]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--reps", type=int, default=None, help="calls per round (default: 20 cpu, 200 cuda)")
    parser.add_argument("--rounds", type=int, default=9, help="timed rounds; the best round is reported")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--no-step", action="store_true", help="skip timing the fastnet training step")
    parser.add_argument("--json", type=Path, default=None, help="write the results to this JSON file")
    return parser.parse_args()


def best_seconds_per_call(
    calls: dict[str, Callable[[], object]], device: torch.device, reps: int, rounds: int
) -> dict[str, float]:
    """Seconds per call of each function: the best over ``rounds`` of the mean of ``reps``
    calls (as ``timeit`` advises: the slower rounds measure other load, not the op),
    after one warm-up round. Rounds visit every function in turn (see ``time_interleaved``)."""
    runs = [repeated(fn, reps) for fn in calls.values()]
    seconds = time_interleaved(runs, device, rounds, warmup=1, statistic=min)
    return {name: total / reps for name, total in zip(calls, seconds)}


def make_ops(device: torch.device) -> dict[str, tuple[Op, str | None]]:
    """name -> (op, name of the torchvision op it is compared with)."""
    generator = torch.Generator(device=device).manual_seed(0)
    tv_mixup = v2.MixUp(alpha=ALPHA, num_classes=NUM_CLASSES)
    tv_cutmix = v2.CutMix(alpha=ALPHA, num_classes=NUM_CLASSES)
    return {
        "torchvision MixUp": (lambda x, y: tv_mixup(x, y), None),
        "torchvision CutMix": (lambda x, y: tv_cutmix(x, y), None),
        "mixup batch": (
            lambda x, y: mixing.mixup(x, y, ALPHA, num_classes=NUM_CLASSES, generator=generator), "torchvision MixUp"),
        "mixup elem": (
            lambda x, y: mixing.mixup(x, y, ALPHA, num_classes=NUM_CLASSES, mode="elem", generator=generator), "torchvision MixUp"),
        "cutmix batch": (
            lambda x, y: mixing.cutmix(x, y, ALPHA, num_classes=NUM_CLASSES, generator=generator), "torchvision CutMix"),
        "cutmix elem": (
            lambda x, y: mixing.cutmix(x, y, ALPHA, num_classes=NUM_CLASSES, mode="elem", generator=generator), "torchvision CutMix"),
        "ricap": (lambda x, y: mixing.ricap(x, y, RICAP_BETA, num_classes=NUM_CLASSES, generator=generator), "torchvision CutMix"),
    }


def time_train_step(images: torch.Tensor, targets: torch.Tensor, device: torch.device, reps: int) -> float:
    """Seconds per fastnet training step (forward, soft-target CE, backward, SGD step)."""
    model = fastnet(NUM_CLASSES).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")

    def step() -> None:
        with autocast:
            logits = model(images)
        loss = -(targets * logits.float().log_softmax(1)).sum(1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return best_seconds_per_call({"step": step}, device, reps, rounds=1)["step"]


def measure(args: argparse.Namespace) -> dict[str, object]:
    device = torch.device(args.device)
    reps = args.reps or (200 if device.type == "cuda" else 20)
    generator = torch.Generator(device=device).manual_seed(1)
    images = torch.randn(args.batch_size, 3, 32, 32, device=device, generator=generator)
    labels = torch.randint(0, NUM_CLASSES, (args.batch_size,), device=device, generator=generator)
    ops = make_ops(device)
    calls = {name: (lambda op=op: op(images, labels)) for name, (op, _) in ops.items()}
    seconds = best_seconds_per_call(calls, device, reps, args.rounds)
    step = None
    if not args.no_step:
        _, soft = mixing.mixup(images, labels, ALPHA, num_classes=NUM_CLASSES)
        step = time_train_step(images, soft, device, reps=1 if device.type == "cpu" else 20)
    rows = []
    for name, (_, baseline) in ops.items():
        rows.append({
            "op": name,
            "ms_per_batch": 1e3 * seconds[name],
            "images_per_s": args.batch_size / seconds[name],
            "vs": baseline,
            "speedup_vs_torchvision": seconds[baseline] / seconds[name] if baseline else None,
            "share_of_train_step": seconds[name] / step if step else None,
        })
    return {
        "benchmark": "mixing_speed",
        "device": device_name(device),
        "cpu_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "batch": [args.batch_size, 3, 32, 32],
        "reps": reps,
        "rounds": args.rounds,
        "train_step_ms": 1e3 * step if step else None,
        "results": rows,
    }


def print_table(record: dict[str, object]) -> None:
    print(f"device: {record['device']}  torch {record['torch']}  torchvision {record['torchvision']}  "
          f"batch {record['batch']}  {record['rounds']} rounds x {record['reps']} calls")
    if record["train_step_ms"]:
        print(f"fastnet training step: {record['train_step_ms']:.1f} ms")
    print(f"{'op':<20}{'ms/batch':>10}{'images/s':>12}{'ours/tv':>9}  {'(vs)':<20}{'% of step':>10}")
    for row in record["results"]:
        speedup = f"{row['speedup_vs_torchvision']:.2f}" if row["speedup_vs_torchvision"] else "-"
        share = f"{100 * row['share_of_train_step']:.2f}" if row["share_of_train_step"] else "-"
        print(f"{row['op']:<20}{row['ms_per_batch']:>10.3f}{row['images_per_s']:>12,.0f}{speedup:>9}  "
              f"{row['vs'] or '':<20}{share:>10}")


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    record = measure(args)
    print_table(record)
    if args.json:
        atomic_write_json(args.json, record)


if __name__ == "__main__":
    main()
