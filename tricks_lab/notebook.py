"""What the first cell of every chapter calls: report the machine, the profile and the data.

On Colab the chapter's first cell clones the repository and installs
``tricks_lab`` before importing this module (see any chapter); everywhere,
:func:`setup` then picks the device and prints one line a reader can quote::

    device:  cpu (2 threads)
    profile: smoke (CPU: 2,500 train / 1,000 test images, fast net at 1/8 width, half the epochs)
    data:    cifar10-jpeg.zip (JPEG q75 copy)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import torch

from .experiments import profile_data
from .profiles import Profile, resolve_profile


@dataclass(frozen=True)
class Environment:
    """Where a notebook runs."""

    device: torch.device
    profile: Profile
    data_source: str
    on_colab: bool

    def __str__(self) -> str:
        device = (torch.cuda.get_device_name(self.device) if self.device.type == "cuda"
                  else f"cpu ({torch.get_num_threads()} threads)")
        return (f"device:  {device}\nprofile: {self.profile.name} ({self.profile.description})\n"
                f"data:    {self.data_source}")


def setup(profile: str = "auto") -> Environment:
    """Resolve the profile, load the data once, set plot defaults, print and return the environment."""
    resolved = resolve_profile(profile)
    env = Environment(
        device=torch.device(resolved.device),
        profile=resolved,
        data_source=profile_data(resolved).source,
        on_colab="google.colab" in sys.modules,
    )
    _plot_defaults()
    print(env)
    return env


def _plot_defaults() -> None:
    import matplotlib as mpl

    mpl.rcParams.update({
        "figure.dpi": 110, "savefig.dpi": 110, "axes.grid": True, "grid.alpha": 0.3,
        "axes.spines.top": False, "axes.spines.right": False, "figure.autolayout": True,
    })
