"""Benchmark: fit() against a plain PyTorch loop, and the baseline's seconds and accuracy under a profile.

    python bench/train_speed.py --steps 20                 # fit vs plain loop, the lab net (CPU)
    python bench/train_speed.py --profile lab --seeds 0-2   # also the lab baseline's seconds and accuracy
    python bench/train_speed.py --profile short --seeds 0-4 --airbench --json bench/train_speed.json

**Throughput** (always, unless ``--no-throughput``): images per second of
:func:`tricks_lab.train.fit` against a minimal plain-PyTorch training loop
(forward, cross entropy, backward, SGD step, per-step lr schedule) over the
same net (the profile's baseline model: ``--profile``, default ``lab``), the
same initial weights and the same pre-made batches (random images, made once,
so the data path is not measured), in four settings: eager float32 (NCHW),
channels_last, bf16 autocast (channels_last) and ``torch.compile``
(channels_last; on a machine without a working compiler it fails and is
reported). The two paths take turns, ``--repeats`` timed rounds of
``--steps`` steps each after an untimed warm-up round; the median is kept.
Target: fit at 0.9x the plain loop or better (its extra work per step is the
loss and accuracy bookkeeping, the NaN check and the callbacks).

**Baseline runs** (with ``--profile``): for each seed the baseline recipe is
trained from scratch (the experiments cache is bypassed) and timed by ``fit``
(training only; evaluation excluded). With ``--tta`` the same recipe is also
evaluated with flip test-time augmentation. With ``--airbench`` (needs CUDA
and ``pip install airbench``), the same data copy is written as airbench's
``cifar10/train.pt``/``test.pt`` and ``airbench.train94()`` is timed on it,
wall clock around the call (it includes airbench's whitening initialisation),
evaluated with its own TTA level 2. The table reports means, standard
deviations and the ratios ours / airbench.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from tricks_lab.build import make_model, scaled_batch_size
from tricks_lab.cache import atomic_write_json
from tricks_lab.experiments import profile_data, run
from tricks_lab.hardware import device_name
from tricks_lab.precision import autocast
from tricks_lab.profiles import PROFILES, resolve_profile
from tricks_lab.recipe import BASELINE
from tricks_lab.train import fit

from _timing import time_interleaved

MODES = {  # name: (channels_last, precision, compile)
    "eager fp32": (False, "fp32", False),
    "channels_last": (True, "fp32", False),
    "bf16 autocast": (True, "bf16", False),
    "torch.compile": (True, "fp32", True),
}


def parse_seeds(text: str) -> list[int]:
    low, _, high = text.partition("-")
    return list(range(int(low), int(high) + 1)) if high else [int(s) for s in text.split(",")]


# -- fit against a plain loop ------------------------------------------------------------------------


def make_batches(steps: int, batch_size: int, device: torch.device, channels_last: bool,
                 num_classes: int = 10) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``steps`` batches of random normalised-looking images and labels, made once."""
    g = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(steps):
        images = torch.randn(batch_size, 3, 32, 32, generator=g)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        batches.append((images.to(device), torch.randint(0, num_classes, (batch_size,), generator=g).to(device)))
    return batches


def _optimizer(model: nn.Module, steps: int) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    return optimizer, torch.optim.lr_scheduler.LinearLR(optimizer, 1.0, 0.1, total_iters=steps)


def plain_loop(model: nn.Module, batches: list, precision: str, channels_last: bool, compiled: bool) -> Callable[[], None]:
    """The loop a reader would write: forward, loss, backward, step, schedule step."""
    model = copy.deepcopy(model)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    forward = torch.compile(model) if compiled else model
    optimizer, scheduler = _optimizer(model, len(batches))
    device = batches[0][0].device

    def train() -> None:
        model.train()
        for images, labels in batches:
            with autocast(precision, device):
                loss = F.cross_entropy(forward(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()

    return train


def fit_loop(model: nn.Module, batches: list, precision: str, channels_last: bool, compiled: bool) -> Callable[[], None]:
    """The same training through fit(): one epoch over the same batches."""
    model = copy.deepcopy(model)
    optimizer, scheduler = _optimizer(model, len(batches))

    def train() -> None:
        fit(model, batches, epochs=1, optimizer=optimizer, scheduler=scheduler, loss_fn=nn.CrossEntropyLoss(),
            precision=precision, channels_last=channels_last, compile_model=compiled, progress=False)

    return train


def throughput(profile_name: str, steps: int, repeats: int, modes: list[str]) -> list[dict[str, object]]:
    profile = PROFILES[profile_name]
    device = torch.device("cuda" if profile.device == "cuda" and torch.cuda.is_available() else "cpu")
    batch_size = scaled_batch_size(BASELINE, profile)
    torch.manual_seed(0)
    model = make_model(BASELINE, profile).to(device)
    print(f"fit() vs a plain loop: {BASELINE.model} at width {profile.width:g} (profile {profile.name}), "
          f"batch {batch_size}, {steps} steps x {repeats} rounds, {device_name(device)}, torch {torch.__version__}")
    rows = []
    for mode in modes:
        channels_last, precision, compiled = MODES[mode]
        batches = make_batches(steps, batch_size, device, channels_last)
        row: dict[str, object] = {"mode": mode}
        try:
            plain, ours = time_interleaved([plain_loop(model, batches, precision, channels_last, compiled),
                                            fit_loop(model, batches, precision, channels_last, compiled)],
                                           device, repeats, warmup=1)
        except Exception as err:  # torch.compile without a working C++ toolchain, bf16 without support...
            row["error"] = f"{type(err).__name__}: {str(err).splitlines()[0][:100] if str(err) else ''}"
        else:
            images = steps * batch_size
            row.update(plain=images / plain, fit=images / ours, ratio=plain / ours)
        rows.append(row)
        print_row(row, first=len(rows) == 1)
    base = next((r for r in rows if r["mode"] == "eager fp32" and "fit" in r), None)
    if base is not None:
        for row in rows:
            if "fit" in row:
                row["fit_vs_eager"] = row["fit"] / base["fit"]
        print("fit's images/s against eager fp32: " + ", ".join(
            f"{r['mode']} {r['fit_vs_eager']:.2f}x" for r in rows if "fit_vs_eager" in r))
    return rows


def print_row(row: dict[str, object], first: bool) -> None:
    if first:
        print(f"{'mode':<16}{'plain img/s':>14}{'fit img/s':>12}{'fit/plain':>11}")
    if "error" in row:
        print(f"{row['mode']:<16}  failed: {row['error']}")
    else:
        flag = "" if row["ratio"] >= 0.9 else "  (below the 0.9 target)"
        print(f"{row['mode']:<16}{row['plain']:>14.1f}{row['fit']:>12.1f}{row['ratio']:>10.2f}x{flag}")
    sys.stdout.flush()


# -- the baseline's seconds and accuracy under a profile -------------------------------------------


def time_ours(profile_name: str, seeds: list[int], tta: bool) -> dict[str, list[float]]:
    recipe = BASELINE.replace(tta=tta)
    runs = [run(recipe, profile_name, seed, cache=False, keep_model=False, progress=False) for seed in seeds]
    return {"seconds": [r.train_seconds for r in runs], "accuracy": [r.test_acc for r in runs],
            "device": runs[0].device, "precision": runs[0].precision}


def time_airbench(profile_name: str, seeds: list[int]) -> dict[str, list[float]]:
    import airbench  # noqa: PLC0415 (optional dependency)

    data = profile_data(resolve_profile(profile_name))
    folder = Path(tempfile.mkdtemp(prefix="airbench-"))
    (folder / "cifar10").mkdir()
    for split, images, labels in (("train", data.train_images, data.train_labels),
                                  ("test", data.test_images, data.test_labels)):
        torch.save({"images": torch.as_tensor(images), "labels": torch.as_tensor(labels),
                    "classes": list(data.classes)}, folder / "cifar10" / f"{split}.pt")
    previous = os.getcwd()
    os.chdir(folder)
    try:
        loader_kwargs = {"batch_size": 1024, "aug": {"flip": True, "translate": 2}, "altflip": True}
        test_loader = airbench.CifarLoader("cifar10", train=False, batch_size=2000)
        seconds, accuracy = [], []
        for seed in seeds:
            torch.manual_seed(seed)
            train_loader = airbench.CifarLoader("cifar10", train=True, **loader_kwargs)
            torch.cuda.synchronize()
            started = time.perf_counter()
            model = airbench.train94(train_loader=train_loader, verbose=False)
            torch.cuda.synchronize()
            seconds.append(time.perf_counter() - started)
            accuracy.append(airbench.evaluate(model, test_loader, tta_level=2))
    finally:
        os.chdir(previous)
    return {"seconds": seconds, "accuracy": accuracy}


def describe(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else float("nan")
    return f"{statistics.fmean(values):.4g} ± {spread:.2g}"


def baseline_runs(profile_name: str, seeds: list[int], tta: bool, with_airbench: bool) -> dict[str, dict]:
    profile = resolve_profile(profile_name)
    results = {"baseline": time_ours(profile.name, seeds, tta=False)}
    if tta:
        results["baseline + flip TTA"] = time_ours(profile.name, seeds, tta=True)
    if with_airbench:
        if profile.device != "cuda":
            print("airbench needs a CUDA GPU; skipped", file=sys.stderr)
        else:
            results["airbench94"] = time_airbench(profile.name, seeds)
    print(f"profile {profile.name}, seeds {seeds}, torch {torch.__version__}, "
          f"device {results['baseline']['device']} ({results['baseline']['precision']})")
    print(f"{'method':<22}{'train seconds':>20}{'test accuracy':>22}")
    for name, result in results.items():
        print(f"{name:<22}{describe(result['seconds']):>20}{describe(result['accuracy']):>22}")
    if "airbench94" in results:
        ours, theirs = results["baseline"], results["airbench94"]
        ratio = statistics.fmean(ours["seconds"]) / statistics.fmean(theirs["seconds"])
        print(f"time ratio baseline / airbench94: {ratio:.2f}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", choices=tuple(PROFILES),
                        help="the net and batch of the throughput table (default lab), and: train the "
                             "baseline under this profile for --seeds and report its seconds and accuracy")
    parser.add_argument("--seeds", default="0-2", help="seeds of the baseline runs, e.g. 0-4 or 0,1,2 (default 0-2)")
    parser.add_argument("--steps", type=int, default=20, help="training steps per timed round (default 20)")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per path (default 3)")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, among: {', '.join(MODES)}")
    parser.add_argument("--no-throughput", action="store_true", help="skip the fit-vs-plain-loop table")
    parser.add_argument("--tta", action="store_true", help="also time the baseline with flip TTA")
    parser.add_argument("--airbench", action="store_true", help="also run airbench94 (CUDA only)")
    parser.add_argument("--json", help="write the measurements here (atomically)")
    args = parser.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = sorted(set(modes) - set(MODES))
    if unknown or args.steps < 1 or args.repeats < 1:
        parser.error(f"unknown modes {unknown}" if unknown else "--steps and --repeats must be >= 1")
    out: dict[str, object] = {"torch": torch.__version__}
    if not args.no_throughput:
        out["throughput"] = throughput(args.profile or "lab", args.steps, args.repeats, modes)
    if args.profile:
        seeds = parse_seeds(args.seeds)
        out.update(profile=args.profile, seeds=seeds,
                   results=baseline_runs(args.profile, seeds, args.tta, args.airbench))
    if args.json:
        atomic_write_json(args.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
