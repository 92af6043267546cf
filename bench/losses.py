"""Benchmark: cost of the tricks_lab losses next to torch's own cross entropy.

Times forward + backward of each loss on random logits (batch 512, K = 10 and
100) in one run and prints the time per call and its ratio to plain
``F.cross_entropy``. The "explicit one-hot" row builds the smoothed target
matrix and sums ``-q log softmax(z)`` by hand, the way the seeds' code does.

    python bench/losses.py [--device cpu|cuda] [--batch 512] [--json OUT]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.utils.benchmark import Timer

from tricks_lab.cache import atomic_write_json
from tricks_lab.losses import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy, distillation_loss, smooth_targets

SMOOTHING = 0.1


def explicit_one_hot_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Smoothed targets materialised, then ``-sum_k q_k log softmax(z)_k`` by hand."""
    targets = smooth_targets(labels, logits.shape[1], SMOOTHING).to(logits.dtype)
    return -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def candidates(
    teacher: torch.Tensor, soft: torch.Tensor
) -> dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]:
    uniform = LabelSmoothingCrossEntropy(SMOOTHING)
    others = LabelSmoothingCrossEntropy(SMOOTHING, convention="others")
    soft_ce = SoftTargetCrossEntropy()
    return {
        "F.cross_entropy": F.cross_entropy,
        "F.cross_entropy(label_smoothing)": lambda z, y: F.cross_entropy(z, y, label_smoothing=SMOOTHING),
        "LabelSmoothingCE uniform": uniform,
        "LabelSmoothingCE others": others,
        "LabelSmoothingCE uniform, soft targets": lambda z, y: uniform(z, soft),
        "SoftTargetCE, soft targets": lambda z, y: soft_ce(z, soft),
        "explicit one-hot (seeds' way)": explicit_one_hot_loss,
        "distillation_loss": lambda z, y: distillation_loss(z, teacher, y, temperature=4.0, alpha=0.5),
    }


def time_loss(
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], logits: torch.Tensor, labels: torch.Tensor
) -> float:
    """Median seconds per forward + backward."""
    timer = Timer(
        stmt="loss_fn(logits, labels).backward()",
        globals={"loss_fn": loss_fn, "logits": logits, "labels": labels},
    )
    return timer.blocked_autorange(min_run_time=0.5).median


def run(device: torch.device, batch: int, num_classes: int) -> list[dict[str, object]]:
    g = torch.Generator(device=device).manual_seed(0)
    logits = torch.randn(batch, num_classes, generator=g, device=device).requires_grad_()
    teacher = torch.randn(batch, num_classes, generator=g, device=device)
    labels = torch.randint(0, num_classes, (batch,), generator=g, device=device)
    soft = torch.softmax(torch.randn(batch, num_classes, generator=g, device=device), dim=1)
    rows = []
    for name, loss_fn in candidates(teacher, soft).items():
        rows.append({"loss": name, "classes": num_classes, "seconds": time_loss(loss_fn, logits, labels)})
    baseline = rows[0]["seconds"]
    for row in rows:
        row["ratio"] = row["seconds"] / baseline
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--json", dest="json_path", default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    rows = [row for k in (10, 100) for row in run(device, args.batch, k)]
    print(f"forward + backward, batch {args.batch}, device {device}, torch {torch.__version__}")
    print(f"{'loss':42s} {'K':>4s} {'us/call':>9s} {'ratio':>6s}")
    for row in rows:
        print(f"{row['loss']:42s} {row['classes']:4d} {row['seconds'] * 1e6:9.1f} {row['ratio']:6.2f}")
    if args.json_path:
        payload = {"device": str(device), "batch": args.batch, "torch": torch.__version__, "rows": rows}
        atomic_write_json(args.json_path, payload)


if __name__ == "__main__":
    main()
