"""Benchmark: time and test accuracy of the baseline recipe, and of airbench94 on the same data.

    python bench/train_speed.py                          # smoke baseline on this machine (CPU)
    python bench/train_speed.py --profile short --seeds 0-4 --airbench --json bench/train_speed.json

For each seed the baseline is trained from scratch (the experiments cache is
bypassed) and timed by ``fit`` (training only; evaluation excluded). With
``--tta`` the same recipe is also evaluated with flip test-time augmentation.
With ``--airbench`` (needs CUDA and ``pip install airbench``), the same data
copy is written as airbench's ``cifar10/train.pt``/``test.pt`` and
``airbench.train94()`` is timed on it, wall clock around the call (it includes
airbench's whitening initialisation), evaluated with its own TTA level 2. The
table reports means, standard deviations and the ratios ours / airbench.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from tricks_lab.cache import atomic_write_json
from tricks_lab.experiments import profile_data, run
from tricks_lab.profiles import resolve_profile
from tricks_lab.recipe import BASELINE


def parse_seeds(text: str) -> list[int]:
    low, _, high = text.partition("-")
    return list(range(int(low), int(high) + 1)) if high else [int(s) for s in text.split(",")]


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="auto", choices=("auto", "smoke", "short", "full"))
    parser.add_argument("--seeds", default="0-2", help="e.g. 0-4 or 0,1,2 (default 0-2)")
    parser.add_argument("--tta", action="store_true", help="also time the baseline with flip TTA")
    parser.add_argument("--airbench", action="store_true", help="also run airbench94 (CUDA only)")
    parser.add_argument("--json", help="write the measurements here (atomically)")
    args = parser.parse_args(argv)
    profile = resolve_profile(args.profile)
    seeds = parse_seeds(args.seeds)
    results = {"baseline": time_ours(profile.name, seeds, tta=False)}
    if args.tta:
        results["baseline + flip TTA"] = time_ours(profile.name, seeds, tta=True)
    if args.airbench:
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
    if args.json:
        atomic_write_json(args.json, {"profile": profile.name, "seeds": seeds, "torch": torch.__version__,
                                      "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
