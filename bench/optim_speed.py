"""Optimizer step time: tricks_lab's AdaBound against the adabound package and torch.

Times ``optimizer.step()`` alone (gradients fixed, no forward/backward) on the
parameters of torchvision's ResNet-18 (10 classes, 11.2M parameters in 62
tensors), interleaving the optimizers in rounds so a busy machine slows them
alike, and prints the median time per step and its ratio to tricks_lab's
AdaBound. Default ``foreach`` everywhere: per parameter on CPU, one
``torch._foreach_*`` call per operation on CUDA (torch's choice and ours); the
two forced variants of ours show what the choice is worth. Usage::

    python bench/optim_speed.py [--device cpu|cuda] [--rounds 5] [--steps 5] [--json OUT]
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable

import adabound
import torch
import torchvision

from tricks_lab.cache import atomic_write_json
from tricks_lab.optim import AdaBound, AMSBound

from _timing import device_name, repeated, time_interleaved

OptimizerFactory = Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer]

OPTIMIZERS: dict[str, OptimizerFactory] = {
    "tricks_lab AdaBound": lambda params: AdaBound(params),
    "tricks_lab AdaBound, foreach=True": lambda params: AdaBound(params, foreach=True),
    "tricks_lab AdaBound, foreach=False": lambda params: AdaBound(params, foreach=False),
    "tricks_lab AdaBound, track_clipping": lambda params: AdaBound(params, track_clipping=True),
    "tricks_lab AMSBound": lambda params: AMSBound(params),
    "adabound 0.0.5 AdaBound": lambda params: adabound.AdaBound(params),
    "adabound 0.0.5 AMSBound": lambda params: adabound.AdaBound(params, amsbound=True),
    "torch Adam": lambda params: torch.optim.Adam(params),
    "torch SGD momentum": lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9),
}
BASELINE = "tricks_lab AdaBound"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved timing rounds")
    parser.add_argument("--steps", type=int, default=5, help="steps per optimizer per round")
    parser.add_argument("--json", help="write the results to this JSON file")
    return parser.parse_args()


def resnet18_parameters(device: torch.device) -> list[torch.nn.Parameter]:
    """A fresh copy of ResNet-18's parameters, each with a fixed random gradient."""
    generator = torch.Generator().manual_seed(0)
    params = [p.detach().to(device).requires_grad_() for p in torchvision.models.resnet18(num_classes=10).parameters()]
    for param in params:
        param.grad = torch.randn(param.shape, generator=generator).mul_(1e-2).to(device)
    return params


def measure(device: torch.device, rounds: int, steps: int) -> dict[str, float]:
    """Median seconds per step of every optimizer (mean of ``steps`` steps a round), after one warm-up round."""
    optimizers = {name: make(resnet18_parameters(device)) for name, make in OPTIMIZERS.items()}
    runs = [repeated(optimizer.step, steps) for optimizer in optimizers.values()]
    seconds = time_interleaved(runs, device, rounds, warmup=1)
    return {name: total / steps for name, total in zip(optimizers, seconds)}


def print_table(medians: dict[str, float]) -> None:
    baseline = medians[BASELINE]
    print(f"{'optimizer':40s} {'ms/step':>9s} {'vs ' + BASELINE:>24s}")
    for name, seconds in medians.items():
        print(f"{name:40s} {seconds * 1e3:9.2f} {seconds / baseline:23.2f}x")


def main() -> None:
    args = parse_args()
    device = torch.device(args.device)
    params = resnet18_parameters(torch.device("cpu"))
    with warnings.catch_warnings():
        # adabound 0.0.5 calls add_(Number, Tensor), deprecated in torch; only its steps run here.
        warnings.filterwarnings("ignore", message="This overload of", category=UserWarning)
        medians = measure(device, args.rounds, args.steps)
    print(
        f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
        f"ResNet-18: {sum(p.numel() for p in params) / 1e6:.1f}M parameters in {len(params)} tensors"
    )
    print_table(medians)
    if args.json:
        atomic_write_json(
            args.json,
            {
                "device": str(device),
                "device_name": device_name(device),
                "torch": torch.__version__,
                "cpu_threads": torch.get_num_threads(),
                "rounds": args.rounds,
                "steps_per_round": args.steps,
                "ms_per_step": {name: seconds * 1e3 for name, seconds in medians.items()},
                "ratio_to_baseline": {name: seconds / medians[BASELINE] for name, seconds in medians.items()},
                "baseline": BASELINE,
            },
        )


if __name__ == "__main__":
    main()
