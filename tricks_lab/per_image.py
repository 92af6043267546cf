"""The per-image path of the torchvision v2 transforms (:class:`~tricks_lab.occlusion.Cutout`,
:class:`~tricks_lab.occlusion.RandomErasing`, :class:`~tricks_lab.autoaugment.AutoAugment`).

A v2 ``Transform.forward`` flattens its input tree, checks it, draws the
parameters and transforms every leaf. For the common call on one image, that
bookkeeping costs more than the augmentation itself on a 32x32 CIFAR image;
:func:`transform_one` runs the same three steps on the single input directly,
which keeps our per-image classes at or above torchvision's own per-image speed
(``bench/occlusion_speed.py``, ``bench/autoaugment_speed.py``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["transform_one"]


def transform_one(transform: Any, inpt: Any) -> Any:
    """What ``torchvision.transforms.v2.Transform.forward`` does for a single image input
    (``check_inputs``, ``make_params``, ``transform``), without flattening the input tree."""
    flat = [inpt]
    transform.check_inputs(flat)
    return transform.transform(inpt, transform.make_params(flat))
